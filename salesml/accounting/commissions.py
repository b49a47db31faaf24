"""Commission statements: what each rep earns in a month under their plan (see ``[commission]``).

The arithmetic is pure (plain values or DataFrames in, a statement or DataFrames out);
:func:`statements` and :func:`commission_by_rep` read the warehouse and call it.

Definitions
-----------
* **Base**: the rep's net revenue (or net margin, per plan) of the ledger entries *posted in*
  the month, adjustments included: a late return of a closed month is posted in the first
  open month and reduces that month's base, so the commission paid on the sale is clawed
  back there. For a rep who moved team the base is the sum over their rows. Entries without
  a rep (``(unassigned)``) earn nobody commission.
* **Target**: the sum of the rep's monthly targets (``target_revenue``, or ``target_margin``
  for a margin plan); **attainment** = base / target x 100.
* **No cost loaded**: when none of the rep's entries of the month has a cost, the rep has no
  margin (``margin`` empty, not 0) and a **margin plan pays nothing it cannot compute**: the
  statement has no base, no lines and no commission, and its note says "no cost loaded: margin
  plan … not computed" (so that a payroll run shows the gap instead of paying on a fake zero
  margin; load the costs, or give the rep a revenue plan). When only some entries have a
  cost, a margin plan pays on the margin of those, and the note says what share of revenue it
  covers.
* **Tiers** (marginal): a band runs from its ``from_pct`` to the next tier's; the base in it,
  ``target x (min(attainment, next) - from) / 100``, earns the band's rate. Band edges are
  ``target x pct / 100`` rounded to the cent, so the bands add up to the base exactly.
* **Threshold**: with attainment below ``threshold_pct`` the month pays nothing (a line takes
  the tiers' subtotal away). **Cap**: a positive commission above ``cap`` is cut to it.
* **No target** (none, or not positive): ``no_target_rate`` on the whole base; no threshold,
  the cap applies.
* **Negative base** (returns exceed sales): the commission is negative, the base times the
  first tier's rate (``no_target_rate`` without a target): the commission paid earlier on the
  returned sales is clawed back, and carried to the statement as a negative amount. Neither
  threshold nor cap applies to it (they limit payouts, not clawbacks).
* **Clawback line**: the commission with the adjustments minus the commission without them
  (<= 0 for late returns); informative, already inside the total.
* **Rounding**: every amount is rounded to the cent, half away from zero; the subtotal is
  the sum of the rounded lines and the total = subtotal + threshold + cap effects, so a
  statement adds up exactly.
* **Assignment**: the first plan that matches, in this order: a plan listing the rep's id,
  the rep's role, team, region, then the default plan (role, team and region of the rep's
  last hierarchy stint starting by the end of the month). A rep no plan claims has a
  summary row marked ``no plan`` (no commission, no lines), so nothing silently disappears.

Outputs
-------
``summary``: one row per rep with a ledger entry or a target in the month: period, rep_id,
rep_name, team, region, role, plan, assigned_by, base_metric, revenue, margin, base,
base_adjustments, target, attainment_pct, subtotal, threshold_effect, cap_effect, clawback,
commission, note. ``lines``: the statement lines of every rep with a plan: period, rep_id,
plan, line, kind (``tier`` / ``no_target`` / ``negative_base`` / ``subtotal`` /
``threshold`` / ``cap`` / ``clawback`` / ``total``), description, band_from_pct,
band_to_pct, base_in_band, rate, amount, in_total (the lines whose amounts add up to the
total).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pandas as pd

from salesml.accounting.performance import cost_known_sql, margin_sql
from salesml.config import CommissionPlan, CommissionSettings, Settings, check_commission
from salesml.periods import parse_period, period_bounds
from salesml.scope import Scope, check_scope, parse_scope

CENT = Decimal("0.01")

#: the order in which plans claim a rep: (attribute of the rep, list of the plan)
ASSIGNMENT_ORDER = (
    ("rep_id", "rep_ids"),
    ("role", "roles"),
    ("team", "teams"),
    ("region", "regions"),
)

SUMMARY_COLUMNS = [
    "period", "rep_id", "rep_name", "team", "region", "role", "plan", "assigned_by", "base_metric",
    "revenue", "margin", "base", "base_adjustments", "target", "attainment_pct", "subtotal",
    "threshold_effect", "cap_effect", "clawback", "commission", "note",
]  # fmt: skip
LINE_COLUMNS = [
    "period", "rep_id", "plan", "line", "kind", "description", "band_from_pct", "band_to_pct",
    "base_in_band", "rate", "amount", "in_total",
]  # fmt: skip

NO_PLAN = "no plan"


# --------------------------------------------------------------------------- one statement


@dataclass(frozen=True)
class Line:
    """One line of a statement."""

    kind: str
    description: str
    amount: Decimal
    #: whether the amount is one of those that add up to the total
    in_total: bool
    band_from_pct: float | None = None
    band_to_pct: float | None = None
    base_in_band: Decimal | None = None
    rate: float | None = None


@dataclass(frozen=True)
class Statement:
    """A rep's commission for a month under one plan (amounts exact to the cent)."""

    base: Decimal
    base_adjustments: Decimal
    target: Decimal | None
    attainment_pct: float | None
    subtotal: Decimal
    threshold_effect: Decimal
    cap_effect: Decimal
    clawback: Decimal
    commission: Decimal
    note: str
    lines: tuple[Line, ...]


