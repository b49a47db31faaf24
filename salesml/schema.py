"""The canonical data model: table and column names, warehouse types, pandera schemas.

This module is the contract between sources, the warehouse and the analytics. Every
other module names columns through the constants here (``OL.amount`` rather than the
string ``"amount"``), so a rename is one edit.

Conventions
-----------
* IDs are text (``"007"`` keeps its zeros).
* Money is ``DECIMAL(18,2)`` in the warehouse and reconciles to the cent; unit prices and
  unit costs carry four decimals.
* ``discount`` is a fraction of the list price (0.15 = 15 % off).
* Periods and months are text ``YYYY-MM``.
* ``status`` of an order line is one of ``completed``, ``cancelled``, ``returned``. A return
  is a line of its own with a negative quantity and amount, dated when the goods came
  back, whose ``return_of_order_id`` / ``return_of_line_no`` name the sale it reverses.
* The rep hierarchy is effective-dated: one row per rep and period of validity,
  ``valid_to`` inclusive and empty while current.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace

import pandas as pd
import pyarrow

STATUSES = ("completed", "cancelled", "returned")
OPPORTUNITY_OUTCOMES = ("won", "lost", "open")
ROLES = ("rep", "manager", "director")

#: columns the warehouse adds to every canonical table (provenance)
BATCH_ID = "batch_id"
SOURCE_ROW = "source_row"

#: text in frames on their way in (raw rows, mapped columns): Arrow-backed strings, compact
#: and vectorised (missing = <NA>); the readers give raw frames in it already
TEXT = pd.StringDtype("pyarrow")


def text_series(values: pyarrow.Array | pyarrow.ChunkedArray, index: pd.Index | None = None, name: str | None = None) -> pd.Series:
    """Arrow text as a :data:`TEXT` column, without copying the text."""
    if not isinstance(values, pyarrow.ChunkedArray):
        values = pyarrow.chunked_array([values])
    if values.type != pyarrow.large_string():
        values = values.cast(pyarrow.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(values), index=index, name=name)


#: ``dtype`` values a column may have, with their DuckDB type
SQL_TYPES = {
    "str": "VARCHAR",
    "int": "INTEGER",
    "date": "DATE",
    "money": "DECIMAL(18,2)",
    "price": "DECIMAL(18,4)",
    "qty": "DECIMAL(18,3)",
    "rate": "DECIMAL(9,4)",
    "float": "DOUBLE",
    "period": "VARCHAR",
}


@dataclass(frozen=True, eq=False)
class Check:
    """A pandera check, described here and built when a schema is (:func:`pandera_schema`):
    ``check.ge(0, error="negative")`` stands for pandera's ``Check.ge(0, error="negative")``,
    ``check.custom(fn, error=...)`` for ``Check(fn, error=...)``. So the model, and every
    command that only reads the warehouse, never import pandera (~0.3 s a process); the import
    path does. Compared and hashed by identity, as pandera's checks are."""

    method: str | None
    args: tuple = ()
    kwargs: tuple = ()

    def build(self):
        import pandera.pandas as pa  # when a schema is built: the import path only

        kwargs = dict(self.kwargs)
        return pa.Check(*self.args, **kwargs) if self.method is None else getattr(pa.Check, self.method)(*self.args, **kwargs)


def _check(method: str | None):
    return lambda *args, **kwargs: Check(method, args, tuple(kwargs.items()))


#: ``check.ge(0, error=...)``, ``check.isin(...)``, ``check.custom(fn, error=...)``: :class:`Check` descriptions
check = SimpleNamespace(**{m: _check(m) for m in ("ge", "ne", "isin", "in_range", "str_matches")}, custom=_check(None))


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    required: bool = False
    description: str = ""
    #: checks applied to non-null values (:class:`Check`)
    checks: tuple[Check, ...] = ()
    #: a date that cannot lie in the future (checked against the load date)
    past: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.dtype]


