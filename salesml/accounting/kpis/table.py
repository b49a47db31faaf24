"""The KPI table: one tidy frame with the headline figure of every KPI of the other modules
for a period, a missing KPI's message as its note."""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb
import pandas as pd

from salesml.accounting.kpis.common import TOTAL, KpiUnavailable, quarter_of
from salesml.accounting.kpis.customers import cac_by_channel, cohort_retention, new_vs_repeat
from salesml.accounting.kpis.pipeline import funnel, pipeline_coverage, sales_cycle, win_rate
from salesml.accounting.kpis.sales import abc_summary, discount_leakage, growth, pareto, return_rate
from salesml.accounting.kpis.tickets import service
from salesml.config import PerformanceSettings
from salesml.periods import parse_period
from salesml.scope import Scope, check_scope, parse_scope

# --------------------------------------------------------------------------- KPI table


def kpi_table(
    con: duckdb.DuckDBPyConnection,
    period: str,
    scope: str | Scope | None = None,
    settings: PerformanceSettings | None = None,
    *,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """One tidy frame ``kpi, value, unit, note``: the headline of every KPI for the period.

    A KPI that does not apply or whose data is missing has an empty value and its
    :class:`KpiUnavailable` message as the note. Ratios are shown as percentages (unit ``%``).
    Customer counts leave out anonymous sales (no customer, or one of the ids in
    ``anonymous``); revenue keeps them, and the customer notes say their share.
    """
    period = parse_period(period)
    s = parse_scope(scope)
    check_scope(con, s)
    rows: list[dict] = []

    def add(kpi: str, value, unit: str, note: str | None = None) -> None:
        v = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        rows.append({"kpi": kpi, "value": v, "unit": unit, "note": note})

    def skip(kpis: Sequence[tuple[str, str]], e: KpiUnavailable) -> None:
        for k, u in kpis:
            add(k, None, u, str(e))

    def total(df: pd.DataFrame) -> pd.Series:
        mask = (df.astype(object) == TOTAL).any(axis=1)
        return df[mask].iloc[-1] if mask.any() else df.iloc[-1]

    try:
        g = growth(con, period, s).iloc[0]
        add("revenue", g["revenue"], "money")
        add("growth vs previous month", g["growth_mom_pct"], "%")
        add("growth vs same month last year", g["growth_yoy_pct"], "%")
        add("revenue year to date", g["ytd_revenue"], "money", f"{g['ytd_months']} months")
        add("year-to-date growth", g["growth_ytd_pct"], "%", g["note"])
    except KpiUnavailable as e:
        skip([("revenue", "money"), ("growth vs previous month", "%"), ("growth vs same month last year", "%"),
              ("revenue year to date", "money"), ("year-to-date growth", "%")], e)
    guests = ""
    try:
        nv = new_vs_repeat(con, period, s, settings, anonymous=anonymous).set_index("customer_type")
        if "anonymous" in nv.index:
            share = nv.loc["anonymous", "revenue_share_pct"]
            guests = "; anonymous (walk-in / guest) sales" + (f" {share:.1f}% of revenue," if pd.notna(share) else "") + " in no customer count"
        add("new customers", nv.loc["new", "customers"], "customers", "identified customers" + guests if guests else None)
        add("revenue from new customers", nv.loc["new", "revenue_share_pct"], "%",
            f"{nv.loc['repeat', 'customers']} repeat customers{guests}")
    except KpiUnavailable as e:
        skip([("new customers", "customers"), ("revenue from new customers", "%")], e)
    try:
        ret = cohort_retention(con, period, 13, s, settings=settings, anonymous=anonymous)
        m1 = ret[ret["months_since"] == 1]
        add("retention after 1 month", m1["active_customers"].sum() / m1["cohort_size"].sum() * 100 if m1["cohort_size"].sum() else None,
            "%", "customers acquired in the 12 months before, who bought again the month after"
            + ("; anonymous sales are in no cohort" if guests else ""))
    except KpiUnavailable as e:
        skip([("retention after 1 month", "%")], e)
    try:
        cac = cac_by_channel(con, period, s, settings, anonymous=anonymous)
        add("customer acquisition cost", cac.loc[cac["channel"] == "(all channels)", "cac"].iloc[0], "money",
            "blended: all marketing spend / all new customers" + ("; anonymous sales acquire no customer" if guests else ""))
    except KpiUnavailable as e:
        skip([("customer acquisition cost", "money")], e)
    try:
        wr = total(win_rate(con, period, s, by="rep", settings=settings))
        add("win rate", wr["win_rate"] * 100 if wr["closed"] else None, "%", f"{wr['won']} won of {wr['closed']} closed")
    except KpiUnavailable as e:
        skip([("win rate", "%")], e)
    try:
        sc = sales_cycle(con, period, s, settings=settings).iloc[0]
        add("sales cycle (median)", sc["median_days"], "days", f"{sc['won']} won opportunities")
    except KpiUnavailable as e:
        skip([("sales cycle (median)", "days")], e)
    try:
        fn = funnel(con, period, s, settings=settings)
        add("opportunities created", fn["reached"].iloc[0], "opportunities", f"amount {fn['reached_amount'].iloc[0]:,.2f}")
    except KpiUnavailable as e:
        skip([("opportunities created", "opportunities")], e)
    try:
        pc = total(pipeline_coverage(con, period, s, by="rep", settings=settings))
        for label, sfx, span in (("month", "", period), ("quarter", "_quarter", str(quarter_of(period)))):
            if pc[f"days_left{sfx}"] == 0:
                note = f"as of {pc['as_of']}: nothing of {span} is left"
            else:
                note = f"as of {pc['as_of']}: pipeline {pc[f'pipeline{sfx}']:,.2f} / remaining target {pc[f'remaining{sfx}']:,.2f}"
            add(f"pipeline coverage (rest of {label})", pc[f"coverage{sfx}"], "x", note)
    except KpiUnavailable as e:
        skip([("pipeline coverage (rest of month)", "x"), ("pipeline coverage (rest of quarter)", "x")], e)
    try:
        pa_ = pareto(con, period, s, settings=settings)
        sm = abc_summary(pa_).set_index("abc")
        add("A-class products", sm.loc["A", "items"], "products",
            f"{sm.loc['A', 'items_pct']:.0f}% of {len(pa_)} products make {sm.loc['A', 'revenue_share_pct']:.0f}% of revenue"
            if len(pa_) else None)
    except KpiUnavailable as e:
        skip([("A-class products", "products")], e)
    try:
        dl = total(discount_leakage(con, period, s, by="category", settings=settings))
        add("discount leakage", dl["leakage"], "money", f"{dl['leakage_share_pct']:.1f}% of list value")
    except KpiUnavailable as e:
        skip([("discount leakage", "money")], e)
    try:
        rr = total(return_rate(con, period, s, by="category", settings=settings))
        add("return rate", rr["return_rate"] * 100 if rr["gross_sales"] > 0 else None, "%", "returns / gross sales")
    except KpiUnavailable as e:
        skip([("return rate", "%")], e)
    try:
        sv = total(service(con, period, s, by="rep", settings=settings))
        add("average satisfaction", sv["avg_satisfaction"], "score 1-5", f"{sv['rated']} rated of {sv['tickets']} tickets")
        add("low satisfaction scores", sv["low_score_rate"] * 100 if sv["rated"] else None, "%", "scores of 1 or 2")
    except KpiUnavailable as e:
        skip([("average satisfaction", "score 1-5"), ("low satisfaction scores", "%")], e)
    df = pd.DataFrame(rows, columns=["kpi", "value", "unit", "note"])
    df.insert(0, "period", period)
    df.insert(1, "scope", str(s))
    return df