def _dec(x: Any) -> Decimal:
    """A number as an exact Decimal (floats by their shortest repr: 0.03 -> 0.03)."""
    if isinstance(x, Decimal):
        return x
    return Decimal(repr(float(x))) if isinstance(x, float) else Decimal(str(x))


def _cents(x: Any) -> Decimal:
    return _dec(x).quantize(CENT, rounding=ROUND_HALF_UP) + 0  # + 0: no negative zero


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _pct(x: float) -> str:
    return f"{x:g}%"


def _rate(x: float) -> str:
    return f"{_dec(x) * 100:f}".rstrip("0").rstrip(".") + "%"


def _evaluate(
    plan: CommissionPlan, base: Decimal, target: Decimal | None
) -> tuple[list[Line], Decimal, Decimal, Decimal, list[str]]:
    """Lines (tiers or flat, subtotal, threshold, cap), subtotal, the two effects and notes."""
    lines: list[Line] = []
    notes: list[str] = []
    threshold_effect = cap_effect = Decimal("0.00")
    if base < 0:
        rate = plan.tiers[0].rate if target is not None else plan.no_target_rate
        amount = _cents(base * _dec(rate))
        lines.append(
            Line(
                "negative_base",
                f"negative base (returns exceed sales) at {_rate(rate)}: clawed back",
                amount,
                True,
                base_in_band=base,
                rate=rate,
            )
        )
        notes.append("negative base")
        subtotal = amount
        lines.append(Line("subtotal", "subtotal", subtotal, False))
        return lines, subtotal, threshold_effect, cap_effect, notes
    if target is None:
        amount = _cents(base * _dec(plan.no_target_rate))
        lines.append(
            Line(
                "no_target",
                f"no target: flat {_rate(plan.no_target_rate)} of the base",
                amount,
                True,
                base_in_band=base,
                rate=plan.no_target_rate,
            )
        )
        notes.append("no target")
        subtotal = amount
        lines.append(Line("subtotal", "subtotal", subtotal, False))
    else:
        edges = [_cents(target * _dec(t.from_pct) / 100) for t in plan.tiers]
        subtotal = Decimal("0.00")
        for i, tier in enumerate(plan.tiers):
            low = edges[i]
            high = edges[i + 1] if i + 1 < len(edges) else None
            upto = base if high is None else min(base, high)
            in_band = max(Decimal("0.00"), upto - low)
            amount = _cents(in_band * _dec(tier.rate))
            to_pct = plan.tiers[i + 1].from_pct if i + 1 < len(plan.tiers) else None
            band = (
                f"{_pct(tier.from_pct)} - {_pct(to_pct)}"
                if to_pct is not None
                else f"from {_pct(tier.from_pct)}"
            )
            lines.append(
                Line(
                    "tier",
                    f"{band} of target at {_rate(tier.rate)}",
                    amount,
                    True,
                    tier.from_pct,
                    to_pct,
                    in_band,
                    tier.rate,
                )
            )
            subtotal += amount
        lines.append(Line("subtotal", "subtotal", subtotal, False))
        if plan.threshold_pct > 0 and base * 100 < target * _dec(plan.threshold_pct):
            threshold_effect = -subtotal + 0
            lines.append(
                Line(
                    "threshold",
                    f"below the {_pct(plan.threshold_pct)} threshold: nothing paid",
                    threshold_effect,
                    True,
                )
            )
            notes.append("below threshold")
    cap = _cents(plan.cap)
    if cap > 0 and subtotal + threshold_effect > cap:
        cap_effect = cap - (subtotal + threshold_effect)
        lines.append(Line("cap", f"capped at {cap:,}", cap_effect, True))
        notes.append("capped")
    return lines, subtotal, threshold_effect, cap_effect, notes


