"""Known defects for the demo's raw files (``salesml demo --dirty``).

:func:`inject_defects` takes the clean export files the generator wrote and damages a
few rows of them the way real exports are damaged: duplicated and re-sent lines, money
typed as ``¥1,234.50``, full-width digits, ``15%`` discounts, missing and impossible
dates, returns without a status or without a sale, price typos, unknown codes, an
overlapping stint in the hierarchy, a negative stock level, an out-of-range
satisfaction score, and a file saved in GB18030. Every defect is listed in
``dirty_manifest.json`` with the row it is in (as a spreadsheet numbers rows, header =
1), the cleaning rule that must catch it and what that rule must do with it
(``quarantined``, ``fixed``, ``flagged`` or ``merged``), so a load of the dirty files can
be checked against it row by row.

Rows are damaged in place or appended at the end of a file, so no row number moves.
Rows are chosen so that one defect does not trigger another rule: a sale that a
return in the file names is never damaged (its return would lose its sale), a return
made out of a sale has exactly one earlier sale it can be linked to, and nothing else
in the files is touched, except that ``tickets.csv``, saved in GB18030, gains an unmapped
remark column (备注) whose Chinese text makes the encoding show: the clean ticket file
is pure ASCII, which reads the same in any encoding.

The defects are a pure function of the clean files and ``(seed, scale, end_date)``:
every draw comes from ``numpy.random.default_rng([seed, DIRTY_STREAM, table])``. The
one exception is the "date in the future": it is the row's date moved 10 years ahead,
and further in steps of 10 years while that would not lie at least
:data:`FUTURE_MARGIN_DAYS` after today (which only happens for a demo that ended long
ago), so that the load, whose "today" is the real date, always finds it in the future.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from salesml.cleaning.rules import parse_number_text
from salesml.config import CleaningSettings
from salesml.demo.source import FILE_NAMES, RAW_COLUMNS

__all__ = ["DIRTY_MANIFEST", "inject_defects"]

DIRTY_MANIFEST = "dirty_manifest.json"
DIRTY_VERSION = "1.0.0"
#: second element of the random streams' seed: the dirty files draw apart from the generator
DIRTY_STREAM = zlib.crc32(b"salesml.demo.dirty")
#: defects of each kind, by demo scale
PER_KIND = {"small": 3, "medium": 5, "large": 8}
#: a "future" order date lies at least this many days after today
FUTURE_MARGIN_DAYS = 400
#: codes no demo company uses
UNKNOWN_PRODUCT = "P99999"
UNKNOWN_REP = "R999"
#: the remark column the GB18030 ticket export carries (a CRM's free text, not mapped)
TICKET_REMARK = "备注"
TICKET_REMARKS = {
    "Delivery": "物流延误，客户催单",
    "Quality": "质量问题，已安排检测",
    "Billing": "发票信息有误",
    "Installation": "预约上门安装",
    "Other": "其他咨询",
}
EXPECTED = ("quarantined", "fixed", "flagged", "merged")
#: bytes read at a time when rewriting a file
_BLOCK = 1 << 22


@dataclass
class _Edits:
    """What to change in one file: whole rows replaced (by 0-based data row), rows appended."""

    header: list[str]
    n_rows: int
    replace: dict[int, list[str]] = field(default_factory=dict)
    append: list[list[str]] = field(default_factory=list)
    defects: list[dict] = field(default_factory=list)
    #: the file's encoding once written
    encoding: str = "utf-8"
    #: an unmapped column added to every row: (header, one value per row incl. appended)
    extra_column: tuple[str, list[str]] | None = None

    def row_number(self, i: int) -> int:
        """The spreadsheet row number of data row ``i`` (header = 1)."""
        return i + 2

    def next_appended(self) -> int:
        return self.n_rows + len(self.append) + 2

    def add(self, **defect) -> None:
        assert defect["expected"] in EXPECTED, defect
        self.defects.append(defect)


def inject_defects(
    out_dir: str | Path,
    *,
    seed: int,
    end_date: date | str,
    scale: str = "small",
    cleaning: CleaningSettings | None = None,
) -> dict:
    """Damage the clean demo files in ``out_dir`` with known defects; write and return the
    dirty manifest (``out_dir/dirty_manifest.json``).

    ``cleaning`` holds the thresholds the price-outlier defects must exceed (the defaults
    if None). ``out_dir/manifest.json``, if there, is updated with the new files' hashes
    and a ``dirty`` summary.
    """
    out_dir = Path(out_dir)
    _check_clean(out_dir)
    end = date.fromisoformat(end_date) if isinstance(end_date, str) else end_date
    cleaning = cleaning or CleaningSettings()
    k = PER_KIND.get(scale, PER_KIND["small"])

    def rng(table: str) -> np.random.Generator:
        return np.random.default_rng([int(seed), DIRTY_STREAM, zlib.crc32(table.encode())])

    products = _read(out_dir / FILE_NAMES["products"])
    product_ids = products.column(RAW_COLUMNS["products"]["product_id"]).to_pylist()
    reps_raw = _read(out_dir / FILE_NAMES["reps"])
    rep_ids = set(reps_raw.column(RAW_COLUMNS["reps"]["rep_id"]).to_pylist())
    if UNKNOWN_PRODUCT in product_ids or UNKNOWN_REP in rep_ids:  # pragma: no cover - far beyond any scale
        raise AssertionError(f"{UNKNOWN_PRODUCT} / {UNKNOWN_REP} exist in the demo")

    edits = {
        "order_lines": _order_lines(out_dir, rng("order_lines"), k, end, cleaning, product_ids),
        "customers": _customers(out_dir, rng("customers"), k),
        "reps": _reps(reps_raw, rng("reps"), k, end),
        "inventory": _inventory(out_dir, rng("inventory"), k),
        "tickets": _tickets(out_dir, rng("tickets"), k),
    }
    files: dict[str, dict] = {}
    defects: list[dict] = []
    for table, e in edits.items():
        path = out_dir / FILE_NAMES[table]
        _rewrite(path, e)
        files[FILE_NAMES[table]] = {
            "rows": e.n_rows + len(e.append),
            "sha256": _sha256(path),
            "bytes": path.stat().st_size,
            "expected_encoding": e.encoding,
        }
        defects += [{"table": table, "file": FILE_NAMES[table], **d} for d in e.defects]
    for i, d in enumerate(defects, start=1):
        d["id"] = i
    found = Counter((d["table"], d["kind"]) for d in defects)
    not_injected = {
        f"{table}.{kind}": f"no suitable row for {k - found[table, kind]} of the {k} (found {found[table, kind]})"
        for table, kinds in KINDS.items()
        for kind in kinds
        if found[table, kind] < k
    }
    defects = [{key: d[key] for key in _ORDER if key in d} for d in defects]

    summary = {
        "defects": len(defects),
        "by_expected": dict(sorted(Counter(d["expected"] for d in defects).items())),
        "by_kind": dict(Counter(f"{d['table']}.{d['kind']}" for d in defects)),
        "encodings": {FILE_NAMES[t]: e.encoding for t, e in edits.items() if e.encoding != "utf-8"},
        "manifest": DIRTY_MANIFEST,
    }
    manifest = {
        "generator": "salesml.demo.dirty",
        "version": DIRTY_VERSION,
        "seed": int(seed),
        "scale": scale,
        "end_date": end.isoformat(),
        "summary": summary,
        "files": files,
        "not_injected": not_injected,
        "defects": defects,
    }
    (out_dir / DIRTY_MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _update_demo_manifest(out_dir, files, summary)
    return manifest


_ORDER = ["id", "table", "file", "source_row", "kind", "expected", "rule", "column", "raw_column",
          "original", "injected", "kept_row", "linked_to", "description"]

#: the kinds of defect, by table (each injected PER_KIND[scale] times where rows allow)
KINDS: dict[str, tuple[str, ...]] = {
    "order_lines": (
        "return_without_status", "price_typo", "return_without_sale", "exact_duplicate", "conflicting_duplicate",
        "money_text", "fullwidth_qty", "percent_discount", "missing_date", "impossible_date", "future_date",
        "unknown_product", "unknown_rep", "qty_not_a_number", "unknown_status",
    ),
    "customers": ("name_double_space", "name_fullwidth_space", "fullwidth_segment"),
    "reps": ("overlapping_stint",),
    "inventory": ("negative_on_hand",),
    "tickets": ("csat_out_of_range",),
}  # fmt: skip


def _check_clean(out_dir: Path) -> None:
    """Refuse files that are dirty already (regenerate them first)."""
    demo = out_dir / "manifest.json"
    if demo.is_file():
        dirty = "dirty" in json.loads(demo.read_text(encoding="utf-8"))
    else:
        dirty = (out_dir / DIRTY_MANIFEST).is_file()
    if dirty:
        raise ValueError(f"{out_dir}: the demo files there are dirty already; generate them again first")


# --------------------------------------------------------------------------- files


def _read(path: Path) -> pa.Table:
    """A demo file with every column as text (empty cells as "")."""
    with open(path, encoding="utf-8") as f:
        header = next(csv.reader(f))
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header}, strings_can_be_null=False),
    )


def _row(t: pa.Table, i: int) -> list[str]:
    return [t.column(c)[i].as_py() for c in t.column_names]


def _line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _rewrite(path: Path, e: _Edits) -> None:
    """Write the file again with rows replaced and appended (generated files are unquoted,
    one row per line, so untouched rows are copied as they are)."""
    tmp = path.with_name(path.name + ".dirty-tmp")
    if e.extra_column is None and e.encoding == "utf-8":
        _rewrite_bytes(path, tmp, e)
        tmp.replace(path)
        return
    name, values = e.extra_column or ("", [])

    def extra(line: str, value: str) -> str:
        return line.rstrip("\n") + ("," + value if e.extra_column else "") + "\n"

    with open(path, encoding="utf-8", newline="") as src, open(tmp, "w", encoding=e.encoding, newline="") as dst:
        dst.write(extra(src.readline(), name))
        for i, line in enumerate(src):
            dst.write(extra(_line(e.replace[i]) if i in e.replace else line, values[i] if values else ""))
        for j, row in enumerate(e.append):
            dst.write(extra(_line(row), values[e.n_rows + j] if values else ""))
    tmp.replace(path)


def _rewrite_bytes(path: Path, tmp: Path, e: _Edits) -> None:
    """The same for a UTF-8 file without an added column, in blocks: only the blocks that
    hold a replaced row are split into lines (a large demo has millions of rows)."""
    todo = sorted(e.replace)
    at = 0  # next entry of todo
    row = -1  # the data row the next line is (-1: the header)
    rest = b""
    last = b"\n"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        while True:
            chunk = src.read(_BLOCK)
            block = rest + chunk
            end = block.rfind(b"\n") + 1 if chunk else len(block)
            block, rest = block[:end], block[end:]
            lines = block.count(b"\n") + (0 if chunk or block.endswith(b"\n") or not block else 1)
            if at < len(todo) and todo[at] < row + lines:
                parts = block.split(b"\n")
                while at < len(todo) and todo[at] < row + lines:
                    parts[todo[at] - row] = _line(e.replace[todo[at]]).rstrip("\n").encode("utf-8")
                    at += 1
                block = b"\n".join(parts)
            dst.write(block)
            last = block[-1:] or last
            row += lines
            if not chunk:
                break
        if e.append:
            dst.write((b"" if last == b"\n" else b"\n") + b"".join(_line(r).encode("utf-8") for r in e.append))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _update_demo_manifest(out_dir: Path, files: dict[str, dict], summary: dict) -> None:
    path = out_dir / "manifest.json"
    if not path.is_file():
        return
    m = json.loads(path.read_text(encoding="utf-8"))
    for name, info in files.items():
        m.setdefault("files", {})[name] = {"rows": info["rows"], "sha256": info["sha256"], "bytes": info["bytes"]}
        table = next((t for t, f in FILE_NAMES.items() if f == name), None)
        if table:
            m.setdefault("rows", {})[table] = info["rows"]
    m["dirty"] = summary
    path.write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _pick(rng: np.random.Generator, candidates: np.ndarray, k: int, used: set[int]) -> list[int]:
    """Up to ``k`` of ``candidates`` not used yet, in file order; marks them used."""
    candidates = np.asarray(candidates, dtype=np.int64)
    free = candidates[~np.isin(candidates, np.fromiter(used, dtype=np.int64, count=len(used)))]
    if len(free) == 0:
        return []
    chosen = sorted(rng.choice(free, size=min(k, len(free)), replace=False).tolist())
    used.update(chosen)
    return chosen


def _money(x: float) -> str:
    return f"{x:.2f}"


def _fullwidth(text: str) -> str:
    """ASCII letters, digits and space as their full-width forms (ＡＢ１２, U+3000)."""
    return "".join("\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


# --------------------------------------------------------------------------- order lines


def _order_lines(out_dir: Path, rng: np.random.Generator, k: int, end: date, cleaning: CleaningSettings, product_ids: list[str]) -> _Edits:
    cols = RAW_COLUMNS["order_lines"]
    t = _read(out_dir / FILE_NAMES["order_lines"])
    n = t.num_rows
    e = _Edits(header=t.column_names, n_rows=n)
    pos = {canon: t.column_names.index(raw) for canon, raw in cols.items()}

    def col(canon: str) -> pa.ChunkedArray:
        return t.column(cols[canon])

    def num(canon: str) -> np.ndarray:
        return pc.cast(col(canon), pa.float64()).to_numpy()

    day = pc.cast(pc.cast(col("order_date"), pa.date32()), pa.int32()).to_numpy()
    cust = pc.dictionary_encode(col("customer_id")).combine_chunks().indices.to_numpy()
    prod_codes = pc.dictionary_encode(col("product_id")).combine_chunks()
    prod = prod_codes.indices.to_numpy()
    prod_names = prod_codes.dictionary.to_pylist()
    qty, unit, disc, amount = num("quantity"), num("unit_price"), num("discount"), num("amount")
    completed = pc.equal(col("status"), "Completed").to_numpy()
    has_rep = pc.not_equal(col("rep_id"), "").to_numpy()
    is_return = pc.not_equal(col("return_of_order_id"), "").to_numpy()
    key = pc.binary_join_element_wise(col("order_id"), col("line_no"), "/")
    ret_key = pc.binary_join_element_wise(col("return_of_order_id"), col("return_of_line_no"), "/")
    ret_idx = np.flatnonzero(is_return)
    ret_keys = pc.take(ret_key, pa.array(ret_idx))
    referenced = pc.is_in(key, value_set=ret_keys.combine_chunks()).to_numpy()
    returned = pd.Series(-qty[ret_idx], index=ret_keys.to_pylist()).groupby(level=0).sum()

    sale = completed & (qty > 0) & ~is_return
    free_sale = sale & ~referenced  # a sale no return in the file names
    used: set[int] = set()

    def edit(i: int, **changes: str) -> tuple[list[str], list[str]]:
        row = e.replace.get(i) or _row(t, i)
        before = list(row)
        for canon, value in changes.items():
            row[pos[canon]] = value
        e.replace[i] = row
        return before, row

    def value(i: int, canon: str) -> str:
        return t.column(cols[canon])[i].as_py()

    # --- a sale turned into a return (negative quantity, status still Completed) that
    # link_returns must link to the one earlier sale of that customer and product
    n_prod = max(len(prod_names), 1)
    idx = np.flatnonzero(sale)
    pair = cust[idx].astype(np.int64) * n_prod + prod[idx]
    o = np.lexsort((idx, day[idx], pair))
    s_idx, s_pair, s_day = idx[o], pair[o], day[idx][o]
    m = len(s_idx)
    tt = np.arange(1, m)
    ok = (s_pair[tt] == s_pair[tt - 1]) & (s_day[tt - 1] < s_day[tt])
    # the earlier sale is the only one of its day (the rule takes the latest on or before)
    prev2_ok = np.ones(len(tt), dtype=bool)
    prev2_ok[1:] = (s_pair[tt[1:] - 2] != s_pair[tt[1:] - 1]) | (s_day[tt[1:] - 2] < s_day[tt[1:] - 1])
    # ... and no other sale of the pair on the return's day
    next_ok = np.ones(len(tt), dtype=bool)
    next_ok[:-1] = (s_pair[tt[:-1] + 1] != s_pair[tt[:-1]]) | (s_day[tt[:-1] + 1] > s_day[tt[:-1]])
    cand = tt[ok & prev2_ok & next_ok]
    cand = cand[~referenced[s_idx[cand]]]
    taken_pairs: set[int] = set()
    turned = []
    for c in rng.permutation(cand).tolist():
        if len(turned) == k:
            break
        r, j = int(s_idx[c]), int(s_idx[c - 1])
        if s_pair[c] in taken_pairs or r in used or j in used:
            continue
        left = qty[j] - float(returned.get(key[j].as_py(), 0.0))
        q = int(min(qty[r], left))
        if q < 1:
            continue
        taken_pairs.add(int(s_pair[c]))
        used.update((r, j))
        turned.append((r, j, q))
    for r, j, q in sorted(turned):
        before, _ = edit(r, quantity=str(-q), amount=_money(-q * unit[r]))
        e.add(
            source_row=e.row_number(r), kind="return_without_status", expected="fixed", rule="link_returns",
            column="return_of_order_id", raw_column=cols["quantity"], original=before[pos["quantity"]], injected=str(-q),
            description=(
                f"sale {value(r, 'order_id')}/{value(r, 'line_no')} turned into a return of {q} "
                f"(negative Qty and Net Amount, Status still 'Completed', Return Of empty): mark_returns sets "
                f"status to returned and link_returns links it to the earlier sale {value(j, 'order_id')}/{value(j, 'line_no')} "
                f"(row {e.row_number(j)})"
            ),
            linked_to=f"{value(j, 'order_id')}/{value(j, 'line_no')}",
        )

    # --- a unit price typed 20x too high (amount consistent): flagged as an outlier
    price_rows = np.flatnonzero(completed & (unit > 0))
    d = np.where((disc >= 0) & (disc < 1), disc, 0.0)
    d = np.nan_to_num(d)
    price = unit / (1 - d)
    counts = np.bincount(prod[price_rows], minlength=n_prod)
    big = np.flatnonzero(counts >= max(cleaning.price_outlier_min_lines, 20))
    cand = np.flatnonzero(free_sale & np.isin(prod, big))
    typo_products: set[int] = set()
    typos = []
    for i in rng.permutation(cand).tolist():
        if len(typos) == k:
            break
        if i in used or prod[i] in typo_products:
            continue
        rows = price_rows[prod[price_rows] == prod[i]]
        p = price[rows].copy()
        p[rows == i] = price[i] * 20
        med = np.median(p)
        mad = np.median(np.abs(p - med))
        z = (price[i] * 20 - med) / max(1.4826 * mad, 0.05 * abs(med))
        if z <= 2 * cleaning.price_outlier_z:
            continue
        typo_products.add(int(prod[i]))
        used.add(i)
        typos.append(i)
    for i in sorted(typos):
        new_unit = _money(unit[i] * 20)
        before, _ = edit(i, unit_price=new_unit, amount=_money(qty[i] * float(new_unit)))
        e.add(
            source_row=e.row_number(i), kind="price_typo", expected="flagged", rule="price_outliers", column="unit_price",
            raw_column=cols["unit_price"], original=before[pos["unit_price"]], injected=new_unit,
            description=f"Unit Price {before[pos['unit_price']]} typed as {new_unit} (x20), Net Amount to match",
        )

    # --- a return of a product the customer never bought: no sale to link, quarantined
    for i in _pick(rng, np.flatnonzero(free_sale), k, used):
        mine = {prod_names[p] for p in np.unique(prod[sale & (cust == cust[i])])}
        choices = [p for p in product_ids if p not in mine]
        other = choices[int(rng.integers(len(choices)))]
        before, _ = edit(i, product_id=other, quantity=str(-int(qty[i])), amount=_money(-amount[i]), status="Returned")
        e.add(
            source_row=e.row_number(i), kind="return_without_sale", expected="quarantined", rule="link_returns",
            column="quantity", raw_column=cols["quantity"], original=before[pos["quantity"]], injected=str(-int(qty[i])),
            description=f"a return of {other} by {value(i, 'customer_id')}, who never bought it (no sale to reverse)",
        )

    # --- a line sent twice, verbatim: the repeat is quarantined, naming the row it repeats
    for i in _pick(rng, np.flatnonzero(free_sale), k, used):
        copy_row = e.next_appended()
        e.append.append(_row(t, i))
        e.add(
            source_row=copy_row, kind="exact_duplicate", expected="quarantined", rule="duplicates",
            column=None, raw_column="Order No,Line No",
            description=f"line {value(i, 'order_id')}/{value(i, 'line_no')} (row {e.row_number(i)}) repeated verbatim "
            f"as row {copy_row}: the repeat is quarantined, the first kept",
            kept_row=e.row_number(i),
        )

    # --- a line sent again with another quantity: the earlier version is superseded
    for i in _pick(rng, np.flatnonzero(free_sale), k, used):
        copy_row = e.next_appended()
        row = _row(t, i)
        q = int(qty[i]) + 1
        row[pos["quantity"]] = str(q)
        row[pos["amount"]] = _money(q * unit[i])
        e.append.append(row)
        e.add(
            source_row=e.row_number(i), kind="conflicting_duplicate", expected="quarantined", rule="duplicates",
            column="order_id,line_no", raw_column="Order No,Line No",
            description=f"line {value(i, 'order_id')}/{value(i, 'line_no')} sent again as row {copy_row} with Qty {q} "
            f"and Net Amount {row[pos['amount']]} (the later version is kept)",
            kept_row=copy_row,
        )

    # --- formatted numbers that parse: fixed
    for i in _pick(rng, np.flatnonzero(free_sale & (amount >= 1000)), k, used):
        text = f"¥{amount[i]:,.2f}"
        before, _ = edit(i, amount=text)
        e.add(
            source_row=e.row_number(i), kind="money_text", expected="fixed", rule="parse_numbers", column="amount",
            raw_column=cols["amount"], original=before[pos["amount"]], injected=text,
            description=f"Net Amount written as {text}",
        )
    many = free_sale & (qty >= 10)
    pool = np.flatnonzero(many) if len(set(np.flatnonzero(many).tolist()) - used) >= k else np.flatnonzero(free_sale)
    for i in _pick(rng, pool, k, used):
        text = _fullwidth(str(int(qty[i])))
        before, _ = edit(i, quantity=text)
        e.add(
            source_row=e.row_number(i), kind="fullwidth_qty", expected="fixed", rule="normalize_text", column="quantity",
            raw_column=cols["quantity"], original=before[pos["quantity"]], injected=text,
            description=f"Qty written in full-width digits ({text})",
        )
    pct_ok = free_sale & (disc > 0) & (disc < 1)
    for i in _pick(rng, np.flatnonzero(pct_ok), k, used):
        text = f"{round(disc[i] * 100, 6):g}%"
        if parse_number_text(text)[0] != disc[i]:  # pragma: no cover - demo discounts have 2 decimals
            raise AssertionError(f"{text} does not read back as {disc[i]}")
        before, _ = edit(i, discount=text)
        e.add(
            source_row=e.row_number(i), kind="percent_discount", expected="fixed", rule="parse_numbers", column="discount",
            raw_column=cols["discount"], original=before[pos["discount"]], injected=text,
            description=f"Discount written as a percentage ({text})",
        )

    # --- dates
    for i in _pick(rng, np.flatnonzero(free_sale), k, used):
        before, _ = edit(i, order_date="")
        e.add(
            source_row=e.row_number(i), kind="missing_date", expected="quarantined", rule="missing_required",
            column="order_date", raw_column=cols["order_date"], original=before[pos["order_date"]], injected="",
            description="Order Date left empty",
        )
    for i in _pick(rng, np.flatnonzero(free_sale), k, used):
        orig = date.fromisoformat(value(i, "order_date"))
        text = f"{orig.year}-{orig.month:02d}-31" if orig.month in (4, 6, 9, 11) else f"{orig.year}-02-30"
        before, _ = edit(i, order_date=text)
        e.add(
            source_row=e.row_number(i), kind="impossible_date", expected="quarantined", rule="parse_dates",
            column="order_date", raw_column=cols["order_date"], original=before[pos["order_date"]], injected=text,
            description=f"Order Date {text} does not exist",
        )
    for i in _pick(rng, np.flatnonzero(free_sale), k, used):
        text = _future(date.fromisoformat(value(i, "order_date"))).isoformat()
        before, _ = edit(i, order_date=text)
        e.add(
            source_row=e.row_number(i), kind="future_date", expected="quarantined", rule="future_dates",
            column="order_date", raw_column=cols["order_date"], original=before[pos["order_date"]], injected=text,
            description=f"Order Date {text} lies in the future (year typed wrong)",
        )

    # --- values that are not what they should be: quarantined
    for canon, text, kind, rule, what, mask in (
        ("product_id", UNKNOWN_PRODUCT, "unknown_product", "unknown_keys", "an Item Code not in products", free_sale),
        ("rep_id", UNKNOWN_REP, "unknown_rep", "unknown_keys", "a Salesperson not in reps", free_sale & has_rep),
        ("quantity", "N/A", "qty_not_a_number", "parse_numbers", "Qty is 'N/A'", free_sale),
        ("status", "Shipped", "unknown_status", "schema_checks", "Status 'Shipped' is not a known status code", free_sale),
    ):
        for i in _pick(rng, np.flatnonzero(mask), k, used):
            before, _ = edit(i, **{canon: text})
            e.add(
                source_row=e.row_number(i), kind=kind, expected="quarantined", rule=rule, column=canon,
                raw_column=cols[canon], original=before[pos[canon]], injected=text,
                description=what if text in what else f"{what} ({text})",
            )
    return e


def _future(d: date) -> date:
    """``d`` moved 10 years ahead (more if needed to lie well after today)."""
    limit = date.today() + timedelta(days=FUTURE_MARGIN_DAYS)
    years = 10
    while True:
        try:
            out = d.replace(year=d.year + years)
        except ValueError:  # 29 February
            out = d.replace(year=d.year + years, day=28)
        if out > limit:
            return out
        years += 10


# --------------------------------------------------------------------------- other tables


def _customers(out_dir: Path, rng: np.random.Generator, k: int) -> _Edits:
    cols = RAW_COLUMNS["customers"]
    t = _read(out_dir / FILE_NAMES["customers"])
    e = _Edits(header=t.column_names, n_rows=t.num_rows)
    pos = {canon: t.column_names.index(raw) for canon, raw in cols.items()}
    names = t.column(cols["name"]).to_pylist()
    segments = t.column(cols["segment"]).to_pylist()
    used: set[int] = set()
    companies = np.flatnonzero([len(s) >= 6 and " " not in s for s in names])
    for kind, sep, what in (
        ("name_double_space", "  ", "two spaces"),
        ("name_fullwidth_space", "\u3000", "a full-width space (U+3000)"),
    ):
        for i in _pick(rng, companies, k, used):
            text = names[i][:2] + sep + names[i][2:]
            row = _row(t, i)
            row[pos["name"]] = text
            e.replace[i] = row
            e.add(
                source_row=e.row_number(i), kind=kind, expected="fixed", rule="normalize_text", column="name",
                raw_column=cols["name"], original=names[i], injected=text,
                description=f"Customer Name with {what} after the city: normalize_text makes it "
                f"{names[i][:2] + ' ' + names[i][2:]!r} (one ordinary space stays)",
            )
    for i in _pick(rng, np.flatnonzero([bool(s) for s in segments]), k, used):
        text = _fullwidth(segments[i])
        row = _row(t, i)
        row[pos["segment"]] = text
        e.replace[i] = row
        e.add(
            source_row=e.row_number(i), kind="fullwidth_segment", expected="fixed", rule="normalize_text", column="segment",
            raw_column=cols["segment"], original=segments[i], injected=text,
            description=f"Segment in full-width letters ({text}): normalize_text restores {segments[i]!r}",
        )
    return e


def _reps(t: pa.Table, rng: np.random.Generator, k: int, end: date) -> _Edits:
    cols = RAW_COLUMNS["reps"]
    e = _Edits(header=t.column_names, n_rows=t.num_rows)
    pos = {canon: t.column_names.index(raw) for canon, raw in cols.items()}
    df = t.to_pandas()
    df["_i"] = np.arange(len(df))
    df["_from"] = pd.to_datetime(df[cols["valid_from"]], format="%Y-%m-%d")
    last = df.sort_values([cols["rep_id"], "_from", "_i"]).groupby(cols["rep_id"], sort=True).tail(1)
    # the rep's latest stint is open and began at least two days before the end of the data
    last = last[(last[cols["valid_to"]] == "") & (last["_from"] < pd.Timestamp(end - timedelta(days=1)))]
    teams = sorted(set(df[cols["team"]]))
    for i in _pick(rng, last["_i"].to_numpy(), k, set()):
        row = _row(t, i)
        start = date.fromisoformat(row[pos["valid_from"]])
        span = (end - start).days
        new_from = start + timedelta(days=int(rng.integers(1, span)))
        others = [x for x in teams if x != row[pos["team"]]]
        new = list(row)
        new[pos["valid_from"]] = new_from.isoformat()
        new[pos["team"]] = others[int(rng.integers(len(others)))] if others else row[pos["team"]]
        new_row = e.next_appended()
        e.append.append(new)
        e.add(
            source_row=new_row, kind="overlapping_stint", expected="quarantined", rule="overlapping_stints",
            column="valid_from", raw_column=cols["valid_from"], original=None, injected=new_from.isoformat(),
            description=f"a second open stint for {row[pos['rep_id']]} (team {new[pos['team']]} from {new_from}) while "
            f"the stint of row {e.row_number(i)} (from {start}, open) still runs",
        )
    return e


def _inventory(out_dir: Path, rng: np.random.Generator, k: int) -> _Edits:
    cols = RAW_COLUMNS["inventory"]
    t = _read(out_dir / FILE_NAMES["inventory"])
    e = _Edits(header=t.column_names, n_rows=t.num_rows)
    pos = {canon: t.column_names.index(raw) for canon, raw in cols.items()}
    on_hand = pc.cast(t.column(cols["on_hand"]), pa.float64()).to_numpy()
    for i in _pick(rng, np.flatnonzero(on_hand > 0), k, set()):
        row = _row(t, i)
        before = row[pos["on_hand"]]
        row[pos["on_hand"]] = "-" + before
        e.replace[i] = row
        e.add(
            source_row=e.row_number(i), kind="negative_on_hand", expected="quarantined", rule="schema_checks",
            column="on_hand", raw_column=cols["on_hand"], original=before, injected=row[pos["on_hand"]],
            description=f"On Hand {row[pos['on_hand']]} (negative stock)",
        )
    return e


def _tickets(out_dir: Path, rng: np.random.Generator, k: int) -> _Edits:
    cols = RAW_COLUMNS["tickets"]
    t = _read(out_dir / FILE_NAMES["tickets"])
    e = _Edits(header=t.column_names, n_rows=t.num_rows)
    pos = {canon: t.column_names.index(raw) for canon, raw in cols.items()}
    csat = t.column(cols["satisfaction"]).to_pylist()
    for i in _pick(rng, np.flatnonzero([bool(v) for v in csat]), k, set()):
        row = _row(t, i)
        row[pos["satisfaction"]] = "7"
        e.replace[i] = row
        e.add(
            source_row=e.row_number(i), kind="csat_out_of_range", expected="quarantined", rule="schema_checks",
            column="satisfaction", raw_column=cols["satisfaction"], original=csat[i], injected="7",
            description="CSAT 7 on a 1-5 scale",
        )
    # saved by a Chinese CRM: GB18030, with a free-text remark column (not mapped) whose
    # Chinese text is what makes the encoding show
    e.encoding = "gb18030"
    e.extra_column = (TICKET_REMARK, [TICKET_REMARKS.get(c, "") for c in t.column(cols["category"]).to_pylist()])
    return e
