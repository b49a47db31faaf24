"""Rep scorecards: each rep's selling habits for a month next to the median of their team.

This module owns the rep scorecard: which measures describe how a rep sells, how a rep is
compared with the team's other reps, and which differences are worth a finding. It writes
no sentences: :func:`findings` returns structured rows (a stable ``code`` per kind of
finding, see :data:`CODES`) that the report layer puts into words.

* :func:`scorecard` is the one function that reads the warehouse (SQL in DuckDB, revenue
  and returns from the ledger, as :mod:`salesml.accounting.performance` counts them);
* :func:`against_peers` (team medians and differences) and :func:`findings` are pure
  DataFrame -> DataFrame functions that never change their input.

Who is compared with whom
-------------------------
* The reps of a period are those with a ledger entry (credited to them) or a target in it.
* A rep's **team** is the team the ledger credits with the rep's latest entry of the period
  (the entry's ``credit_date``, the date of the sale): a rep who moved mid-month is compared
  with the team they moved to, the team that also holds their target. A rep with a target
  but no entry is in the team of their last hierarchy stint overlapping the month. A rep
  with no stint on the day of their sales is in team ``(unassigned)``, which is nobody's
  team: such reps have no peers.
* A rep's figures cover all of the rep's entries of the period, whatever team they are
  credited to (so per-rep ``gross_sales`` equals the sum of the rep's rows of
  ``performance(by="rep")``).
* **Peers** are the *other* reps of the rep's team in the period. The team median leaves
  the rep out: with the rep in it, a rep in a small team pulls the median towards
  themselves (in a team of three the rep may *be* the median, and every difference
  vanishes). A median needs ``[scorecard] min_peers`` peers with the measure (default 2): a
  "median" of one colleague would be that colleague's own figure.

Measures (period P, window W = the ``window_months`` months ending with P)
--------------------------------------------------------------------------
* ``gross_sales``, ``returns``, ``orders``: the rep's ``sale`` entries, minus the ``return``
  entries, and the distinct orders with a sale entry above 0, in P (as ``perf``);
  ``aov`` = gross_sales / orders (money).
* ``return_rate_pct`` = returns / gross_sales x 100 (empty when nothing was sold).
* ``discount_pct``: discount depth, the revenue-weighted mean discount of the rep's sale
  entries in P: sum(amount x discount) / sum(amount) x 100 over the entries whose order line
  carries a discount. ``order_lines.discount`` is a *fraction* of the list price (0.15 = 15 %
  off; see :mod:`salesml.schema`; a source's "15%" is read as 0.15), so this is in percent.
  Empty when no line carries a discount.
* Product mix, over the rep's sale entries in P by product category (no category =
  ``(unknown)``): ``top_category`` and ``top_category_share_pct``, its share of gross sales
  (ties: the first name), and ``categories``, the number of known categories sold.
* ``opps_won`` / ``opps_lost``: the rep's opportunities (``opportunities.rep_id``) won / lost
  with ``closed_date`` in W (outcome read case-insensitively; when missing, the stage
  ``Closed Won`` / ``Closed Lost`` decides, as in :mod:`salesml.accounting.kpis`).
  ``win_rate_pct`` = won / (won + lost) x 100; ``sales_cycle_days`` = median (continuous)
  of the days from ``created_date`` to ``closed_date`` of those won (closed before created
  left out). Both empty when there is nothing to count; the counts are empty when no
  opportunities are loaded at all.
* Retention: ``customers_base`` = the rep's identified customers (not NULL / blank nor one of
  the ``anonymous`` ids) with a sale entry above 0 credited to the rep in the
  ``retention_base_months`` months before W; ``customers_retained`` = those of them with such
  an entry credited to the same rep in W; ``retention_pct`` = retained / base x 100 (empty
  without a base). A customer who bought from another rep instead counts as not retained: it
  measures the rep's relationships. Months are ledger periods.
* Attainment trend: ``attainment_pct`` (P) and ``attainment_pct_m1``, ``attainment_pct_m2``,
  ... (1, 2, ... months before; ``trend_months`` in all) = the rep's net revenue (all ledger
  entries of the month) / the rep's target x 100, empty without a target above 0 (as
  ``scope_summary(scope="rep:...")``); ``attainment_slope`` = the least-squares slope of those
  months' attainment in points per month (empty with fewer than two).

Comparison (:func:`against_peers`)
----------------------------------
For each measure of :data:`MEASURES`: ``peer_<column>`` = the median over the peers, and
``diff_<column>`` = rep - median in points for percentages (and attainment slope, in points
per month), in units for ``categories``, and rep / median, a ratio, for money and days. A
win rate is compared only from ``min_closed_opportunities`` closed opportunities and a sales
cycle from ``min_won_opportunities`` won ones (the rep's own, and each peer's to count in
the median): a win rate of one deal says nothing.

Findings (:func:`findings`)
---------------------------
A measure whose difference reaches its threshold (``[scorecard] <measure>_points`` /
``_ratio`` / ``_count``) is a *strength* when it is on the measure's better side (higher win
rate, AOV, retention, attainment and its slope, more categories; shorter cycle, shallower
discount, fewer returns, less revenue in one category) and a *gap* otherwise, with code
``<measure>_above_team`` or ``<measure>_below_team``. ``magnitude`` = the difference in
thresholds (|points| / threshold, or |ln ratio| / ln threshold), at least 1. A discount
finding while the rep's win rate is within ``same_win_rate_points`` of the team's becomes a
pair: ``discount_deeper_same_win_rate`` (a gap: the extra discount buys no wins) or
``discount_shallower_same_win_rate`` (a strength), with ``pair = "win_rate"`` and the win
rates in ``pair_*``.

Privacy: a scorecard for ``rep:R`` holds R's row only, its peer columns aggregates of the
team; a ``team:T`` scorecard holds T's reps; other reps' rows never leave :func:`scorecard`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from salesml import warehouse
from salesml.anonymous import identified_sql
from salesml.config import PerformanceSettings, ScorecardSettings
from salesml.periods import parse_period, period_bounds, shift_period
from salesml.scope import Scope, check_scope, parse_scope


@dataclass(frozen=True)
class Measure:
    """A compared measure: its name in findings, its scorecard column, the unit of its value,
    how a difference is taken (``points``, ``ratio`` or ``count``), which side is better and
    the :class:`~salesml.config.ScorecardSettings` field holding its threshold."""

    name: str
    column: str
    unit: str
    difference: str
    better: str
    threshold: str


#: the measures compared with the team, in scorecard order
MEASURES: tuple[Measure, ...] = (
    Measure("win_rate", "win_rate_pct", "pct", "points", "higher", "win_rate_points"),
    Measure("sales_cycle", "sales_cycle_days", "days", "ratio", "lower", "sales_cycle_ratio"),
    Measure("aov", "aov", "money", "ratio", "higher", "aov_ratio"),
    Measure("discount", "discount_pct", "pct", "points", "lower", "discount_points"),
    Measure("top_category_share", "top_category_share_pct", "pct", "points", "lower", "top_category_share_points"),
    Measure("categories", "categories", "count", "count", "higher", "categories_count"),
    Measure("return_rate", "return_rate_pct", "pct", "points", "lower", "return_rate_points"),
    Measure("retention", "retention_pct", "pct", "points", "higher", "retention_points"),
    Measure("attainment", "attainment_pct", "pct", "points", "higher", "attainment_points"),
    Measure("attainment_slope", "attainment_slope", "points_per_month", "points", "higher", "attainment_slope_points"),
)

_BY_NAME = {m.name: m for m in MEASURES}

#: the combined findings: (measure, the measure that is "the same", code when above, code when below)
PAIRS = (("discount", "win_rate", "discount_deeper_same_win_rate", "discount_shallower_same_win_rate"),)

#: every finding code :func:`findings` can give
CODES: tuple[str, ...] = tuple(
    [f"{m.name}_{side}_team" for m in MEASURES for side in ("above", "below")]
    + [code for *_, above, below in PAIRS for code in (above, below)]
)

#: the columns of :func:`findings`
FINDING_COLUMNS = [
    "period", "rep_id", "code", "measure", "value", "peer_value", "difference", "difference_unit", "unit",
    "direction", "magnitude", "pair", "pair_value", "pair_peer_value", "pair_difference", "peers",
]

_FINDING_DTYPES = {
    "period": "object", "rep_id": "object", "code": "object", "measure": "object", "value": "float64",
    "peer_value": "float64", "difference": "float64", "difference_unit": "object", "unit": "object",
    "direction": "object", "magnitude": "float64", "pair": "object", "pair_value": "float64",
    "pair_peer_value": "float64", "pair_difference": "float64", "peers": "Int64",
}

_COUNTS = ["orders", "categories", "opps_won", "opps_lost", "customers_base", "customers_retained"]


def attainment_columns(trend_months: int) -> list[str]:
    """The attainment columns of a ``trend_months`` trend, oldest first, ending with ``attainment_pct``."""
    return [f"attainment_pct_m{k}" for k in range(trend_months - 1, 0, -1)] + ["attainment_pct"]


# --------------------------------------------------------------------------- reading


def _opportunities_sql(loaded: bool) -> str:
    """CTE ``opp``: won / lost counts and the median cycle per rep over the window."""
    if not loaded:
        return """
    opp AS (SELECT NULL::VARCHAR AS rep_id, NULL::BIGINT AS opps_won, NULL::BIGINT AS opps_lost,
                   NULL::DOUBLE AS sales_cycle_days WHERE FALSE)"""
    return """
    o_closed AS (
        SELECT o.rep_id, o.created_date, o.closed_date,
               coalesce(CASE lower(trim(o.outcome)) WHEN 'won' THEN 'won' WHEN 'lost' THEN 'lost' WHEN 'open' THEN 'open' END,
                        CASE lower(trim(o.stage)) WHEN 'closed won' THEN 'won' WHEN 'closed lost' THEN 'lost' ELSE 'open' END)
                   AS result
        FROM opportunities o
        WHERE o.closed_date >= $win_start AND o.closed_date < $stop
          AND o.rep_id IN (SELECT rep_id FROM scoped)
    ),
    opp AS (
        SELECT rep_id,
               count(*) FILTER (WHERE result = 'won') AS opps_won,
               count(*) FILTER (WHERE result = 'lost') AS opps_lost,
               quantile_cont(datediff('day', created_date, closed_date), 0.5)
                   FILTER (WHERE result = 'won' AND closed_date >= created_date) AS sales_cycle_days
        FROM o_closed WHERE result IN ('won', 'lost')
        GROUP BY rep_id
    )"""


def _scorecard_sql(scope_cond: str, who: str, trend: list[str], opps_loaded: bool) -> str:
    month_idx = "(CAST(substr(period, 1, 4) AS INTEGER) * 12 + CAST(substr(period, 6, 2) AS INTEGER))"
    att_cols = attainment_columns(len(trend))
    pivot = ",\n               ".join(
        f"max(attainment_pct) FILTER (WHERE period = '{p}') AS {col}" for p, col in zip(trend, att_cols, strict=True)
    )
    return f"""
    WITH cur AS (
        SELECT * FROM ledger WHERE period = $period AND rep_id IS NOT NULL
    ),
    tgt AS (
        SELECT rep_id, period, sum(target_revenue) AS target_revenue
        FROM targets WHERE rep_id IS NOT NULL AND period >= $trend_first AND period <= $period
        GROUP BY ALL
    ),
    stint AS (
        -- the rep's last hierarchy stint overlapping the month (for reps with a target and no entry)
        SELECT rep_id, arg_max({{'team': team, 'region': region}}, valid_from) AS tr
        FROM reps WHERE valid_from < $p_stop AND (valid_to IS NULL OR valid_to >= $p_start)
        GROUP BY rep_id
    ),
    members AS (
        -- every rep with an entry or a target in the period, in the team of the latest entry
        SELECT rep_id AS rep_key, tr.team AS team, tr.region AS region FROM (
            SELECT rep_id, arg_max({{'team': team, 'region': region}},
                                   strftime(coalesce(credit_date, DATE '1900-01-01'), '%Y-%m-%d') || team) AS tr
            FROM cur GROUP BY rep_id)
        UNION ALL
        SELECT t.rep_id, coalesce(s.tr.team, $un), coalesce(s.tr.region, $un)
        FROM tgt t LEFT JOIN stint s USING (rep_id)
        WHERE t.period = $period AND NOT EXISTS (SELECT 1 FROM cur c WHERE c.rep_id = t.rep_id)
    ),
    scoped AS (
        -- the reps of the teams the scope touches (the scope's reps and their peers)
        SELECT rep_key AS rep_id, team, region FROM members
        WHERE team IN (SELECT team FROM members WHERE {scope_cond})
    ),
    sales AS (
        SELECT c.rep_id,
               coalesce(sum(c.amount) FILTER (WHERE c.kind = 'sale'), 0) AS gross_sales,
               coalesce(-sum(c.amount) FILTER (WHERE c.kind = 'return'), 0) AS returns,
               count(DISTINCT c.order_id) FILTER (WHERE c.kind = 'sale' AND c.amount > 0) AS orders,
               sum(c.amount::DOUBLE * ol.discount::DOUBLE) FILTER (WHERE c.kind = 'sale' AND ol.discount IS NOT NULL) AS disc_weighted,
               sum(c.amount::DOUBLE) FILTER (WHERE c.kind = 'sale' AND ol.discount IS NOT NULL) AS disc_base
        FROM cur c LEFT JOIN order_lines ol ON ol.order_id = c.order_id AND ol.line_no = c.line_no
        WHERE c.rep_id IN (SELECT rep_id FROM scoped)
        GROUP BY c.rep_id
    ),
    cat AS (
        SELECT c.rep_id, coalesce(p.category, '(unknown)') AS category, sum(c.amount) AS amount
        FROM cur c LEFT JOIN products p ON p.product_id = c.product_id
        WHERE c.kind = 'sale' AND c.rep_id IN (SELECT rep_id FROM scoped)
        GROUP BY ALL
    ),
    mix AS (
        SELECT rep_id,
               arg_max(category, amount) FILTER (WHERE top = 1) AS top_category,
               max(amount) FILTER (WHERE top = 1) AS top_amount,
               count(*) FILTER (WHERE amount > 0 AND category <> '(unknown)') AS categories
        FROM (SELECT *, row_number() OVER (PARTITION BY rep_id ORDER BY amount DESC, category) AS top FROM cat)
        GROUP BY rep_id
    ),
    {_opportunities_sql(opps_loaded)},
    bought AS (
        SELECT DISTINCT l.rep_id, l.customer_id, l.period >= $win_first AS in_window
        FROM ledger l
        WHERE l.period >= $base_first AND l.period <= $period AND l.kind = 'sale' AND l.amount > 0
          AND {who} AND l.rep_id IN (SELECT rep_id FROM scoped)
    ),
    ret AS (
        SELECT b.rep_id, count(*) AS customers_base, count(w.customer_id) AS customers_retained
        FROM (SELECT DISTINCT rep_id, customer_id FROM bought WHERE NOT in_window) b
        LEFT JOIN (SELECT DISTINCT rep_id, customer_id FROM bought WHERE in_window) w
          ON w.rep_id = b.rep_id AND w.customer_id = b.customer_id
        GROUP BY b.rep_id
    ),
    rev AS (
        SELECT rep_id, period, sum(amount) AS revenue FROM ledger
        WHERE period >= $trend_first AND period <= $period AND rep_id IN (SELECT rep_id FROM scoped)
        GROUP BY ALL
    ),
    att_m AS (
        SELECT t.rep_id, t.period,
               CASE WHEN t.target_revenue > 0 THEN coalesce(r.revenue, 0)::DOUBLE / t.target_revenue::DOUBLE * 100 END
                   AS attainment_pct
        FROM tgt t LEFT JOIN rev r ON r.rep_id = t.rep_id AND r.period = t.period
        WHERE t.rep_id IN (SELECT rep_id FROM scoped)
    ),
    att AS (
        SELECT rep_id,
               {pivot},
               regr_slope(attainment_pct, {month_idx}) AS attainment_slope
        FROM att_m GROUP BY rep_id
    ),
    names AS (
        SELECT rep_id, arg_max(name, valid_from) AS rep_name FROM reps GROUP BY rep_id
    )
    SELECT $period AS period, m.rep_id, n.rep_name, m.team, m.region,
           coalesce(s.gross_sales, 0)::DOUBLE AS gross_sales,
           coalesce(s.orders, 0) AS orders,
           CASE WHEN s.orders > 0 THEN s.gross_sales::DOUBLE / s.orders END AS aov,
           coalesce(s.returns, 0)::DOUBLE AS returns,
           CASE WHEN s.gross_sales > 0 THEN s.returns::DOUBLE / s.gross_sales::DOUBLE * 100 END AS return_rate_pct,
           CASE WHEN s.disc_base > 0 THEN s.disc_weighted / s.disc_base * 100 END AS discount_pct,
           x.top_category,
           CASE WHEN s.gross_sales > 0 THEN x.top_amount::DOUBLE / s.gross_sales::DOUBLE * 100 END AS top_category_share_pct,
           coalesce(x.categories, 0) AS categories,
           {"coalesce(o.opps_won, 0)" if opps_loaded else "NULL::BIGINT"} AS opps_won,
           {"coalesce(o.opps_lost, 0)" if opps_loaded else "NULL::BIGINT"} AS opps_lost,
           CASE WHEN o.opps_won + o.opps_lost > 0 THEN o.opps_won * 100.0 / (o.opps_won + o.opps_lost) END AS win_rate_pct,
           o.sales_cycle_days::DOUBLE AS sales_cycle_days,
           coalesce(r.customers_base, 0) AS customers_base,
           coalesce(r.customers_retained, 0) AS customers_retained,
           CASE WHEN r.customers_base > 0 THEN r.customers_retained * 100.0 / r.customers_base END AS retention_pct,
           {", ".join(f"a.{c}" for c in att_cols)},
           a.attainment_slope
    FROM scoped m
    LEFT JOIN names n ON n.rep_id = m.rep_id
    LEFT JOIN sales s ON s.rep_id = m.rep_id
    LEFT JOIN mix x ON x.rep_id = m.rep_id
    LEFT JOIN opp o ON o.rep_id = m.rep_id
    LEFT JOIN ret r ON r.rep_id = m.rep_id
    LEFT JOIN att a ON a.rep_id = m.rep_id
    ORDER BY m.team, m.rep_id
    """


def _has_rows(con: duckdb.DuckDBPyConnection, table: str, condition: str = "TRUE") -> bool:
    return warehouse.table_exists(con, table) and bool(
        con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {condition} LIMIT 1)").fetchall()[0][0]
    )


def scorecard(
    con: duckdb.DuckDBPyConnection,
    period: str,
    scope: str | Scope | None = None,
    settings: ScorecardSettings | None = None,
    perf_settings: PerformanceSettings | None = None,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """Scorecards of the reps in ``scope`` for ``period`` (``YYYY-MM``), each next to the
    median of the rep's team peers (see the module docstring for every definition).

    One row per rep: ``period, rep_id, rep_name, team, region, peers``, the figures
    (``gross_sales, orders, aov, returns, return_rate_pct, discount_pct, top_category,
    top_category_share_pct, categories, opps_won, opps_lost, win_rate_pct, sales_cycle_days,
    customers_base, customers_retained, retention_pct, attainment_pct_m<k>..., attainment_pct,
    attainment_slope``), then ``peer_<column>`` and ``diff_<column>`` for each of
    :data:`MEASURES`. A ``rep:R`` scope gives R's row only (its peer columns are aggregates of
    the team), a ``team:T`` scope T's reps, a region the reps of its teams, ``company`` all.
    ``anonymous``: customer ids that are nobody (``Settings.anonymous_customer_ids``), left out
    of retention. What could not be computed is said in ``df.attrs["notes"]``.
    """
    period = parse_period(period)
    scope = parse_scope(scope)
    check_scope(con, scope)
    s = settings or ScorecardSettings()
    un = (perf_settings or PerformanceSettings()).unassigned
    p_start, p_stop = period_bounds(period)
    win_first = shift_period(period, -(s.window_months - 1))
    trend = [shift_period(period, -k) for k in range(s.trend_months - 1, -1, -1)]
    cond, scope_params = scope.sql()
    who, anon_params = identified_sql("l.customer_id", anonymous)
    opps_loaded = _has_rows(con, "opportunities")
    sql = _scorecard_sql(cond, who, trend, opps_loaded)
    params = {
        "period": period, "un": un, "p_start": p_start, "p_stop": p_stop,
        "win_first": win_first, "win_start": period_bounds(win_first)[0], "stop": p_stop,
        "base_first": shift_period(win_first, -s.retention_base_months), "trend_first": trend[0],
        **scope_params, **anon_params,
    }
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    rows = con.execute(sql, used).df()
    for c in _COUNTS:
        rows[c] = rows[c].astype("Int64")
    card = against_peers(rows, s, unassigned=un)
    keep = {
        "company": pd.Series(True, index=card.index),
        "region": card["region"] == scope.value,
        "team": card["team"] == scope.value,
        "rep": card["rep_id"] == scope.value,
    }[scope.level]
    card = card[keep].reset_index(drop=True)
    card.attrs["notes"] = _notes(con, opps_loaded, period, trend)
    return card


def _notes(con: duckdb.DuckDBPyConnection, opps_loaded: bool, period: str, trend: list[str]) -> list[str]:
    notes = []
    if not opps_loaded:
        notes.append("no opportunities loaded: win rate and sales cycle skipped")
    if not _has_rows(con, "order_lines", "discount IS NOT NULL"):
        notes.append("order lines carry no discount: discount depth skipped")
    if not _has_rows(con, "targets", f"rep_id IS NOT NULL AND period >= '{trend[0]}' AND period <= '{period}'"):
        notes.append("no rep targets for these months: attainment skipped")
    return notes


# --------------------------------------------------------------------------- pure functions


def _comparable(df: pd.DataFrame, m: Measure, s: ScorecardSettings) -> pd.Series:
    """Whether each row's value of ``m`` may be compared (present, on a big enough sample)."""
    ok = df[m.column].notna()
    if not {"opps_won", "opps_lost"} <= set(df.columns):
        return ok
    if m.name == "win_rate":
        closed = df["opps_won"].astype("Float64") + df["opps_lost"].astype("Float64")
        ok &= (closed >= s.min_closed_opportunities).fillna(False).astype(bool)
    elif m.name == "sales_cycle":
        ok &= (df["opps_won"].astype("Float64") >= s.min_won_opportunities).fillna(False).astype(bool)
    return ok