def calculate(
    plan: CommissionPlan, base: Any, target: Any = None, adjustments: Any = 0
) -> Statement:
    """The statement of one rep: ``base`` (adjustments included), ``target`` (None or not
    positive: no target) and ``adjustments`` (the part of the base posted for closed periods)."""
    base, adjustments = _cents(base), _cents(0 if _missing(adjustments) else adjustments)
    target = None if _missing(target) or _cents(target) <= 0 else _cents(target)
    lines, subtotal, threshold_effect, cap_effect, notes = _evaluate(plan, base, target)
    total = subtotal + threshold_effect + cap_effect
    if adjustments:
        without = _evaluate(plan, base - adjustments, target)
        clawback = total - (without[1] + without[2] + without[3])
    else:
        clawback = Decimal("0.00")
    what = (
        f"clawback: adjustments for closed months ({adjustments:,} of the base); already in the total"
        if adjustments
        else "no adjustments for closed months"
    )
    lines.append(Line("clawback", what, clawback, False))
    lines.append(Line("total", "commission", total, False))
    attainment = float(base / target * 100) if target is not None else None
    return Statement(
        base,
        adjustments,
        target,
        attainment,
        subtotal,
        threshold_effect,
        cap_effect,
        clawback,
        total,
        "; ".join(notes),
        tuple(lines),
    )


# --------------------------------------------------------------------------- frames


def plan_for(
    rep: dict | pd.Series, commission: CommissionSettings
) -> tuple[str | None, str | None]:
    """(plan, what matched) for a rep with ``rep_id``, ``role``, ``team``, ``region``:
    the first plan listing the rep's id, role, team or region (in that order), else the
    default plan (``"default"``), else ``(None, None)``."""
    for attribute, listing in ASSIGNMENT_ORDER:
        value = rep.get(attribute)
        if _missing(value):
            continue
        for name, plan in commission.plans.items():
            if value in getattr(plan, listing):
                return name, attribute
    if commission.default_plan:
        return commission.default_plan, "default"
    return None, None


def assign_plans(reps: pd.DataFrame, commission: CommissionSettings) -> pd.DataFrame:
    """``reps`` (rep_id, role, team, region) with the columns ``plan`` and ``assigned_by``."""
    out = reps.copy()
    found = [plan_for(rec, commission) for rec in reps.to_dict("records")]
    out["plan"] = pd.Series([f[0] for f in found], index=reps.index, dtype=object)
    out["assigned_by"] = pd.Series([f[1] for f in found], index=reps.index, dtype=object)
    return out


