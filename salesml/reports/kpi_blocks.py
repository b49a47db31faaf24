"""KPI sections of the sales performance report (adjustments, customers, pipeline, products, service).

:func:`load` reads every KPI for a period and scope through one connection (each one that
cannot be computed keeps its message instead); the ``*_block`` functions lay them out.
Data from names is escaped by :mod:`salesml.reports.html`; charts hold only scoped data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import plotly.graph_objects as go

from salesml.accounting import closing, ledger
from salesml.accounting import kpis as K
from salesml.config import PerformanceSettings
from salesml.periods import shift_period
from salesml.reports import html as H
from salesml.scope import Scope


@dataclass
class KpiData:
    """KPI frames by name; ``missing`` holds the message of each one that could not be made."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    period_status: str = "open"

    def get(self, name: str) -> pd.DataFrame | None:
        return self.frames.get(name)


def load(con: duckdb.DuckDBPyConnection, period: str, scope: Scope, settings: PerformanceSettings, cohort_months: int = 12, anonymous: Sequence[str] = ()) -> KpiData:
    # anonymous: the customer ids of walk-in / guest sales, counted in revenue and in no customer figure
    data = KpiData()
    window = f"{shift_period(period, -11)}..{period}"
    jobs: dict[str, Callable[[], pd.DataFrame]] = {
        "kpi_table": lambda: K.kpi_table(con, period, scope, settings, anonymous=anonymous),
        "adjustments": lambda: ledger.adjustments(con, period, scope, settings),
        "new_vs_repeat": lambda: K.new_vs_repeat(con, period, scope, settings, anonymous=anonymous),
        "cohorts": lambda: K.cohort_retention(con, period, cohort_months, scope, wide=True, settings=settings, anonymous=anonymous),
        "funnel": lambda: K.funnel(con, window, scope, settings=settings),
        "win_rate": lambda: K.win_rate(con, window, scope, by="rep" if scope.level in ("team", "rep") else "team", settings=settings),
        "sales_cycle": lambda: K.sales_cycle(con, window, scope, settings=settings),
        "coverage": lambda: K.pipeline_coverage(con, period, scope, by="rep" if scope.level in ("team", "rep") else "team", settings=settings),
        "pareto": lambda: K.pareto(con, period, scope, settings=settings),
        "leakage": lambda: K.discount_leakage(con, period, scope, by="category", settings=settings),
        "returns": lambda: K.return_rate(con, period, scope, by="category", settings=settings),
        "service_rep": lambda: K.service(con, period, scope, by="rep", settings=settings),
        "service_category": lambda: K.service(con, period, scope, by="category", settings=settings),
    }
    if scope.level == "company":
        jobs["cac"] = lambda: K.cac_by_channel(con, window, scope, settings=settings, anonymous=anonymous)
    for name, job in jobs.items():
        try:
            data.frames[name] = job()
        except K.KpiUnavailable as e:
            data.missing[name] = str(e)
    data.period_status = "closed" if period in closing.closed_periods(con) else "open"
    return data


def _unavailable(data: KpiData, *names: str) -> H.Block | None:
    notes = [data.missing[n] for n in names if n in data.missing]
    return H.note("; ".join(dict.fromkeys(notes))) if notes and all(n in data.missing for n in names) else None