@dataclass(frozen=True)
class RowCheck:
    """A check across the columns of a row (pandera, on the whole frame), with the columns it
    reads: a source without one of them has nothing for it to check."""

    columns: tuple[str, ...]
    check: Check


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str = ""
    #: checks across the columns of a row (see :class:`RowCheck`)
    checks: tuple[RowCheck, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def ddl(self) -> str:
        cols = [f'"{c.name}" {c.sql_type}' for c in self.columns]
        cols += [f'"{BATCH_ID}" INTEGER NOT NULL', f'"{SOURCE_ROW}" INTEGER']
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  ' + ",\n  ".join(cols) + "\n)"


_period = check.str_matches(r"^\d{4}-(0[1-9]|1[0-2])$", error="not of the form YYYY-MM")
_nonneg = check.ge(0, error="negative")


def _one_of(values) -> Check:
    return check.isin(list(values), error=f"not one of {', '.join(values)}")


def _between(lo, hi) -> Check:
    return check.in_range(lo, hi, error=f"not between {lo} and {hi}")


def _c(name, dtype, required=False, description="", checks=(), past=False):
    return Column(name, dtype, required, description, tuple(checks), past)


ORDER_LINES = Table(
    "order_lines",
    key=("order_id", "line_no"),
    description="one row per order line; returns are lines of their own",
    columns=(
        _c("order_id", "str", True, "order (or credit note) number"),
        _c("line_no", "int", True, "line number within the order", [_nonneg]),
        _c("order_date", "date", True, "date of the sale, or of the return", past=True),
        _c("customer_id", "str", True, "customer; empty (or a configured anonymous id) for walk-in / guest sales"),
        _c("product_id", "str", True),
        _c("quantity", "qty", True, "negative on returns", [check.ne(0, error="is 0")]),
        _c("unit_price", "price", False, "net unit price after discount"),
        _c("amount", "money", True, "net line revenue = quantity x unit price"),
        _c("rep_id", "str", False, "rep credited with the line"),
        _c("discount", "rate", False, "fraction off the list price", [_between(0, 1)]),
        _c("unit_cost", "price", False, "cost per unit", [_nonneg]),
        _c("cost", "money", False, "line cost = quantity x unit cost"),
        _c("currency", "str", False, "ISO 4217 code"),
        _c("status", "str", True, "completed / cancelled / returned", [_one_of(STATUSES)]),
        _c("return_of_order_id", "str", False, "order of the sale a return reverses"),
        _c("return_of_line_no", "int", False, "line of the sale a return reverses"),
        _c("channel", "str", False, "sales channel of the order"),
        _c("region", "str", False, "region of the sale (usually the customer's)"),
    ),
    checks=(
        RowCheck(
            ("status", "quantity"),
            check.custom(
                lambda df: ~((df["status"] == "returned") & (df["quantity"] > 0))
                & ~((df["status"] == "completed") & (df["quantity"] < 0)),
                error="sign of quantity does not match status (returns are negative, sales positive)",
            ),
        ),
    ),
)

CUSTOMERS = Table(
    "customers",
    key=("customer_id",),
    columns=(
        _c("customer_id", "str", True),
        _c("name", "str"),
        _c("region", "str"),
        _c("city", "str"),
        _c("segment", "str"),
        _c("acquisition_channel", "str"),
        _c("first_order_date", "date", past=True),
        _c("owner_rep_id", "str", False, "current account owner"),
    ),
)

PRODUCTS = Table(
    "products",
    key=("product_id",),
    columns=(
        _c("product_id", "str", True),
        _c("name", "str"),
        _c("category", "str"),
        _c("brand", "str"),
        _c("unit_cost", "price", False, "current standard cost", [_nonneg]),
        _c("list_price", "price", False, "current list price", [_nonneg]),
    ),
)

REPS = Table(
    "reps",
    key=("rep_id", "valid_from"),
    description="effective-dated sales hierarchy: one row per rep and stint",
    columns=(
        _c("rep_id", "str", True),
        _c("name", "str"),
        _c("role", "str", False, "rep / manager / director", [_one_of(ROLES)]),
        _c("team", "str", True),
        _c("region", "str", True),
        _c("manager_id", "str"),
        _c("valid_from", "date", True, "first day of this stint"),
        _c("valid_to", "date", False, "last day of this stint (inclusive); empty while current"),
    ),
    checks=(
        RowCheck(
            ("valid_from", "valid_to"),
            check.custom(
                lambda df: df["valid_to"].isna() | (df["valid_to"] >= df["valid_from"]),
                error="valid_to is before valid_from",
            ),
        ),
    ),
)

TARGETS = Table(
    "targets",
    key=("rep_id", "team", "region", "period"),
    description="monthly targets, per rep (or per team / region with rep_id empty)",
    columns=(
        _c("rep_id", "str"),
        _c("team", "str"),
        _c("region", "str"),
        _c("period", "period", True, "YYYY-MM", [_period]),
        _c("target_revenue", "money", True, checks=[_nonneg]),
        _c("target_margin", "money"),
    ),
)

OPPORTUNITIES = Table(
    "opportunities",
    key=("opp_id",),
    columns=(
        _c("opp_id", "str", True),
        _c("customer_id", "str"),
        _c("rep_id", "str"),
        _c("created_date", "date", True, past=True),
        _c("stage", "str"),
        _c("expected_close", "date"),
        _c("closed_date", "date", past=True),
        _c("amount", "money", checks=[_nonneg]),
        _c("outcome", "str", False, "won / lost / open", [_one_of(OPPORTUNITY_OUTCOMES)]),
    ),
)

INVENTORY = Table(
    "inventory",
    key=("product_id", "warehouse", "snapshot_date"),
    columns=(
        _c("product_id", "str", True),
        _c("warehouse", "str", True),
        _c("snapshot_date", "date", True, past=True),
        _c("on_hand", "qty", checks=[_nonneg]),
        _c("on_order", "qty", checks=[_nonneg]),
        _c("lead_time_days", "int", checks=[_nonneg]),
    ),
)

MARKETING_SPEND = Table(
    "marketing_spend",
    key=("month", "channel"),
    columns=(
        _c("month", "period", True, "YYYY-MM", [_period]),
        _c("channel", "str", True, "acquisition channel the money was spent on"),
        _c("spend", "money", True, checks=[_nonneg]),
    ),
)

TICKETS = Table(
    "tickets",
    key=("ticket_id",),
    columns=(
        _c("ticket_id", "str", True),
        _c("customer_id", "str"),
        _c("product_id", "str"),
        _c("opened", "date", True, past=True),
        _c("closed", "date", past=True),
        _c("category", "str"),
        _c("satisfaction", "int", False, "1 (very unhappy) .. 5", [_between(1, 5)]),
    ),
)

ORDER_SPLITS = Table(
    "order_splits",
    key=("order_id", "rep_id"),
    description="split credit: the share of an order each rep is credited with (sums to 100 per order)",
    columns=(
        _c("order_id", "str", True),
        _c("rep_id", "str", True),
        _c("share_pct", "rate", True, "percent of the order credited to the rep", [_between(0, 100)]),
    ),
)

#: canonical tables in load order (dimensions before facts)
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        REPS,
        PRODUCTS,
        CUSTOMERS,
        ORDER_LINES,
        TARGETS,
        OPPORTUNITIES,
        INVENTORY,
        MARKETING_SPEND,
        TICKETS,
        ORDER_SPLITS,
    )
}