def _f(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


def compute_statements(
    figures: pd.DataFrame, commission: CommissionSettings, period: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Statements from per-rep figures (pure).

    ``figures``: one row per rep with rep_id, rep_name, team, region, role, revenue, margin
    (empty when no entry has a cost), revenue_adjustments, margin_adjustments, target_revenue,
    target_margin (and optionally ``margin_coverage_pct``, and ``plan`` / ``assigned_by``, else
    assigned here). Returns (summary, lines); see the
    module docstring for their columns.
    """
    check_commission(commission)
    if "plan" not in figures.columns:
        figures = assign_plans(figures, commission)
    summary: list[dict] = []
    lines: list[dict] = []
    for rec in figures.to_dict("records"):
        row = {
            c: rec.get(c)
            for c in ("rep_id", "rep_name", "team", "region", "role", "plan", "assigned_by")
        }
        row["period"] = period if period is not None else rec.get("period")
        row["revenue"] = float(_cents(rec["revenue"]))
        row["margin"] = None if _missing(rec["margin"]) else float(_cents(rec["margin"]))
        plan = commission.plans.get(rec["plan"]) if not _missing(rec["plan"]) else None
        if plan is None:
            row.update(plan=None, assigned_by=None, base_metric=None, note=NO_PLAN)
            summary.append(row)
            continue
        metric = plan.base
        coverage = rec.get("margin_coverage_pct")
        if metric == "margin" and row["margin"] is None:
            row.update(base_metric=metric, note=f"no cost loaded: margin plan {rec['plan']!r} not computed, no commission")
            summary.append(row)
            continue
        st = calculate(
            plan, rec[metric], rec.get(f"target_{metric}"), rec.get(f"{metric}_adjustments")
        )
        row.update(
            base_metric=metric, base=_f(st.base), base_adjustments=_f(st.base_adjustments), target=_f(st.target),
            attainment_pct=st.attainment_pct, subtotal=_f(st.subtotal), threshold_effect=_f(st.threshold_effect),
            cap_effect=_f(st.cap_effect), clawback=_f(st.clawback), commission=_f(st.commission), note=st.note,
        )  # fmt: skip
        if metric == "margin" and not _missing(coverage) and coverage < 99.95:
            partial = f"margin over the {coverage:.0f}% of revenue with a cost"
            row["note"] = f"{st.note}; {partial}" if st.note else partial
        summary.append(row)
        for n, line in enumerate(st.lines, start=1):
            lines.append(
                {
                    "period": row["period"], "rep_id": row["rep_id"], "plan": row["plan"], "line": n,
                    "kind": line.kind, "description": line.description, "band_from_pct": line.band_from_pct,
                    "band_to_pct": line.band_to_pct, "base_in_band": _f(line.base_in_band), "rate": line.rate,
                    "amount": float(line.amount), "in_total": line.in_total,
                }
            )  # fmt: skip
    summary_df = pd.DataFrame(summary, columns=SUMMARY_COLUMNS)
    lines_df = pd.DataFrame(lines, columns=LINE_COLUMNS)
    for c in ("revenue", "margin", "base", "base_adjustments", "target", "attainment_pct", "subtotal",
              "threshold_effect", "cap_effect", "clawback", "commission"):  # fmt: skip
        summary_df[c] = summary_df[c].astype("float64")
    for c in ("band_from_pct", "band_to_pct", "base_in_band", "rate", "amount"):
        lines_df[c] = lines_df[c].astype("float64")
    lines_df["line"] = lines_df["line"].astype("int64")
    lines_df["in_total"] = lines_df["in_total"].astype(bool)
    return summary_df, lines_df


# --------------------------------------------------------------------------- warehouse


def _figures_sql(cond: str) -> str:
    margin, _, coverage = margin_sql()
    return f"""
    WITH c AS (
        SELECT l.*, {cost_known_sql()} AS cost_known
        FROM ledger l
        WHERE l.period = $period AND l.rep_id IS NOT NULL
    ),
    e AS (
        SELECT rep_id, sum(amount) AS revenue, {margin} AS margin, {coverage} AS margin_coverage_pct,
               coalesce(sum(amount) FILTER (WHERE period <> origin_period), 0) AS revenue_adjustments,
               coalesce(sum(margin) FILTER (WHERE period <> origin_period), 0) AS margin_adjustments,
               arg_max(team, entry_id) AS ledger_team, arg_max(region, entry_id) AS ledger_region
        FROM c
        GROUP BY rep_id
    ),
    t AS (
        SELECT rep_id, sum(target_revenue) AS target_revenue, sum(target_margin) AS target_margin
        FROM targets WHERE period = $period AND rep_id IS NOT NULL
        GROUP BY rep_id
    ),
    k AS (SELECT rep_id FROM e UNION SELECT rep_id FROM t),
    -- the rep's last stint starting by the end of the month (a mid-month mover: the new team)
    s AS (
        SELECT rep_id, arg_max(name, valid_from) AS rep_name, arg_max(team, valid_from) AS team,
               arg_max(region, valid_from) AS region, arg_max(role, valid_from) AS role
        FROM reps WHERE valid_from <= $period_end
        GROUP BY rep_id
    ),
    nm AS (SELECT rep_id, arg_max(name, valid_from) AS any_name FROM reps GROUP BY rep_id),
    f AS (
        SELECT k.rep_id AS rep_key, coalesce(s.rep_name, nm.any_name) AS rep_name,
               coalesce(s.team, e.ledger_team) AS team, coalesce(s.region, e.ledger_region) AS region, s.role,
               coalesce(e.revenue, 0)::DOUBLE AS revenue,
               CASE WHEN e.rep_id IS NULL THEN 0 ELSE e.margin END::DOUBLE AS margin, e.margin_coverage_pct,
               coalesce(e.revenue_adjustments, 0)::DOUBLE AS revenue_adjustments,
               coalesce(e.margin_adjustments, 0)::DOUBLE AS margin_adjustments,
               t.target_revenue::DOUBLE AS target_revenue, t.target_margin::DOUBLE AS target_margin
        FROM k LEFT JOIN e USING (rep_id) LEFT JOIN t USING (rep_id)
        LEFT JOIN s USING (rep_id) LEFT JOIN nm USING (rep_id)
    )
    SELECT * FROM f WHERE {cond} ORDER BY rep_key
    """


def rep_figures(
    con: duckdb.DuckDBPyConnection, period: str, scope: str | Scope | None = None
) -> pd.DataFrame:
    """Per rep with a ledger entry or a target in ``period``: the rep's revenue, margin and
    their adjustments posted in the period, targets, and role / team / region (last stint
    starting by the end of the month). ``scope`` (``rep:ID``, ``team:T``, ``region:R``) is
    applied in the query: team and region are the rep's at the end of the month."""
    period = parse_period(period)
    scope = parse_scope(scope)
    check_scope(con, scope)
    cond, params = scope.sql()
    _, stop = period_bounds(period)
    params = {"period": period, "period_end": stop - timedelta(days=1), **params}
    df = con.execute(_figures_sql(cond), params).df()
    return df.rename(columns={"rep_key": "rep_id"})


def statements(
    con: duckdb.DuckDBPyConnection,
    period: str,
    settings: Settings | CommissionSettings | None = None,
    scope: str | Scope | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The month's commission statements: (summary, one row per rep; lines).

    ``scope`` limits them to a rep, team or region (filtered in the query: nothing of
    anyone else is read). The ledger must be posted (``ledger.ensure_posted``)."""
    commission = (
        settings.commission
        if isinstance(settings, Settings)
        else (settings or CommissionSettings())
    )
    period = parse_period(period)
    return compute_statements(rep_figures(con, period, scope), commission, period)


def commission_by_rep(
    con: duckdb.DuckDBPyConnection,
    period: str,
    settings: Settings | CommissionSettings | None = None,
    scope: str | Scope | None = None,
) -> pd.DataFrame:
    """``rep_id, plan, commission`` per rep of ``period`` (``plan``/``commission`` empty for a
    rep with no plan). Commission belongs to the rep: merge it on ``rep_id``; a rep who moved
    team mid-month has two performance rows but one commission."""
    summary, _ = statements(con, period, settings, scope)
    return summary[["rep_id", "plan", "commission"]].reset_index(drop=True)


def with_commission(perf_rows: pd.DataFrame, commission: pd.DataFrame, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """``performance(by="rep")`` rows with each rep's ``plan`` and ``commission`` on the row of
    the team the rep is in at month end (a mid-month mover's other row gets none)."""
    out = perf_rows.copy()
    info = commission.copy()
    if summary is not None and "team" in summary.columns:
        info = info.merge(summary[["rep_id", "team"]], on="rep_id", how="left")
    else:
        info["team"] = None
    first = out.drop_duplicates("rep_id", keep="last")[["rep_id", "team"]].rename(columns={"team": "_fallback"})
    info = info.merge(first, on="rep_id", how="left")
    info["team"] = info["team"].where(info["team"].isin(out["team"]), info["_fallback"])
    merged = out.merge(info[["rep_id", "team", "plan", "commission"]], on=["rep_id", "team"], how="left")
    merged.index = out.index
    return merged


def statements_json(summary: pd.DataFrame, lines: pd.DataFrame) -> list[dict]:
    """Statements as plain data: the summary fields of each rep with its ``lines``."""

    def plain(v: Any) -> Any:
        if _missing(v):
            return None
        return v.item() if hasattr(v, "item") else v

    by_rep: dict[str, list[dict]] = {}
    for rec in lines.drop(columns=["period", "plan"]).to_dict("records"):
        by_rep.setdefault(rec.pop("rep_id"), []).append({k: plain(v) for k, v in rec.items()})
    return [
        {**{k: plain(v) for k, v in rec.items()}, "lines": by_rep.get(rec["rep_id"], [])}
        for rec in summary.to_dict("records")
    ]


__all__ = [
    "with_commission",
    "ASSIGNMENT_ORDER",
    "Line",
    "Statement",
    "assign_plans",
    "calculate",
    "commission_by_rep",
    "compute_statements",
    "plan_for",
    "rep_figures",
    "statements",
    "statements_json",
]
