"""Named cleaning rules: pure functions ``rule(df, ctx) -> (df, RuleLog)``.

Each rule takes the frame of one file's rows, mapped onto canonical column names, and
returns a new frame (the input is never mutated) plus a log of what it fixed, flagged or
rejected. :data:`RULES` lists them in the order the ingest applies them; the order
matters (text is normalised before codes are mapped, numbers parsed before amounts are
derived, returns linked before duplicates are judged...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pandera
import pandera.errors
import pyarrow as pa
import pyarrow.compute as pc

from salesml import schema
from salesml.cleaning import dates, numbers
from salesml.cleaning import log as L
from salesml.cleaning.dates import DATE_FORMATS as DATE_FORMATS
from salesml.cleaning.dates import choose_date_format as choose_date_format
from salesml.cleaning.errors import CleaningError
from salesml.cleaning.numbers import parse_number_text as parse_number_text
from salesml.config import CleaningSettings, SourceSettings, TableSource
from salesml.duck import scratch


@dataclass(frozen=True)
class Context:
    """Everything a rule may know beyond the rows themselves (no I/O inside rules)."""

    table: schema.Table
    spec: TableSource = field(default_factory=TableSource)
    #: the source's file-wide settings (number style, policies for returns and duplicates)
    source: SourceSettings = field(default_factory=SourceSettings)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    settings: CleaningSettings = field(default_factory=CleaningSettings)
    #: the load date: dates after it (+ tolerance) are quarantined
    today: date = field(default_factory=date.today)
    #: referenced table -> its keys in the warehouse; a table missing here has no rows,
    #: and then its foreign keys are not checked
    known_keys: dict[str, frozenset] = field(default_factory=dict)
    #: completed sales already loaded that returns may reverse (order_id, line_no,
    #: customer_id, product_id, order_date, quantity, returned): a frame, or a function
    #: ``(pairs, orders) -> frame | None`` that fetches only those of the given customer /
    #: product pairs (a frame of canonical ``customer_id, product_id``) and order ids — the
    #: ones the rows' returns could match or name
    sales: pd.DataFrame | Callable[[pd.DataFrame, list[str]], pd.DataFrame | None] | None = None
    #: where the rows come from, for messages
    where: str = ""
    #: canonical column -> the rows whose value a user rule set (built-in rules never undo
    #: them: a rule "C invoices are cancellations" keeps those lines cancelled)
    set_by_rules: dict[str, frozenset] = field(default_factory=dict)


Rule = Callable[[pd.DataFrame, Context], tuple[pd.DataFrame, L.RuleLog]]

# pandera imports and registers its pandas backends on a schema's first validation; done
# here, with this module's imports, so that a load's time is its rows' work
pandera.DataFrameSchema.register_default_backends(pd.DataFrame)

#: text columns are Arrow-backed strings (missing = <NA>): compact, and vectorised in C++;
#: the readers give raw frames in it already
TEXT = schema.TEXT


def as_text(s: pd.Series) -> pd.Series:
    return s if s.dtype == TEXT else s.astype(TEXT)


def mask(s: pd.Series) -> np.ndarray:
    """A boolean Series (perhaps nullable) as a plain numpy mask, missing = False."""
    return s.to_numpy(dtype=bool, na_value=False) if hasattr(s, "to_numpy") else np.asarray(s, dtype=bool)


def arrow_mask(a) -> np.ndarray:
    """An Arrow boolean array as a numpy mask, missing = False."""
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def map_unique(s: pd.Series, f: Callable[[str], str | None]) -> pd.Series:
    """Apply ``f`` to each distinct non-missing text once and spread the results."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if not len(uniques):
        return as_text(s)
    mapped = np.array([f(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=s.index, dtype=TEXT)


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Where two text columns differ, a missing value and a present one counting as different."""
    a_na, b_na = a.isna().to_numpy(), b.isna().to_numpy()
    both = ~a_na & ~b_na
    out = a_na != b_na
    out[both] = mask(as_text(a[both]) != as_text(b[both]))
    return out


# --------------------------------------------------------------------------- text


_SPACES = re.compile(r"\s+")


def _normalise(v: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", v)).strip()


def _odd_text(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Values that need more than "blank to missing": any character that is not printable
    ASCII (non-ASCII, tabs, line breaks, other controls), outer spaces or a run of spaces.
    Read off the column's bytes in one pass (nearly all of a real file is plain)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    parts = [_odd_chunk(c) for c in chunks]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _odd_chunk(a: pa.Array) -> np.ndarray:
    n = len(a)
    if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        return _odd_chunk(a.cast(pa.large_string()))
    odd = np.zeros(n, dtype=bool)
    _, offset_buf, data_buf = a.buffers()
    if not n or data_buf is None:
        return odd
    width = np.int64 if pa.types.is_large_string(a.type) else np.int32
    offsets = np.frombuffer(offset_buf, dtype=width)[a.offset : a.offset + n + 1].astype(np.int64)
    start = int(offsets[0])
    data = np.frombuffer(data_buf, dtype=np.uint8)[start : int(offsets[-1])]
    if not len(data):
        return odd
    offsets -= start

    def rows(at: np.ndarray) -> np.ndarray:  # the value each byte position belongs to
        return np.searchsorted(offsets, at, side="right") - 1

    odd[rows(np.flatnonzero((data < 0x20) | (data > 0x7E)))] = True
    space = data == 0x20
    run = np.flatnonzero(space[:-1] & space[1:])
    if len(run):
        r = rows(run)
        odd[r[run + 1 < offsets[r + 1]]] = True  # both spaces in one value
    filled = np.flatnonzero(offsets[1:] > offsets[:-1])
    odd[filled[space[offsets[filled]] | space[offsets[filled + 1] - 1]]] = True
    if a.null_count:
        odd &= arrow_mask(a.is_valid())
    return odd


def normalize_text(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """NFKC (full-width letters and digits to ASCII, compatibility forms), inner runs of
    whitespace to one space, outer whitespace trimmed, blank to missing. Logged as a fix
    when more than outer whitespace changed. Only the values that need it are touched:
    plain ASCII text without odd spaces (nearly all of a real file) is only checked."""
    out = df.copy(deep=False)
    log = L.RuleLog()
    for col in df.columns:
        if col == schema.SOURCE_ROW:
            continue
        s = df[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        text = as_text(s)
        odd = _odd_text(pa.array(text, from_pandas=True))
        new = text
        if odd.any():
            at = np.flatnonzero(odd)
            stripped = text.iloc[at].str.strip()
            sarr = pa.array(stripped, type=pa.string(), from_pandas=True)
            fix = ~arrow_mask(pc.string_is_ascii(sarr)) | arrow_mask(pc.match_substring_regex(sarr, r"\s\s|[\t\r\n\f\v]"))
            fix &= stripped.notna().to_numpy()
            changed = np.array([], dtype=int)
            if fix.any():
                fixed = map_unique(stripped[fix], _normalise)
                changed = at[fix][mask(fixed != stripped[fix])]
                stripped = stripped.copy()
                stripped[fix] = fixed
            new = text.copy()
            new.iloc[at] = stripped.to_numpy()
            if len(changed):
                log += L.fixes("normalize_text", col, df.index[changed], s.iloc[changed], new.iloc[changed])
        blank = arrow_mask(pc.equal(pa.array(new, from_pandas=True), ""))
        out[col] = new.mask(blank) if blank.any() else new
    return out, log


def normalize_case(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Upper / lower / title case for the columns configured under ``case``."""
    out = df.copy(deep=False)
    log = L.RuleLog()
    for col, how in ctx.spec.case.items():
        if col not in out.columns:
            continue
        s = as_text(out[col])
        new = getattr(s.str, how)()
        changed = _differs(s, new)
        log += L.fixes("normalize_case", col, df.index[changed], s[changed], new[changed])
        out[col] = new
    return out, log


def _lookup(mapping: dict[str, str]) -> dict[str, str]:
    return {_normalise(str(k)).casefold(): v for k, v in mapping.items()}


def _translate(s: pd.Series, mapping: dict[str, str]) -> pd.Series:
    table = _lookup(mapping)
    return map_unique(as_text(s), lambda v: table.get(v.casefold(), v))


def map_values(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Translate the source's codes (``values`` of the table: ``Completed`` -> ``completed``).

    Matching ignores case and width. A translation of codes is part of the mapping, not a
    fix, so it is not logged."""
    out = df.copy(deep=False)
    for col, mapping in ctx.spec.values.items():
        if col in out.columns and mapping:
            out[col] = _translate(out[col], mapping)
    return out, L.RuleLog()


def apply_aliases(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Company-wide aliases (``east``, ``华东`` -> ``East China``); each replacement is a fix."""
    out = df.copy(deep=False)
    log = L.RuleLog()
    for col, mapping in ctx.aliases.items():
        if col not in out.columns or not mapping:
            continue
        s = as_text(out[col])
        new = _translate(s, mapping)
        changed = _differs(s, new)
        log += L.fixes("aliases", col, df.index[changed], s[changed], new[changed])
        out[col] = new
    return out, log


def apply_source_rules(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog, dict[str, frozenset]]:
    """The source's own rules from config (e.g. invoices starting with C are cancellations),
    in order; also returns, per column, the rows a rule set (whether or not the value changed)."""
    out = df.copy(deep=False)
    log = L.RuleLog()
    hits: dict[str, set] = {}
    for i, rule in enumerate(ctx.spec.rules):
        name = rule.name or f"rule {i + 1}"
        if rule.column not in out.columns:
            raise CleaningError(f"{ctx.where}: rule {name!r} tests column {rule.column!r}, which is not mapped")
        try:
            re.compile(rule.matches)
            hit = mask(as_text(out[rule.column]).str.contains(rule.matches, regex=True))
        except (re.error, ValueError) as e:
            raise CleaningError(f"{ctx.where}: rule {name!r}: bad regular expression {rule.matches!r}: {e}") from None
        for col, value in rule.set.items():
            if col not in ctx.table.column_names:
                raise CleaningError(f"{ctx.where}: rule {name!r} sets {col!r}, not a column of {ctx.table.name}")
            before = as_text(out[col]) if col in out.columns else pd.Series(pd.NA, index=out.index, dtype=TEXT)
            changed = hit & mask(before.fillna("\0") != value)
            log += L.fixes(name, col, df.index[changed], before[changed], [value] * int(changed.sum()))
            new = before.copy()
            new[hit] = value
            out[col] = new
            hits.setdefault(col, set()).update(df.index[hit])
    return out, log, {c: frozenset(v) for c, v in hits.items()}


def source_rules(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """The source's own rules from config (see :func:`apply_source_rules`)."""
    out, log, _ = apply_source_rules(df, ctx)
    return out, log


# --------------------------------------------------------------------------- numbers


def parse_numbers(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Numeric columns from text in the source's number style (``ctx.source.decimal`` and
    ``thousands``): plain numbers pass, formatted ones (currency, separators, percentages
    in rate columns, accounting negatives) are fixes, what the style cannot read is
    quarantined naming the style, a value the other decimal mark reads differently is
    flagged when the column shows signs of that style, a column mostly written in it stops
    the load, and an accounting negative on a sale line is flagged. See
    :mod:`salesml.cleaning.numbers`."""
    return numbers.parse_number_columns(df, ctx.table, ctx.source, ctx.where)


# --------------------------------------------------------------------------- dates


def parse_dates(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Date columns from text: each value read by the detected style it is written in (ISO
    8601, ``%Y/%m/%d``, ``%Y年%m月%d日``, ``%d.%m.%Y``..., day/month order only when the data
    decides it) or by the configured ``date_format``; times of day are dropped. Unreadable
    values quarantine their row, or stop the load with examples and the ``date_format`` to
    set when they are more than ``ctx.settings.max_bad_date_share`` of the column. See
    :mod:`salesml.cleaning.dates`."""
    return dates.parse_date_columns(df, ctx.table, ctx.spec.date_format, ctx.settings.max_bad_date_share, ctx.where)


# --------------------------------------------------------------------------- amounts

#: derived columns: target <- (a, b, op)
DERIVATIONS = {
    "order_lines": [
        ("amount", "quantity", "unit_price", "mul"),
        ("unit_price", "amount", "quantity", "div"),
        ("cost", "quantity", "unit_cost", "mul"),
        ("unit_cost", "cost", "quantity", "div"),
    ],
}


def round_money(x, decimals: int = 2) -> np.ndarray:
    """Round half away from zero (as DECIMAL casts do), robust to binary float error."""
    a = np.asarray(x, dtype="float64")
    f = 10.0**decimals
    return np.sign(a) * np.floor(np.abs(a) * f + 0.5 + 1e-9) / f


def derive_amounts(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Fill money columns a source lacks from those it has (amount = quantity x unit price,
    cost = quantity x unit cost, and the reverse); money is rounded to the cent. Filling a
    single missing value in a mapped column is logged as a fix."""
    out = df.copy(deep=False)
    log = L.RuleLog()
    for target, a, b, op in DERIVATIONS.get(ctx.table.name, []):
        if a not in out.columns or b not in out.columns:
            continue
        value = out[a] * out[b] if op == "mul" else out[a] / out[b].where(out[b] != 0)
        if target not in out.columns:
            out[target] = value
            continue
        fill = mask(out[target].isna() & value.notna())
        if fill.any():
            log += L.fixes("derive_amounts", target, df.index[fill], [None] * int(fill.sum()), value[fill])
            out[target] = out[target].where(~fill, value)
    for c in ctx.table.columns:
        if c.name in out.columns and c.dtype == "money":
            out[c.name] = pd.Series(round_money(out[c.name]), index=out.index)
    return out, log


# --------------------------------------------------------------------------- returns


def _key(order_id, line_no) -> str:
    return f"{order_id}/{int(line_no)}" if pd.notna(line_no) else f"{order_id}/?"


def _status_columns(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy(deep=False)
    for col in ("status", "return_of_order_id"):
        out[col] = as_text(out[col]) if col in out.columns else pd.Series(pd.NA, index=out.index, dtype=TEXT)
    if "return_of_line_no" not in out.columns:
        out["return_of_line_no"] = np.nan
    return out


def mark_returns(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """A negative quantity is a return: a line whose status is empty or ``completed`` becomes
    ``returned`` (a logged fix), and a return's amount is negative. A status that a user rule
    set is never changed (a rule's cancellation stays a cancellation), nor is ``cancelled``
    from the source's codes: a cancelled line counts nothing, whatever its sign. A line the
    source marks returned with a positive quantity is turned negative (logged)."""
    if ctx.table.name != "order_lines" or "quantity" not in df.columns:
        return df, L.RuleLog()
    out = _status_columns(df)
    log = L.RuleLog()
    qty = out["quantity"].to_numpy(dtype="float64", na_value=np.nan)
    status = out["status"]
    codes = pa.array(status, from_pandas=True)
    ruled = np.zeros(len(out), dtype=bool)
    if ctx.set_by_rules.get("status"):
        ruled = out.index.isin(list(ctx.set_by_rules["status"]))
    flip = (qty < 0) & arrow_mask(pc.or_kleene(pc.equal(codes, "completed"), pc.is_null(codes))) & ~ruled
    if flip.any():
        log += L.fixes("mark_returns", "status", df.index[flip], status[flip], ["returned"] * int(flip.sum()))
        codes = pc.if_else(pa.array(flip), pa.scalar("returned", pa.large_string()), codes.cast(pa.large_string()))
        out["status"] = schema.text_series(codes, out.index)
    returned = arrow_mask(pc.equal(codes, "returned"))
    positive = returned & (qty > 0)
    if positive.any():
        log += L.fixes("mark_returns", "quantity", df.index[positive], qty[positive], -qty[positive])
        out["quantity"] = pd.Series(np.where(positive, -qty, qty), index=out.index)
    if "amount" in out.columns:
        amount = out["amount"].to_numpy(dtype="float64", na_value=np.nan)
        pos = returned & (amount > 0)
        if pos.any():
            log += L.fixes("mark_returns", "amount", df.index[pos], amount[pos], -amount[pos])
            out["amount"] = pd.Series(np.where(pos, -amount, amount), index=out.index)
    return out, log


def _anonymous(customers: pd.Series, ctx: Context) -> np.ndarray:
    anon = customers.isna().to_numpy()
    if ctx.source.anonymous_customer:
        anon |= mask(as_text(customers) == ctx.source.anonymous_customer)
    return anon


def _no_sale_detail(customers: pd.Series, products: pd.Series, ctx: Context, prefix: str) -> list[str]:
    """Why each return found no sale, in words (built in Arrow: a file may hold many)."""
    c = pa.array(as_text(customers), from_pandas=True).cast(pa.string())
    p = pc.fill_null(pa.array(as_text(products), from_pandas=True).cast(pa.string()), "(no product)")
    text = pc.binary_join_element_wise(f"{prefix}no earlier sale of ", p, " to ", c, " with that quantity left", "")
    anon = pa.array(_anonymous(customers, ctx))
    return pc.if_else(anon, f"{prefix}no customer to match", text).to_pylist()


def _probe(out: pd.DataFrame, named: np.ndarray, todo: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    """What loaded sales the returns among ``out`` could reverse: the customer / product pairs
    of those that name no sale (``todo``) and the orders named by the others (``named``)."""
    pairs = pd.DataFrame({"customer_id": as_text(out.loc[todo, "customer_id"]).astype(object),
                          "product_id": as_text(out.loc[todo, "product_id"]).astype(object)})
    pairs = pairs.dropna().drop_duplicates()
    orders = sorted(as_text(out.loc[named, "return_of_order_id"]).dropna().unique()) if named.any() else []
    return pairs, orders


def link_returns(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Link each return to the sale it reverses. A return that names its sale is checked: the
    sale must be in this file or loaded already. Otherwise the latest sale of the same
    (identified) customer and product on or before the return date with enough quantity
    left, in this file or already loaded, is linked (a logged fix).

    A return that finds no sale follows the source's ``unlinked_returns`` policy: ``accept``
    loads it, flagged ``unlinked`` (it counts in the month it happened, charged to the rep
    and customer on its line), ``quarantine`` quarantines it."""
    if ctx.table.name != "order_lines" or "quantity" not in df.columns:
        return df, L.RuleLog()
    out = _status_columns(df)
    log = L.RuleLog()
    accept = ctx.source.unlinked_returns == "accept"
    returns = mask(out["status"] == "returned")
    named = returns & out["return_of_order_id"].notna().to_numpy()
    todo = returns & ~named
    if not (named.any() or todo.any()):
        return out, log

    # the sales a return may reverse: this file's completed sales and those already loaded —
    # only those a return here could name or match (its order, or its customer and product)
    qty = out["quantity"].to_numpy(dtype="float64", na_value=np.nan)
    cols = ["order_id", "line_no", "customer_id", "product_id", "order_date", "quantity"]
    sale = mask(out["status"] == "completed") & (qty > 0)
    could = np.zeros(len(out), dtype=bool)
    if named.any():
        could |= mask(as_text(out["order_id"]).isin(as_text(out.loc[named, "return_of_order_id"]).dropna().unique()))
    if todo.any():
        could |= (mask(as_text(out["customer_id"]).isin(as_text(out.loc[todo, "customer_id"]).dropna().unique()))
                  & mask(as_text(out["product_id"]).isin(as_text(out.loc[todo, "product_id"]).dropna().unique())))
    sales = ctx.sales(*_probe(out, named, todo)) if callable(ctx.sales) else ctx.sales
    here = out.loc[sale & could, cols].assign(returned=0.0)
    here = here.assign(order_id=as_text(here["order_id"]), line_no=here["line_no"].astype("float64"),
                       customer_id=as_text(here["customer_id"]), product_id=as_text(here["product_id"]),
                       order_date=pd.to_datetime(here["order_date"]).astype("datetime64[ns]"),
                       quantity=here["quantity"].astype("float64"))
    pool = here
    if sales is not None and len(sales):
        loaded = sales[[*cols, "returned"]]
        loaded = loaded.assign(order_id=as_text(loaded["order_id"]), line_no=loaded["line_no"].astype("float64"),
                               customer_id=as_text(loaded["customer_id"]), product_id=as_text(loaded["product_id"]),
                               order_date=pd.to_datetime(loaded["order_date"]).astype("datetime64[ns]"),
                               quantity=loaded["quantity"].astype("float64"), returned=loaded["returned"].astype("float64"))
        # a sale of this file replaces the loaded one with its key (a new version of a file)
        keys_here = out.loc[sale & ~could, ["order_id", "line_no"]]
        keys_here = keys_here[mask(as_text(keys_here["order_id"]).isin(loaded["order_id"].dropna().unique()))]
        if len(keys_here):
            stale = loaded[["order_id", "line_no"]].merge(
                keys_here.assign(order_id=as_text(keys_here["order_id"]), line_no=keys_here["line_no"].astype("float64"), _here=True),
                on=["order_id", "line_no"], how="left")["_here"].notna().to_numpy()
            loaded = loaded[~stale]
        pool = pd.concat([loaded, here], ignore_index=True)
    pool = pool.dropna(subset=["order_id", "line_no"]).drop_duplicates(["order_id", "line_no"], keep="last")

    if named.any():
        ref = pd.DataFrame(
            {"order_id": as_text(out.loc[named, "return_of_order_id"]),
             "line_no": pd.to_numeric(out.loc[named, "return_of_line_no"], errors="coerce").astype("float64")},
            index=out.index[named],
        )
        found = ref.merge(pool[["order_id", "line_no"]].assign(_found=True), on=["order_id", "line_no"], how="left")
        unknown = ~mask(found["_found"].astype("boolean"))
        idx = ref.index[unknown]
        keys = [_key(o, n) for o, n in zip(ref.loc[idx, "order_id"], ref.loc[idx, "line_no"], strict=True)]
        if accept:
            log += L.flags("unlinked_returns", "return_of_order_id", idx, keys, "names a sale that is not loaded: counts in the month of the return")
        else:
            log += L.problems("link_returns", "return_of_order_id", idx, "the sale it returns is not loaded", keys)
    if todo.any():
        r = out.loc[todo, ["customer_id", "product_id", "order_date", "quantity"]].assign(idx=out.index[todo])
        r = r[~_anonymous(r["customer_id"], ctx)].dropna(subset=["product_id", "order_date"])
        r = r.assign(customer_id=as_text(r["customer_id"]), product_id=as_text(r["product_id"]),
                     order_date=pd.to_datetime(r["order_date"]).astype("datetime64[ns]"), quantity=r["quantity"].astype("float64"))
        cands = pool.dropna(subset=["customer_id", "product_id", "order_date"]).sort_values("order_date")
        linked = pd.DataFrame(columns=["idx", "order_id", "line_no"])
        if len(r) and len(cands):
            merged = pd.merge_asof(
                r.sort_values("order_date"),
                cands.rename(columns={"order_date": "sale_date", "quantity": "sale_qty"}),
                left_on="order_date",
                right_on="sale_date",
                by=["customer_id", "product_id"],
                direction="backward",
            ).sort_values(["order_date", "idx"])
            merged["need"] = -merged["quantity"]
            merged["used"] = merged.groupby(["order_id", "line_no"], dropna=False)["need"].cumsum() + merged["returned"].fillna(0)
            ok = mask(merged["order_id"].notna()) & (merged["used"] <= merged["sale_qty"] + 1e-9).to_numpy()
            linked = merged[ok]
        if len(linked):
            idx = pd.Index(linked["idx"])
            ro = out["return_of_order_id"].copy()
            ro[idx] = linked["order_id"].to_numpy()
            rl = pd.to_numeric(out["return_of_line_no"], errors="coerce").astype("float64").copy()
            rl[idx] = linked["line_no"].to_numpy(dtype="float64")
            out["return_of_order_id"], out["return_of_line_no"] = ro, rl
            log += L.fixes("link_returns", "return_of_order_id", idx, [None] * len(idx), [_key(o, n) for o, n in zip(linked["order_id"], linked["line_no"], strict=True)])
        missing = out.index[todo].difference(pd.Index(linked["idx"]))
        detail = _no_sale_detail(out.loc[missing, "customer_id"], out.loc[missing, "product_id"], ctx, "unlinked: " if accept else "")
        if accept:
            log += L.flags("unlinked_returns", "return_of_order_id", missing, [None] * len(missing), detail)
        else:
            log += L.problems("link_returns", "quantity", missing, "a return with no sale to reverse", detail)
    return out, log


# --------------------------------------------------------------------------- duplicates


def row_hashes(keys: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of ``keys`` (DuckDB's, over Arrow columns, ten times pandas'),
    in row order: equal rows hash equal (missing values too); unequal ones may collide, so
    the candidates it finds are compared value by value."""
    try:
        table = pa.Table.from_pandas(keys.reset_index(drop=True), preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python objects: as text
        table = pa.Table.from_pandas(keys.astype("string").reset_index(drop=True), preserve_index=False)
    with scratch() as con:
        con.register("_keys", table)
        names = ", ".join('"' + str(c).replace('"', '""') + '"' for c in table.column_names)
        return con.execute(f"SELECT hash({names}) AS h FROM _keys").fetchnumpy()["h"]


def repeated(hashes: np.ndarray) -> np.ndarray:
    """Which rows' hash occurs more than once: a sorted copy of the hashes gives the repeated
    ones (none, in nearly every file: 8 bytes a row, ~55 ms for a million, a third of a
    DuckDB GROUP BY on 1.5), then only those are looked up."""
    if len(hashes) < 2:
        return np.zeros(len(hashes), dtype=bool)
    ordered = np.sort(np.asarray(hashes))
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(twice):
        return np.zeros(len(hashes), dtype=bool)
    return np.isin(hashes, np.unique(twice))


def duplicates(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Rows sharing a key: the latest (last in the file) is kept. An earlier row with the
    same values is an exact duplicate (quarantined; merged into the kept row for
    ``distinct`` tables such as products taken from a flat export); an earlier row with
    other values is superseded (quarantined, naming the row that superseded it)."""
    keys = [k for k in ctx.table.key if k in df.columns]
    if not keys:
        return df, L.RuleLog()
    # one hash per key finds the candidates (a 64-bit column, not pandas' factorised copies
    # of every key column); they are then compared value by value
    maybe = repeated(row_hashes(df[keys]))
    if not maybe.any():
        return df, L.RuleLog()
    sub = df[maybe]
    dup_key = sub.duplicated(subset=keys, keep=False).to_numpy()
    if not dup_key.any():
        return df, L.RuleLog()
    sub = sub[dup_key]
    values = [c for c in ctx.table.column_names if c in df.columns]
    group = sub.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
    winner = sub.index.to_series().groupby(group).transform("last")
    losers = sub.index != winner.to_numpy()
    mine = sub.loc[losers, values]
    theirs = sub.loc[winner[losers].to_numpy(), values].set_axis(mine.index)
    same = ((mine == theirs) | (mine.isna() & theirs.isna())).all(axis=1)
    row_of = df[schema.SOURCE_ROW] if schema.SOURCE_ROW in df.columns else df.index.to_series() + 1
    kept = winner[losers]
    log = L.RuleLog()
    key_name = ",".join(keys)
    if ctx.spec.distinct:
        log += L.merges("duplicates", mine.index[same], kept[same.to_numpy()])
    else:
        log += L.problems("duplicates", key_name, mine.index[same], "exact duplicate of a later row", [f"kept row {row_of[w]}" for w in kept[same.to_numpy()]])
    log += L.problems(
        "duplicates",
        key_name,
        mine.index[~same],
        "superseded by a later row with the same key",
        [f"kept row {row_of[w]}" for w in kept[~same.to_numpy()]],
    )
    return df, log


# --------------------------------------------------------------------------- checks


def missing_required(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Rows without a value in a required column are quarantined, naming the column. A column
    that may be anonymous (an order line's customer: walk-in and guest sales) is not checked."""
    log = L.RuleLog()
    for col in ctx.table.required:
        if col in df.columns and (ctx.table.name, col) not in schema.MAY_BE_EMPTY:
            miss = df[col].isna()
            log += L.problems("missing_required", col, df.index[miss], "required value is missing")
    return df, log


def future_dates(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Dates that cannot be in the future (order, ticket, snapshot dates) but are: quarantined."""
    log = L.RuleLog()
    limit = pd.Timestamp(ctx.today + timedelta(days=ctx.settings.future_days_allowed))
    for c in ctx.table.columns:
        if c.past and c.name in df.columns:
            late = df[c.name] > limit
            log += L.problems("future_dates", c.name, df.index[late], "in the future", f"after {limit:%Y-%m-%d}")
    return df, log


def unknown_keys(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """References to a rep or product that is not loaded are quarantined, naming the key.
    Not checked while the referenced table is empty (a dataset without reps)."""
    log = L.RuleLog()
    for (tname, col), (ref, _ref_col) in schema.FOREIGN_KEYS.items():
        if tname != ctx.table.name or col not in df.columns or ref not in ctx.known_keys:
            continue
        known = ctx.known_keys[ref]
        s = df[col]
        bad = s.notna().to_numpy() & ~mask(s.isin(list(known)))
        log += L.problems("unknown_keys", col, df.index[bad], f"unknown (not in {ref})", [repr(v) for v in s[bad]])
    return df, log


def _nullable_int(s: pd.Series) -> pd.Series:
    """A float column of whole numbers as pandas' nullable Int64 (ten times ``astype``, which
    checks every value on its own); anything else goes through ``astype``."""
    if s.dtype == "float64":
        v = s.to_numpy()
        missing = np.isnan(v)
        whole = np.where(missing, 0.0, v)
        if np.all(np.abs(whole) < 2**53) and np.array_equal(whole, np.trunc(whole)):
            return pd.Series(pd.arrays.IntegerArray(whole.astype(np.int64), missing), index=s.index, name=s.name)
    return s.astype("Int64")


def schema_checks(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """The canonical schema's value rules (pandera): status codes, ranges, signs, sizes."""
    sch = schema.pandera_schema(ctx.table, [c for c in ctx.table.column_names if c in df.columns])
    frame = df.copy(deep=False)  # columns are replaced, never changed in place
    for c in ctx.table.columns:  # a column the source does not have is not checked (nor made)
        if c.dtype == "int" and c.name in frame.columns:
            frame[c.name] = _nullable_int(frame[c.name])
    try:
        sch.validate(frame, lazy=True, inplace=True)  # frame is this rule's own (no copy of the rows)
    except pandera.errors.SchemaErrors as e:
        vars(frame).pop("pandera", None)
        fc = e.failure_cases
        fc = fc[fc["index"].notna()]
        col = fc["column"].where(fc["schema_context"] == "Column", None)
        p = pd.DataFrame(
            {
                "idx": fc["index"].to_numpy(),
                "rule": "schema_checks",
                "column": col.to_numpy(),
                "reason": fc["check"].astype(str).to_numpy(),
                "detail": L._texts(fc["failure_case"].to_numpy()),
            }
        )
        p = p.drop_duplicates(["idx", "reason"])
        return df, L.RuleLog(problems=p[L.PROBLEM_COLUMNS])
    # pandera leaves its accessor on the frame, and the accessor refers back to the frame:
    # a cycle that would keep this rule's columns alive until the garbage collector runs
    vars(frame).pop("pandera", None)
    return df, L.RuleLog()


def overlapping_stints(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Effective-dated hierarchy: a rep's stints must not overlap (the later one is quarantined)."""
    if ctx.table.name != "reps" or df.empty or "valid_from" not in df.columns:
        return df, L.RuleLog()
    d = df[["rep_id", "valid_from"]].assign(valid_to=df["valid_to"] if "valid_to" in df.columns else pd.NaT)
    d = d.dropna(subset=["rep_id", "valid_from"]).sort_values(["rep_id", "valid_from"])
    prev_to = d.groupby("rep_id")["valid_to"].shift()
    prev_exists = d.groupby("rep_id").cumcount() > 0
    overlap = prev_exists & (prev_to.isna() | (d["valid_from"] <= prev_to))
    return df, L.problems("overlapping_stints", "valid_from", d.index[overlap], "overlaps an earlier stint of the same rep")


def split_shares(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Split credit: the shares of an order must add up to 100 %; otherwise every row of
    that order is quarantined (a partial split would credit too much or too little)."""
    if ctx.table.name != "order_splits" or "share_pct" not in df.columns:
        return df, L.RuleLog()
    total = df.groupby("order_id", dropna=False)["share_pct"].transform("sum")
    bad = mask((total - 100).abs() > 0.005)
    return df, L.problems("split_shares", "share_pct", df.index[bad], "shares of the order do not add up to 100", [f"they add up to {t:g}" for t in total[bad]])


def price_outliers(df: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, L.RuleLog]:
    """Sale prices far from their product's median (robust z-score on the MAD) are flagged,
    not dropped: a typo'd price and a real special deal look the same to a machine."""
    if ctx.table.name != "order_lines" or "unit_price" not in df.columns:
        return df, L.RuleLog()
    price = df["unit_price"].to_numpy(dtype="float64", na_value=np.nan)
    at = np.flatnonzero(mask(df["status"] == "completed") & (price > 0) & df["product_id"].notna().to_numpy())
    if not len(at):
        return df, L.RuleLog()
    # judge the price before a known discount: a 70 % deal is a discount, not a price typo
    sold = price[at]
    before = sold
    if "discount" in df.columns:
        discount = df["discount"].to_numpy(dtype="float64", na_value=np.nan)[at]
        before = sold / (1 - np.where((discount >= 0) & (discount < 1), discount, 0.0))
    # codes of the whole column (no copy of the texts), numbered again 0..k-1 among the sales
    product = pd.factorize(pd.factorize(df["product_id"])[0][at])[0].astype(np.int32)
    # per product (one value each, spread by the codes only where needed): no row-sized frames
    enough = np.bincount(product) >= ctx.settings.price_outlier_min_lines
    med = pd.Series(before).groupby(product).median().to_numpy()
    dev = np.abs(before - med[product])
    scale = np.maximum(1.4826 * pd.Series(dev).groupby(product).median().to_numpy(), 0.05 * np.abs(med))
    hit = np.flatnonzero(enough[product] & (dev > ctx.settings.price_outlier_z * scale[product]))  # |robust z| above the limit
    del dev
    p = product[hit]
    z = (before[hit] - med[p]) / scale[p]
    detail = [f"before discount {b:.2f} vs median {m:.2f} (robust z {v:+.1f})" for b, m, v in zip(before[hit], med[p], z, strict=True)]
    return df, L.flags("price_outliers", "unit_price", df.index[at[hit]], sold[hit], detail)


#: the rules, in the order they run
#: the rules of each step of the import, in order (see salesml.ingest): text is normalised
#: when the columns are mapped; the user's rules (case, codes, aliases, the source's own rules)
#: come next, then the built-in cleaning, the checks of a set of rows (on the rows still in),
#: and last the linking of returns to their sales
TEXT_RULES: list[Rule] = [normalize_text]
USER_RULES: list[Rule] = [normalize_case, map_values, apply_aliases, source_rules]
CLEANING_RULES: list[Rule] = [
    parse_numbers,
    parse_dates,
    derive_amounts,
    mark_returns,
    missing_required,
    future_dates,
    unknown_keys,
    schema_checks,
]
SET_RULES: list[Rule] = [duplicates, overlapping_stints, split_shares, price_outliers]
LINKING_RULES: list[Rule] = [link_returns]

#: every rule, in the order they run
RULES: list[Rule] = TEXT_RULES + USER_RULES + CLEANING_RULES + SET_RULES + LINKING_RULES


def on_rows_still_in(rule: Rule, df: pd.DataFrame, ctx: Context, rejected: pd.Index) -> tuple[pd.DataFrame, L.RuleLog]:
    """Run a rule over the rows not yet quarantined or merged (a merged repeat of a rep's
    stint is no second stint); the rows left out come back unchanged."""
    if not len(rejected):
        return rule(df, ctx)
    keep = df.index.difference(rejected)
    given = df.loc[keep]
    sub, log = rule(given, ctx)
    if sub is given:  # a check that changes no value: nothing to put back together
        return df, log
    rest = df.loc[df.index.difference(keep)]
    return pd.concat([sub, rest.reindex(columns=sub.columns.union(rest.columns, sort=False))]).loc[df.index], log


def clean(df: pd.DataFrame, ctx: Context, rules: list[Rule] | None = None) -> tuple[pd.DataFrame, L.RuleLog]:
    """Run the rules in order; returns the cleaned frame and the combined log. The set checks
    and the linking see only the rows still in."""
    log = L.RuleLog()
    for rule in rules or RULES:
        if rule in SET_RULES or rule in LINKING_RULES:
            df, part = on_rows_still_in(rule, df, ctx, log.rejected)
        else:
            df, part = rule(df, ctx)
        log += part
    return df, log