def _difference(m: Measure, value: pd.Series, peer: pd.Series) -> pd.Series:
    value, peer = value.astype(float), peer.astype(float)
    if m.difference == "ratio":
        return value / peer.where(peer > 0)
    return value - peer


def against_peers(
    card: pd.DataFrame,
    settings: ScorecardSettings | None = None,
    unassigned: str = PerformanceSettings.unassigned,
) -> pd.DataFrame:
    """A copy of ``card`` (rows of reps with ``rep_id``, ``team`` and the columns of
    :data:`MEASURES`, e.g. from :func:`scorecard`'s query) with ``peers`` (the team's other
    reps) and, per measure, ``peer_<column>`` (their median, leaving the rep out; empty with
    fewer than ``min_peers`` peers having the measure) and ``diff_<column>`` (points, units or
    a ratio; empty when the rep's own value is missing or on too small a sample: the sample
    sizes are ``opps_won`` / ``opps_lost``, when present). A team named ``unassigned`` is
    nobody's team: its reps have no peers. Comparison columns already in ``card`` are
    recomputed."""
    s = settings or ScorecardSettings()
    derived = {"peers"} | {f"{k}_{m.column}" for m in MEASURES for k in ("peer", "diff")}
    card = card[[c for c in card.columns if c not in derived]]  # a scorecard compared again
    out = card.copy()
    team = card["team"].astype(object)
    has_team = team.notna() & (team != unassigned)
    sizes = team[has_team].map(team[has_team].value_counts())
    out["peers"] = (sizes - 1).reindex(card.index).fillna(0).astype("Int64")
    positions = {t: np.flatnonzero((team == t).to_numpy() & has_team.to_numpy()) for t in team[has_team].unique()}
    peer_cols, diff_cols = {}, {}
    for m in MEASURES:
        ok = _comparable(card, m, s).to_numpy()
        values = card[m.column].astype(float).to_numpy()
        medians = np.full(len(card), np.nan)
        for idx in positions.values():
            for i in idx:
                others = [values[j] for j in idx if j != i and ok[j]]
                if len(others) >= s.min_peers:
                    medians[i] = float(np.median(others))
        peer = pd.Series(medians, index=card.index)
        peer_cols[f"peer_{m.column}"] = peer
        diff_cols[f"diff_{m.column}"] = _difference(m, card[m.column], peer).where(ok)
    columns = [*card.columns]
    columns.insert(columns.index("region") + 1 if "region" in columns else len(columns), "peers")
    return pd.concat([out[columns], pd.DataFrame(peer_cols), pd.DataFrame(diff_cols)], axis=1)


