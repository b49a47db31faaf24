"""Owner suggestions: which active rep should take each customer and open lead that has no
(active) owner, as a table a manager can accept. Nothing here writes to the warehouse.

This module owns who needs an owner, the rules that score a candidate rep, and how a batch
of suggestions respects the reps' capacity. :func:`read_inputs` is the only function that
runs SQL (the scope is applied in its queries); :func:`candidate_scores`, :func:`suggest` and
:func:`reason_text` are pure functions of its frames that never change their input.

Definitions (as of a day ``as_of``; settings ``[assignment]``)
-------------------------------------------------------------
* A rep is **active** when a stint of the hierarchy (``reps``: valid_from .. valid_to,
  inclusive; valid_to empty = current) covers ``as_of``; their team and region are that
  stint's.
* **Who needs an owner.** A customer (identified, and a customer by then: ``first_order_date``
  empty or on or before ``as_of``) whose ``owner_rep_id`` is empty (``no_owner``), names no
  rep of the hierarchy (``unknown_owner``), a rep whose last stint ended before ``as_of``
  (``owner_left``, dated by that stint's ``valid_to``) or a rep whose first stint starts after
  it (``owner_not_started``, dated by its ``valid_from``). A **lead** is an open opportunity
  (``outcome = 'open'``, created by ``as_of``) whose ``rep_id`` is in one of those cases (the
  same codes; the words say "rep" instead of "owner"). ``reason_code``, ``former_rep_id`` and
  ``reason_date`` carry the reason as data, ``reason`` in English words (:func:`reason_text`).
* An item's **region** is the customer's, else the former owner's (last stint); its **team**
  (for team scopes) is the former owner's, else (a lead) that of the account's active owner,
  else the team the customer's latest sale by ``as_of`` is credited to; none when none of these
  is known (such items are seen in region and company scopes only).
* **value** = the customer's net revenue in the ledger over the trailing ``months`` months
  ((as_of - months, as_of], entries whose sale and event both happened by ``as_of``);
  ``amount`` = a lead's opportunity amount.
* **Candidates**: active reps whose role is one of ``roles``; with ``same_region`` only
  those of the item's region (an item without a region then has none). A rep's **customers**
  (load) = the customers whose ``owner_rep_id`` is theirs, plus the accounts suggested to them
  in the batch.

Rules: each scores a candidate 0..1 and counts with its weight (0 = off); ``score`` is the sum
of the contributions, reported as the ``why_*`` columns:

* ``why_region`` = weight_region x (the rep's region is the item's);
* ``why_segment_fit`` = weight_segment_fit x the rep's net revenue per customer of the item's
  segment (``customers.segment``) in the trailing months, divided by the best such figure
  of any active candidate in the company (0 when negative, no sale or no segment);
* ``why_results`` = weight_results x the rep's attainment (revenue / target of the ``months``
  complete months up to ``as_of``; ``results = "revenue"``: the revenue) divided by the best
  active candidate's in the company (0 without a target or below 0). When no candidate has a
  target, revenue is used and the frame's ``attrs["notes"]`` says so;
* ``why_spare_capacity`` = weight_spare_capacity x (1 - customers / max_customers_per_rep)
  at the moment of the suggestion (with no limit: / the largest load of any active candidate);
* ``why_account_owner`` = weight_account_owner x (for a lead: the rep owns the lead's
  customer, or is suggested for that customer in the same batch).

Assignment (greedy, deterministic): customers by value (highest first, then id), then leads by
amount (then value, then id), each takes its best-scoring candidate that still has capacity;
ties go to the candidate with fewer customers, then the lower rep id. A rep at
``max_customers_per_rep`` gets nothing more, except leads of accounts that are already theirs
(a lead of a customer the rep took in the batch uses no second place; two leads of one new
account, one). ``alt_rep_*`` is the second-best candidate with capacity at that moment.
An item without one gets ``no_suggestion`` = ``no_candidate`` or ``at_capacity``.

Scope: a region or team scope holds only the items and candidates of that region / team (the
"best" figures that scale the rules are company-wide aggregates, so a score means the same in
every scope); a rep scope gets nothing (reps do not assign).
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd

from salesml.anonymous import identified_sql
from salesml.config import AssignmentSettings, Settings
from salesml.customers.rfm import parse_as_of
from salesml.periods import shift_period
from salesml.scope import Scope, check_scope, parse_scope

__all__ = [
    "COLUMNS",
    "FIT_COLUMNS",
    "ITEM_COLUMNS",
    "REASONS",
    "REP_COLUMNS",
    "RULES",
    "AssignmentInputs",
    "assignment_suggestions",
    "candidate_scores",
    "read_inputs",
    "reason_text",
    "suggest",
]

#: reason codes of an item that needs an owner
REASONS = ("no_owner", "unknown_owner", "owner_left", "owner_not_started")
#: the rules, in the order of their ``why_*`` columns
RULES = ("region", "segment_fit", "results", "spare_capacity", "account_owner")

#: columns of the items frame (what :func:`read_inputs` returns as ``items``)
ITEM_COLUMNS = [
    "kind", "customer_id", "opp_id", "name", "region", "segment", "team", "value", "amount",
    "reason_code", "former_rep_id", "reason_date", "account_owner_id",
]
#: columns of the candidate reps frame (``*_best``: the company's best active candidate)
REP_COLUMNS = [
    "rep_id", "name", "role", "team", "region", "customers", "revenue", "target", "attainment_pct",
    "customers_best", "revenue_best", "attainment_best",
]
#: columns of the segment-fit frame: a candidate's customers and net revenue per segment
FIT_COLUMNS = ["rep_id", "segment", "customers", "revenue", "revenue_per_customer", "best"]

#: columns of the suggestions, in order
COLUMNS = [
    "kind", "customer_id", "opp_id", "name", "region", "segment", "value", "amount",
    "reason", "reason_code", "former_rep_id", "reason_date",
    "suggested_rep_id", "suggested_rep_name", "suggested_team", "score",
    *(f"why_{r}" for r in RULES),
    "rep_segment_revenue_per_customer", "rep_results", "rep_customers",
    "alt_rep_id", "alt_rep_name", "alt_score", "no_suggestion",
]

_TEXT = ["kind", "customer_id", "opp_id", "name", "region", "segment", "reason", "reason_code", "former_rep_id",
         "suggested_rep_id", "suggested_rep_name", "suggested_team", "alt_rep_id", "alt_rep_name", "no_suggestion"]


class AssignmentInputs(NamedTuple):
    """What :func:`suggest` works from (see the module docs)."""

    items: pd.DataFrame
    reps: pd.DataFrame
    fit: pd.DataFrame


# --------------------------------------------------------------------------- SQL


def _empty(columns: list[str], numeric: tuple[str, ...] = (), dates: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame({
        c: pd.Series(dtype="float64" if c in numeric else "datetime64[us]" if c in dates else object) for c in columns
    })


def _results_periods(as_of: date, months: int) -> tuple[str, str]:
    """The ``months`` complete months up to ``as_of`` (its own month when it is the last day)."""
    own = f"{as_of:%Y-%m}"
    last = own if as_of.day == calendar.monthrange(as_of.year, as_of.month)[1] else shift_period(own, -1)
    return shift_period(last, -(months - 1)), last


def read_inputs(
    con: duckdb.DuckDBPyConnection,
    as_of: str | date | pd.Timestamp | None = None,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
) -> AssignmentInputs:
    """The items needing an owner, the candidate reps and their segment fit, as of a day
    (default: the last day of sales data), filtered to ``scope`` in the queries.

    ``items``: :data:`ITEM_COLUMNS`; ``reps``: :data:`REP_COLUMNS`; ``fit``: :data:`FIT_COLUMNS`.
    """
    settings = settings or Settings()
    a = settings.assignment
    a.check("settings")
    sc = parse_scope(scope)
    check_scope(con, sc)
    if as_of is None:
        last = con.execute("SELECT max(order_date) FROM order_lines").fetchall()[0][0]
        as_of = last if last is not None else date.today()
    day = parse_as_of(as_of)
    empty = AssignmentInputs(
        _empty(ITEM_COLUMNS, ("value", "amount"), ("reason_date",)),
        _empty(REP_COLUMNS, tuple(REP_COLUMNS[5:])),
        _empty(FIT_COLUMNS, tuple(FIT_COLUMNS[2:])),
    )
    if sc.level == "rep":
        return empty
    cond, scope_params = sc.sql("i")
    p_first, p_last = _results_periods(day, a.months)
    who_c, wp = identified_sql("c.customer_id", settings.anonymous_customer_ids)
    who_l, _ = identified_sql("l.customer_id", settings.anonymous_customer_ids)
    known = "l.credit_date <= $as_of AND coalesce(l.event_date, l.credit_date) <= $as_of"
    params = {
        "as_of": day,
        "win_start": (pd.Timestamp(day) - pd.DateOffset(months=a.months)).date(),
        "p_first": p_first,
        "p_last": p_last,
        "roles": list(a.roles),
        "un": settings.performance.unassigned,
        **wp,
        **scope_params,
    }
    cand = f"""
    stint AS (
        SELECT rep_id, name, role, team, region FROM reps
        WHERE valid_from <= $as_of AND (valid_to IS NULL OR valid_to >= $as_of)
        QUALIFY row_number() OVER (PARTITION BY rep_id ORDER BY valid_from DESC) = 1
    ),
    cand AS (SELECT * FROM stint WHERE list_contains($roles::VARCHAR[], role)),
    cust AS (
        SELECT * FROM customers c
        WHERE {who_c} AND (c.first_order_date IS NULL OR c.first_order_date <= $as_of)
    )"""
    items_sql = f"""
    WITH {cand},
    rep_state AS (
        SELECT rep_id,
               bool_or(valid_from <= $as_of AND (valid_to IS NULL OR valid_to >= $as_of)) AS active,
               max(valid_to) FILTER (WHERE valid_from <= $as_of) AS left_on,
               min(valid_from) AS first_day,
               arg_max(team, valid_from) FILTER (WHERE valid_from <= $as_of) AS last_team,
               arg_max(region, valid_from) FILTER (WHERE valid_from <= $as_of) AS last_region,
               arg_min(team, valid_from) AS first_team,
               arg_min(region, valid_from) AS first_region
        FROM reps GROUP BY rep_id
    ),
    val AS (
        SELECT l.customer_id, sum(l.amount)::DOUBLE AS value FROM ledger l
        WHERE {known} AND l.credit_date > $win_start AND l.customer_id IS NOT NULL GROUP BY 1
    ),
    latest_team AS (
        SELECT l.customer_id, arg_max(l.team, l.credit_date) AS team FROM ledger l
        WHERE {known} AND l.team <> $un AND l.customer_id IS NOT NULL GROUP BY 1
    ),
    flag AS (
        SELECT 'customer' AS kind, customer_id, NULL::VARCHAR AS opp_id, owner_rep_id AS former,
               NULL::DOUBLE AS amount
        FROM cust
        UNION ALL
        SELECT 'lead', customer_id, opp_id, rep_id, amount::DOUBLE
        FROM opportunities WHERE outcome = 'open' AND created_date <= $as_of
    ),
    items AS (
        SELECT f.kind, f.customer_id, f.opp_id, c.name,
               coalesce(c.region, s.last_region, s.first_region) AS region, c.segment,
               coalesce(s.last_team, s.first_team, CASE WHEN ao.active THEN ao.last_team END, lt.team) AS team,
               coalesce(v.value, 0) AS value, f.amount,
               CASE WHEN nullif(trim(f.former), '') IS NULL THEN 'no_owner'
                    WHEN s.rep_id IS NULL THEN 'unknown_owner'
                    WHEN s.active THEN NULL
                    WHEN s.left_on IS NOT NULL THEN 'owner_left'
                    ELSE 'owner_not_started' END AS reason_code,
               nullif(trim(f.former), '') AS former_rep_id,
               CASE WHEN s.left_on IS NOT NULL THEN s.left_on ELSE s.first_day END AS reason_date,
               CASE WHEN f.kind = 'lead' AND ao.active THEN c.owner_rep_id END AS account_owner_id
        FROM flag f
        LEFT JOIN cust c ON c.customer_id = f.customer_id
        LEFT JOIN rep_state s ON s.rep_id = f.former
        LEFT JOIN rep_state ao ON ao.rep_id = c.owner_rep_id
        LEFT JOIN val v ON v.customer_id = f.customer_id
        LEFT JOIN latest_team lt ON lt.customer_id = f.customer_id
    )
    SELECT {", ".join(ITEM_COLUMNS)} FROM items i
    WHERE reason_code IS NOT NULL AND {cond}
    ORDER BY kind, customer_id, opp_id
    """
    reps_sql = f"""
    WITH {cand},
    owned AS (SELECT owner_rep_id AS rep_id, count(*) AS n FROM cust GROUP BY 1),
    rev AS (
        SELECT l.rep_id, sum(l.amount)::DOUBLE AS revenue FROM ledger l
        WHERE l.rep_id IS NOT NULL AND l.period BETWEEN $p_first AND $p_last
          AND coalesce(l.event_date, l.credit_date) <= $as_of
        GROUP BY 1
    ),
    tgt AS (
        SELECT rep_id, sum(target_revenue)::DOUBLE AS target FROM targets
        WHERE rep_id IS NOT NULL AND period BETWEEN $p_first AND $p_last GROUP BY 1
    ),
    r AS (
        SELECT c.rep_id, c.name, c.role, c.team, c.region, coalesce(o.n, 0)::DOUBLE AS customers,
               coalesce(v.revenue, 0) AS revenue, t.target,
               CASE WHEN t.target > 0 THEN coalesce(v.revenue, 0) / t.target * 100 END AS attainment_pct
        FROM cand c LEFT JOIN owned o USING (rep_id) LEFT JOIN rev v USING (rep_id) LEFT JOIN tgt t USING (rep_id)
    ),
    company AS (
        SELECT *, max(customers) OVER () AS customers_best, max(revenue) OVER () AS revenue_best,
               max(attainment_pct) OVER () AS attainment_best
        FROM r
    )
    SELECT {", ".join(REP_COLUMNS)} FROM company i WHERE {cond} ORDER BY rep_id
    """
    fit_sql = f"""
    WITH {cand},
    f AS (
        SELECT l.rep_id, c.segment, count(DISTINCT l.customer_id)::DOUBLE AS customers,
               sum(l.amount)::DOUBLE AS revenue
        FROM ledger l JOIN cust c ON c.customer_id = l.customer_id
        WHERE {who_l} AND {known} AND l.credit_date > $win_start AND c.segment IS NOT NULL
          AND l.rep_id IN (SELECT rep_id FROM cand)
        GROUP BY ALL
    ),
    company AS (
        SELECT *, revenue / customers AS revenue_per_customer,
               max(revenue / customers) OVER (PARTITION BY segment) AS best
        FROM f
    )
    SELECT f.rep_id, f.segment, f.customers, f.revenue, f.revenue_per_customer, f.best
    FROM company f JOIN cand i USING (rep_id) WHERE {cond} ORDER BY f.rep_id, f.segment
    """

    def run(sql: str) -> pd.DataFrame:
        return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).df()

    items, reps, fit = run(items_sql), run(reps_sql), run(fit_sql)
    items["reason_date"] = pd.to_datetime(items["reason_date"])
    return AssignmentInputs(items, reps, fit)


# --------------------------------------------------------------------------- pure functions


def reason_text(items: pd.DataFrame) -> pd.Series:
    """Why each item needs an owner, in English words: "no owner", "owner R012 left on
    2026-03-31", "rep R081 left on ..." (a lead), "owner R999 is not in the hierarchy",
    "owner R050 starts on ..."."""

    def one(row) -> str:
        who = "owner" if row.kind == "customer" else "rep"
        code, rep = row.reason_code, row.former_rep_id
        day = "" if pd.isna(row.reason_date) else f"{pd.Timestamp(row.reason_date):%Y-%m-%d}"
        if code == "no_owner":
            return f"no {who}"
        if code == "unknown_owner":
            return f"{who} {rep} is not in the hierarchy"
        if code == "owner_left":
            return f"{who} {rep} left on {day}"
        if code == "owner_not_started":
            return f"{who} {rep} starts on {day}"
        return ""

    if items.empty:
        return pd.Series([], index=items.index, dtype=object, name="reason")
    return pd.Series([one(r) for r in items.itertuples(index=False)], index=items.index, dtype=object, name="reason")


def _item_key(items: pd.DataFrame) -> pd.Series:
    return np.where(items["kind"] == "lead", "lead:" + items["opp_id"].astype(str), "customer:" + items["customer_id"].astype(str))


def _best(frame: pd.DataFrame, best_col: str, col: str) -> pd.Series:
    """The company-wide best of ``col`` (its ``*_best`` column), else the frame's own best."""
    if best_col in frame.columns:
        return frame[best_col].astype(float)
    return pd.Series(frame[col].astype(float).max(), index=frame.index)