def _fmt_value(value, unit: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    if unit == "money":
        return H.fmt_exact_money(value)
    if unit == "%":
        return H.fmt_pct(value)
    if unit == "x":
        return f"{float(value):.2f}×"
    return f"{float(value):,.1f}" if float(value) != int(float(value)) else f"{int(float(value)):,}"


def kpi_block(data: KpiData) -> H.Block:
    t = data.get("kpi_table")
    if t is None:
        return H.heading("Key figures", 2) + H.note(data.missing.get("kpi_table", "no figures"))
    shown = t.assign(shown=[_fmt_value(v, u) for v, u in zip(t["value"], t["unit"], strict=True)])
    figures = {str(k): (None if pd.isna(v) else float(v)) for k, v in zip(t["kpi"], t["value"], strict=True)}
    return (
        H.heading("Key figures", 2, "Every KPI of the period in this scope; a KPI without its data says why.")
        + H.table(shown[["kpi", "shown", "note"]], labels={"shown": "value"})
        + H.figures({f"kpi:{k}": v for k, v in figures.items()})
    )


def adjustments_block(data: KpiData, money: Callable, margin_known: bool = True) -> H.Block:
    """The adjustments posted in the period; without costs (``margin_known`` false) their
    margin, which the ledger holds as 0, is left out rather than shown as a zero."""
    a = data.get("adjustments")
    head = H.heading(
        "Adjustments to earlier periods",
        2,
        "Returns, corrections and changes of credit for months already closed, posted in this month "
        "and charged to the original rep (closed months never change).",
    )
    if a is None or a.empty:
        return head + H.note("No adjustments were posted in this period.")
    by = a.groupby(["origin_period", "kind"], dropna=False).agg(entries=("amount", "size"), amount=("amount", "sum"), margin=("margin", "sum")).reset_index()
    detail = a.head(50)[["origin_period", "kind", "rep_id", "team", "order_id", "line_no", "event_date", "amount", "margin", "reason"]]
    margin_text = f"{money(a['margin'].sum())} margin" if margin_known else "margin not shown (no cost loaded)"
    if not margin_known:
        by, detail = by.drop(columns=["margin"]), detail.drop(columns=["margin"])
    return (
        head
        + H.note(f"Of which adjustments to earlier periods: {money(a['amount'].sum())} revenue, {margin_text}, {len(a):,} entries.")
        + H.table(by, formats={"entries": H.fmt_int, "amount": H.fmt_exact_money, "margin": H.fmt_exact_money}, labels={"origin_period": "for period"})
        + H.heading("Entries", 3, f"First {len(detail)} of {len(a):,}." if len(a) > len(detail) else "")
        + H.table(detail, formats={"amount": H.fmt_exact_money, "margin": H.fmt_exact_money, "line_no": H.fmt_int}, labels={"origin_period": "for period"})
    )


def customers_block(data: KpiData, money: Callable) -> H.Block:
    out = H.heading("Customers", 2)
    nv = data.get("new_vs_repeat")
    if nv is not None:
        cols = [c for c in ("customer_type", "customers", "orders", "revenue", "revenue_share_pct", "revenue_per_customer") if c in nv.columns]
        out = out + H.heading("New and repeat customers", 3) + H.table(
            nv[cols], formats={"customers": H.fmt_int, "orders": H.fmt_int, "revenue": H.fmt_exact_money, "revenue_share_pct": H.fmt_pct, "revenue_per_customer": H.fmt_exact_money}
        )
    else:
        out = out + H.note(data.missing.get("new_vs_repeat", ""))
    out = out + cohort_heatmap(data)
    cac = data.get("cac")
    if cac is not None:
        cols = [c for c in ("channel", "spend", "new_customers", "cac", "note") if c in cac.columns]
        out = out + H.heading("Customer acquisition cost by channel (last 12 months)", 3) + H.table(
            cac[cols], formats={"spend": H.fmt_exact_money, "new_customers": H.fmt_int, "cac": H.fmt_exact_money}
        )
    elif "cac" in data.missing:
        out = out + H.note(data.missing["cac"])
    return out


def cohort_heatmap(data: KpiData) -> H.Block:
    c = data.get("cohorts")
    if c is None or c.empty:
        return H.heading("Retention by monthly cohort", 3) + H.note(data.missing.get("cohorts", "no cohorts in this scope"))
    months = [col for col in c.columns if isinstance(col, int | float) or str(col).isdigit()]
    z = c[months].astype(float).to_numpy() * 100
    labels = [f"{H.esc(p)} (n={int(n)})" for p, n in zip(c["cohort"], c["cohort_size"], strict=True)]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(m) for m in months],
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=100,
            hovertemplate="cohort %{y}<br>month %{x}: %{z:.1f}% active<extra></extra>",
            colorbar=dict(title="%"),
        )
    )
    fig.update_layout(
        title="Share of each cohort buying again, by months since the first purchase",
        height=max(320, 26 * len(labels) + 120),
        template="plotly_white",
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis_title="months since first purchase",
        yaxis=dict(autorange="reversed"),
    )
    return H.heading("Retention by monthly cohort", 3) + H.chart(fig)