def _magnitude(m: Measure, difference: float, threshold: float) -> float:
    if m.difference == "ratio":
        return abs(math.log(difference)) / math.log(threshold)
    return abs(difference) / threshold


def _reached(m: Measure, difference: float, threshold: float) -> bool | None:
    """True: above the team by the threshold; False: below; None: not a finding."""
    if m.difference == "ratio":
        if difference >= threshold:
            return True
        return False if difference <= 1 / threshold else None
    if difference >= threshold:
        return True
    return False if difference <= -threshold else None


def findings(card: pd.DataFrame, settings: ScorecardSettings | None = None) -> pd.DataFrame:
    """Strengths and gaps of each rep of ``card`` (a :func:`scorecard`, or any frame with the
    columns :func:`against_peers` adds) against the team's medians, as structured rows (see
    :data:`FINDING_COLUMNS`; no words: the report layer renders them from ``code``).

    ``value`` / ``peer_value`` are the rep's and the team median's figures in ``unit``;
    ``difference`` is in ``difference_unit`` (``points``, ``ratio`` or ``count``);
    ``direction`` is ``strength`` or ``gap``; ``magnitude`` the difference in thresholds (>= 1).
    A pair finding names the measure that was the same in ``pair``, with its values in
    ``pair_value``, ``pair_peer_value`` and ``pair_difference``. Sorted by rep, gaps first,
    then by magnitude."""
    s = settings or ScorecardSettings()
    missing = [f"diff_{m.column}" for m in MEASURES if f"diff_{m.column}" not in card.columns]
    if missing:
        raise ValueError(f"findings need the peer comparison ({', '.join(missing[:3])} ...): pass a scorecard() or against_peers() frame")
    rows = []
    for _, r in card.iterrows():
        found: dict[str, dict] = {}
        for m in MEASURES:
            diff = r[f"diff_{m.column}"]
            if pd.isna(diff):
                continue
            threshold = float(getattr(s, m.threshold))
            above = _reached(m, float(diff), threshold)
            if above is None:
                continue
            good = above == (m.better == "higher")
            found[m.name] = {
                "period": r.get("period"), "rep_id": r["rep_id"], "code": f"{m.name}_{'above' if above else 'below'}_team",
                "measure": m.name, "value": float(r[m.column]), "peer_value": float(r[f"peer_{m.column}"]),
                "difference": float(diff), "difference_unit": m.difference, "unit": m.unit,
                "direction": "strength" if good else "gap", "magnitude": _magnitude(m, float(diff), threshold),
                "pair": None, "pair_value": np.nan, "pair_peer_value": np.nan, "pair_difference": np.nan,
                "peers": r.get("peers"),
            }
        for measure, same, code_above, code_below in PAIRS:
            f = found.get(measure)
            other = _BY_NAME[same]
            same_diff = r[f"diff_{other.column}"]
            if f is None or pd.isna(same_diff) or abs(float(same_diff)) > s.same_win_rate_points:
                continue
            f.update(
                code=code_above if f["code"].endswith("_above_team") else code_below,
                pair=same, pair_value=float(r[other.column]), pair_peer_value=float(r[f"peer_{other.column}"]),
                pair_difference=float(same_diff),
            )
        rows.extend(found.values())
    out = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    out = out.astype(_FINDING_DTYPES)
    if len(out):
        out = out.sort_values(["rep_id", "direction", "magnitude"], ascending=[True, True, False], kind="stable")
    return out.reset_index(drop=True)
