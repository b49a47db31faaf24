"""The churn scores kept in the warehouse (table ``churn_scores``, written by ``salesml score
churn``) read back by scope, and which customers a scope owns.

Light on purpose (DuckDB and pandas only, no model code): the reports' warnings, the Python
API and the workbench read scores without loading scikit-learn.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from salesml.scope import parse_scope

__all__ = ["STORED_COLUMNS", "scope_customers", "stored_scores"]


def scope_customers(scope) -> tuple[str, dict]:
    """SQL selecting the customers of a report scope, by their owner (customers.owner_rep_id):
    a rep's own customers, those of a team's or a region's reps (the owner's current
    stint), or everyone (company: "")."""

    sc = parse_scope(scope)
    if sc.level == "company":
        return "", {}
    if sc.level == "rep":
        return "SELECT customer_id FROM customers WHERE owner_rep_id = $scope_value", {"scope_value": sc.value}
    column = "team" if sc.level == "team" else "region"
    return (
        f"""SELECT c.customer_id FROM customers c
            JOIN (SELECT rep_id, arg_max({column}, valid_from) AS owner_{column} FROM reps GROUP BY rep_id) r
              ON r.rep_id = c.owner_rep_id
            WHERE r.owner_{column} = $scope_value""",
        {"scope_value": sc.value},
    )


def stored_scores(
    con: duckdb.DuckDBPyConnection,
    scope=None,
    as_of=None,
    version: str | None = None,
    min_risk: float = 0.0,
) -> pd.DataFrame:
    """The churn scores kept in the warehouse (``salesml score churn``) of the scope's customers:
    ``customer_id, customer_name, owner_rep_id, owner_name, risk, value_at_risk,
    revenue_lookback, top_reasons, as_of, version, lookahead``; riskiest value first.

    ``as_of`` / ``version``: a scoring (default: the latest as-of date, and the newest version
    scored on it); ``min_risk``: only customers at least this likely to churn. A warehouse
    that was never scored gives an empty frame."""
    sql, params = scope_customers(parse_scope(scope))
    only = f"AND s.customer_id IN ({sql})" if sql else ""
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'churn_scores'").fetchone()[0]:
        return pd.DataFrame(columns=STORED_COLUMNS)
    day = "(SELECT max(as_of) FROM churn_scores)" if as_of is None else "$as_of::DATE"
    which = "" if version is None else "AND version = $version"
    return con.execute(
        f"""
        WITH latest AS (SELECT as_of, max(version) AS version FROM churn_scores
                        WHERE as_of = {day} {which} GROUP BY as_of),
             names AS (SELECT rep_id, arg_max(name, valid_from) AS owner_name FROM reps GROUP BY rep_id)
        SELECT s.customer_id, c.name AS customer_name, s.owner_rep_id, n.owner_name, s.risk,
               s.value_at_risk::DOUBLE AS value_at_risk, s.revenue_lookback::DOUBLE AS revenue_lookback,
               s.top_reasons, s.as_of, s.version, s.lookahead
        FROM churn_scores s JOIN latest USING (as_of, version)
        LEFT JOIN customers c USING (customer_id)
        LEFT JOIN names n ON n.rep_id = s.owner_rep_id
        WHERE s.risk >= $min_risk {only}
        ORDER BY s.value_at_risk DESC NULLS LAST, s.risk DESC, s.customer_id
        """,
        {"min_risk": float(min_risk), **({"as_of": pd.Timestamp(as_of).date().isoformat()} if as_of is not None else {}),
         **({"version": version} if version is not None else {}), **params},
    ).df()


STORED_COLUMNS = ["customer_id", "customer_name", "owner_rep_id", "owner_name", "risk", "value_at_risk", "revenue_lookback",
                  "top_reasons", "as_of", "version", "lookahead"]