def _ratio(value: pd.Series, best: pd.Series) -> pd.Series:
    """value / best in [0, 1]; 0 where either is missing or best is not above 0."""
    v, b = value.astype(float), best.astype(float)
    out = (v / b.where(b > 0)).clip(lower=0, upper=1)
    return out.fillna(0.0)


def _results_measure(reps: pd.DataFrame, settings: AssignmentSettings) -> tuple[pd.Series, pd.Series, str | None]:
    """The results measure of each rep, the company's best, and a note when attainment falls back."""
    if settings.results == "attainment":
        best = _best(reps, "attainment_best", "attainment_pct")
        if best.notna().any():
            return reps["attainment_pct"].astype(float), best, None
        note = "no candidate has a target in the trailing months: the results rule measures revenue"
    else:
        note = None
    return reps["revenue"].astype(float), _best(reps, "revenue_best", "revenue"), note


def candidate_scores(
    items: pd.DataFrame,
    reps: pd.DataFrame,
    fit: pd.DataFrame,
    settings: AssignmentSettings | None = None,
) -> pd.DataFrame:
    """Every (item, candidate) pair with the rules' contributions that do not depend on the
    batch: ``item_key, rep_id, rep_name, rep_team, rep_region, rep_customers,
    rep_segment_revenue_per_customer, rep_results, why_region, why_segment_fit, why_results,
    why_account_owner, static_score`` (spare capacity is scored by :func:`suggest` as the
    batch fills the reps). Candidates are the reps of ``settings.roles``; with ``same_region``
    only those of the item's region."""
    s = settings or AssignmentSettings()
    s.check("settings")
    cands = reps[reps["role"].isin(s.roles)] if "role" in reps.columns else reps
    measure, best, note = _results_measure(cands, s)
    c = pd.DataFrame({
        "rep_id": cands["rep_id"].astype(object),
        "rep_name": cands["name"].astype(object),
        "rep_team": cands["team"].astype(object),
        "rep_region": cands["region"].astype(object),
        "rep_customers": cands["customers"].astype(float),
        "rep_results": measure,
        "results_score": _ratio(measure, best),
    })
    it = pd.DataFrame({
        "item_key": _item_key(items) if len(items) else pd.Series(dtype=object),
        "region": items["region"].astype(object),
        "segment": items["segment"].astype(object),
        "account_owner_id": items["account_owner_id"].astype(object),
    })
    pairs = it.merge(c, how="cross")
    if s.same_region:
        pairs = pairs[pairs["region"].notna() & (pairs["region"] == pairs["rep_region"])]
    f = fit[["rep_id", "segment", "revenue_per_customer"]].copy()
    f["fit_score"] = _ratio(fit["revenue_per_customer"], _best(fit, "best", "revenue_per_customer"))
    pairs = pairs.merge(f, on=["rep_id", "segment"], how="left")
    pairs = pairs.rename(columns={"revenue_per_customer": "rep_segment_revenue_per_customer"})
    same = (pairs["region"] == pairs["rep_region"]).fillna(False).astype(float)
    owner = (pairs["account_owner_id"] == pairs["rep_id"]).fillna(False).astype(float)
    pairs["why_region"] = s.weight_region * same
    pairs["why_segment_fit"] = s.weight_segment_fit * pairs["fit_score"].fillna(0.0)
    pairs["why_results"] = s.weight_results * pairs["results_score"]
    pairs["why_account_owner"] = s.weight_account_owner * owner
    pairs["static_score"] = pairs[["why_region", "why_segment_fit", "why_results", "why_account_owner"]].sum(axis=1)
    out = pairs[[
        "item_key", "rep_id", "rep_name", "rep_team", "rep_region", "rep_customers", "rep_segment_revenue_per_customer",
        "rep_results", "why_region", "why_segment_fit", "why_results", "why_account_owner", "static_score",
    ]].reset_index(drop=True)
    out.attrs["notes"] = [note] if note else []
    return out