def pipeline_block(data: KpiData) -> H.Block:
    out = H.heading("Pipeline", 2, "Opportunities of the last 12 months: funnel, win rate, sales cycle, and coverage of what is left of the target.")
    none = _unavailable(data, "funnel", "win_rate", "sales_cycle", "coverage")
    if none is not None:
        return out + none
    f = data.get("funnel")
    if f is not None and len(f):
        fig = go.Figure(go.Funnel(y=[H.esc(s) for s in f["stage"]], x=f["reached"], textinfo="value+percent initial"))
        fig.update_layout(title="Opportunities reaching each stage (lost deals count at the first stage only)", height=360, template="plotly_white", margin=dict(l=10, r=10, t=50, b=10))
        out = out + H.chart(fig) + H.table(
            f[["stage", "reached", "reached_amount", "open_now", "conversion_rate", "cumulative_conversion_rate"]],
            formats={"reached": H.fmt_int, "reached_amount": H.fmt_exact_money, "open_now": H.fmt_int,
                     "conversion_rate": lambda v: H.fmt_pct(None if pd.isna(v) else v * 100),
                     "cumulative_conversion_rate": lambda v: H.fmt_pct(None if pd.isna(v) else v * 100)},
        )
    for name, title in (("win_rate", "Win rate"), ("sales_cycle", "Sales cycle (won deals, days)"), ("coverage", "Pipeline coverage")):
        df = data.get(name)
        if df is None:
            out = out + H.note(f"{title}: {data.missing.get(name, '')}")
            continue
        out = out + H.heading(title, 3) + H.table(df.drop(columns=[c for c in ("period", "scope") if c in df.columns]), formats=_auto_formats(df))
    return out


def products_block(data: KpiData, money: Callable) -> H.Block:
    out = H.heading("Products", 2)
    p = data.get("pareto")
    if p is None or p.empty:
        out = out + H.note(data.missing.get("pareto", "no product sales in this period"))
    else:
        top = p.head(40)
        names = [H.esc(f"{i} {n}") for i, n in zip(top["product_id"], top.get("product_name", top["product_id"]), strict=True)]
        colors = top["abc"].map({"A": "#0969da", "B": "#8250df", "C": "#bf8700"})
        fig = go.Figure(go.Bar(x=names, y=top["revenue"], marker_color=list(colors), name="revenue"))
        fig.add_scatter(x=names, y=top["cum_share_pct"], yaxis="y2", mode="lines+markers", name="cumulative %", line=dict(color="#1a7f37"))
        fig.update_layout(
            title=f"Pareto of products (top {len(top)} of {len(p)}; A blue, B purple, C amber)",
            height=420,
            template="plotly_white",
            margin=dict(l=10, r=10, t=50, b=120),
            yaxis=dict(title="revenue"),
            yaxis2=dict(title="cumulative %", overlaying="y", side="right", range=[0, 105], showgrid=False),
            xaxis=dict(tickangle=-45),
            showlegend=False,
        )
        summary = K.abc_summary(p)
        out = out + H.chart(fig) + H.table(summary, formats=_auto_formats(summary))
    for name, title in (("leakage", "Discount leakage (list price − net)"), ("returns", "Return rate")):
        df = data.get(name)
        out = out + H.heading(title, 3) + (H.table(df.drop(columns=[c for c in ("period", "scope") if c in df.columns]), formats=_auto_formats(df)) if df is not None else H.note(data.missing.get(name, "")))
    return out


def service_block(data: KpiData) -> H.Block:
    out = H.heading("Service tickets and satisfaction", 2)
    none = _unavailable(data, "service_rep", "service_category")
    if none is not None:
        return out + none
    for name, title in (("service_rep", "By account owner"), ("service_category", "By product category")):
        df = data.get(name)
        if df is not None:
            out = out + H.heading(title, 3) + H.table(df.drop(columns=[c for c in ("period", "scope") if c in df.columns]), formats=_auto_formats(df))
    return out


def _auto_formats(df: pd.DataFrame) -> dict:
    """Formatters by column name: money, percentages (0-100), ratios (0-1), counts."""
    out = {}
    for c in df.columns:
        name = str(c)
        if not pd.api.types.is_numeric_dtype(df[c]):
            continue
        if name.endswith("_pct"):
            out[c] = H.fmt_pct
        elif name.endswith(("_rate", "coverage")) or name.startswith("coverage") or name == "retention":
            out[c] = lambda v: H.fmt_pct(None if pd.isna(v) else v * 100)
        elif any(k in name for k in ("revenue", "amount", "spend", "cac", "leakage", "sales", "returns", "margin", "target", "pipeline", "value")):
            out[c] = H.fmt_exact_money
        elif pd.api.types.is_integer_dtype(df[c]) or name in ("items", "tickets", "rated", "closed", "won", "lost", "count", "customers", "orders"):
            out[c] = H.fmt_int
        else:
            out[c] = lambda v: "–" if pd.isna(v) else f"{float(v):,.2f}"
    return out