#: (table, column) -> (referenced table, its key column). Checked on load when the
#: referenced table has rows; customers are not checked (sales may be anonymous).
#: required columns that may hold no value: an order line's customer (walk-in and guest sales,
#: or an anonymous id configured per source); such lines count in revenue and performance and
#: are left out of customer models
MAY_BE_EMPTY = {("order_lines", "customer_id")}

FOREIGN_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("order_lines", "product_id"): ("products", "product_id"),
    ("order_lines", "rep_id"): ("reps", "rep_id"),
    ("targets", "rep_id"): ("reps", "rep_id"),
    ("opportunities", "rep_id"): ("reps", "rep_id"),
    ("inventory", "product_id"): ("products", "product_id"),
    ("tickets", "product_id"): ("products", "product_id"),
    ("customers", "owner_rep_id"): ("reps", "rep_id"),
    ("order_splits", "rep_id"): ("reps", "rep_id"),
}


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(
            f"unknown table {name!r}; canonical tables are: {', '.join(TABLES)}"
        ) from None


def _names(t: Table) -> SimpleNamespace:
    return SimpleNamespace(**{c.name: c.name for c in t.columns})


#: attribute access to column names: ``OL.amount == "amount"``
OL = _names(ORDER_LINES)
CU = _names(CUSTOMERS)
PR = _names(PRODUCTS)
RP = _names(REPS)
TG = _names(TARGETS)

_PANDERA_DTYPES = {
    "str": None,  # text: object or pandas' str dtype, both fine
    "int": "Int64",
    "date": "datetime64[ns]",
    "money": "float64",
    "price": "float64",
    "qty": "float64",
    "rate": "float64",
    "float": "float64",
    "period": None,
}


def pandera_schema(t: Table | str, columns: Iterable[str] | None = None):
    """The pandera schema a typed frame must satisfy before it enters the warehouse.

    Types are checked loosely on the pandas side (``float64`` for money, which the
    warehouse stores as DECIMAL); the checks carry the value rules. Validate with
    ``lazy=True`` to get every failing row at once. ``columns``: only these columns'
    checks and the row checks that read only these columns (a source's columns: one
    without a value has nothing to check).
    """
    t = table(t) if isinstance(t, str) else t
    return _pandera_schema(t, None if columns is None else frozenset(columns))


@lru_cache(maxsize=128)
def _pandera_schema(t: Table, columns: frozenset[str] | None):
    import pandera.pandas as pa  # the import path only (see Check)

    cols = {}
    for c in t.columns:
        if columns is not None and c.name not in columns:
            continue
        checks = [k.build() for k in c.checks]
        if c.sql_type.startswith("DECIMAL"):
            precision, scale = (int(x) for x in c.sql_type[8:-1].split(","))
            limit = 10.0 ** (precision - scale)
            checks.append(pa.Check(lambda s, lim=limit: s.abs() < lim, error=f"too large for the warehouse (limit {limit:.0e})"))
        cols[c.name] = pa.Column(
            _PANDERA_DTYPES[c.dtype],
            checks=checks,
            nullable=True,  # missing required values: salesml.cleaning's missing_required rule
            required=True,
            coerce=False,
        )
    checks = [rc.check.build() for rc in t.checks if columns is None or columns.issuperset(rc.columns)]
    return pa.DataFrameSchema(cols, name=t.name, strict=False, checks=checks)