def _order(items: pd.DataFrame) -> pd.DataFrame:
    """Customers by value, then leads by amount (each highest first, ties by id)."""
    t = items.assign(
        _k=(items["kind"] == "lead").astype(int),
        _a=items["amount"].astype(float).fillna(-np.inf),
        _v=items["value"].astype(float).fillna(0.0),
        _id=items["customer_id"].astype(object).fillna(""),
        _opp=items["opp_id"].astype(object).fillna(""),
    )
    t = t.sort_values(["_k", "_a", "_v", "_id", "_opp"], ascending=[True, False, False, True, True], kind="mergesort")
    return t.drop(columns=["_k", "_a", "_v", "_id", "_opp"])


class _Load:
    """Each candidate's customers as the batch fills them, and the batch's accounts per rep."""

    def __init__(self, reps: pd.DataFrame, settings: AssignmentSettings):
        self.n = dict(zip(reps["rep_id"], reps["customers"].astype(float), strict=True))
        self.held: dict[str, set[str]] = {}
        self.cap = settings.max_customers_per_rep
        ref = float(_best(reps, "customers_best", "customers").max()) if len(reps) else 1.0
        self.ref = float(self.cap) if self.cap else max(ref if np.isfinite(ref) else 1.0, 1.0)


def _assign(items: pd.DataFrame, scores: pd.DataFrame, load: _Load, s: AssignmentSettings) -> list[dict]:
    by_item = {k: g for k, g in scores.groupby("item_key", sort=False)}
    rows = []
    for item in items.itertuples(index=False):
        key = item.item_key
        account = item.customer_id if isinstance(item.customer_id, str) and item.customer_id else key
        row = {"item_key": key, "no_suggestion": "no_candidate"}
        g = by_item.get(key)
        if g is not None and len(g):
            rep_ids = g["rep_id"].tolist()
            n = np.array([load.n.get(r, 0.0) for r in rep_ids])
            free = np.array([r == item.account_owner_id or account in load.held.get(r, ()) for r in rep_ids])
            ok = free | (n < load.cap) if load.cap else np.ones(len(rep_ids), dtype=bool)
            spare = s.weight_spare_capacity * np.clip(1 - n / load.ref, 0, 1)
            total = np.round(g["static_score"].to_numpy() + spare, 9)
            order = sorted(range(len(rep_ids)), key=lambda i: (-total[i], n[i], rep_ids[i]))
            feasible = [i for i in order if ok[i]]
            if not feasible:
                row["no_suggestion"] = "at_capacity"
            else:
                best = feasible[0]
                b = g.iloc[best]
                row.update(
                    no_suggestion=None,
                    suggested_rep_id=b["rep_id"], suggested_rep_name=b["rep_name"], suggested_team=b["rep_team"],
                    score=float(total[best]),
                    why_region=b["why_region"], why_segment_fit=b["why_segment_fit"], why_results=b["why_results"],
                    why_spare_capacity=float(spare[best]), why_account_owner=b["why_account_owner"],
                    rep_segment_revenue_per_customer=b["rep_segment_revenue_per_customer"],
                    rep_results=b["rep_results"], rep_customers=float(n[best]),
                )
                if len(feasible) > 1:
                    alt = g.iloc[feasible[1]]
                    row.update(alt_rep_id=alt["rep_id"], alt_rep_name=alt["rep_name"], alt_score=float(total[feasible[1]]))
                rep = b["rep_id"]
                if not free[best]:
                    load.n[rep] = load.n.get(rep, 0.0) + 1
                    load.held.setdefault(rep, set()).add(account)
        rows.append(row)
    return rows


def suggest(
    items: pd.DataFrame,
    reps: pd.DataFrame,
    fit: pd.DataFrame,
    settings: AssignmentSettings | None = None,
) -> pd.DataFrame:
    """The suggestions table (:data:`COLUMNS`), one row per item, customers first (by value),
    then leads (by amount): the suggested rep and score with each rule's contribution
    (``why_*``), the rep's figures behind them, and the second-best rep with capacity.

    A lead of a customer suggested in the same batch counts that suggestion as its account's
    owner. ``attrs["notes"]`` lists what a reader must know (e.g. a rule falling back)."""
    s = settings or AssignmentSettings()
    s.check("settings")
    if items.empty:
        out = _empty(COLUMNS, ("value", "amount", "score", *(f"why_{r}" for r in RULES), "rep_segment_revenue_per_customer",
                               "rep_results", "rep_customers", "alt_score"), ("reason_date",))
        out.attrs["notes"] = []
        return out
    it = _order(items.copy())
    it["item_key"] = _item_key(it)
    load = _Load(reps, s)
    customers = it[it["kind"] != "lead"]
    scores_c = candidate_scores(customers, reps, fit, s)
    rows = _assign(customers, scores_c, load, s)
    taken = {r["item_key"].split(":", 1)[1]: r.get("suggested_rep_id") for r in rows if r.get("suggested_rep_id")}
    leads = it[it["kind"] == "lead"].copy()
    if len(leads):
        in_batch = leads["customer_id"].map(taken)
        leads["account_owner_id"] = leads["account_owner_id"].astype(object).where(leads["account_owner_id"].notna(), in_batch)
    scores_l = candidate_scores(leads, reps, fit, s)
    rows += _assign(leads, scores_l, load, s)
    result = pd.DataFrame(rows).set_index("item_key")
    out = it.set_index("item_key").drop(columns=["account_owner_id", "team"], errors="ignore")
    out = out.join(result, how="left")
    out["reason"] = reason_text(out)
    for c in COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out[COLUMNS].reset_index(drop=True)
    for c in _TEXT:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    for c in ("value", "amount", "score", *(f"why_{r}" for r in RULES), "rep_segment_revenue_per_customer",
              "rep_results", "rep_customers", "alt_score"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    out.attrs["notes"] = list(dict.fromkeys(scores_c.attrs.get("notes", []) + scores_l.attrs.get("notes", [])))
    return out


def assignment_suggestions(
    con: duckdb.DuckDBPyConnection,
    as_of: str | date | pd.Timestamp | None = None,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """:func:`read_inputs` then :func:`suggest`: the suggestions of ``scope`` as of a day."""
    settings = settings or Settings()
    return suggest(*read_inputs(con, as_of, scope, settings), settings.assignment)
