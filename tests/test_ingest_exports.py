"""Acceptance: real-looking shop and ERP exports load through their documented mappings.

The four sets of tests/data/exports (written by its make.py; its README says what each
imitates and which defects it carries) are loaded with the mappings of examples/
(shop_export, erp_gbk, eu_cp1252, daily_gz) into a warehouse in a temporary folder, and the
ledger is posted. Every figure checked is computed here from the committed files with
``csv`` and ``Decimal``, independently of salesml: rows read and quarantined per file (exact
duplicate rows), revenue read / loaded / quarantined to the cent, loaded lines per status,
net revenue per month by the line's own date and, in the ledger, with a linked return in the
month of its sale; the lines without a customer; what each export's quirks must give; and
that loading a set twice changes nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from salesml import warehouse
from salesml.accounting import ledger
from salesml.config import Settings, load_settings
from salesml.ingest import LoadResult, ingest_source

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXPORTS = Path(__file__).parent / "data" / "exports"
CENT = Decimal("0.01")


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


# ----------------------------------------------------------------------------- the files, read here


@dataclass(frozen=True)
class Line:
    """One row of an export, as the mapping documents it should be loaded."""

    file: str
    #: line in the file (the header is line 1)
    row: int
    order_id: str
    #: the export's line number (None: the export has none)
    line_no: int | None
    day: date
    customer: str | None
    product: str
    quantity: Decimal
    status: str
    amount: Decimal
    #: (order, line) of the sale a return names
    ref: tuple[str, int] | None
    #: the earlier line of the same file this row repeats exactly (None: not a repeat)
    repeats: int | None
    raw: dict


@dataclass(frozen=True)
class Export:
    name: str
    files: list[str]
    lines: list[Line]

    @property
    def loaded(self) -> list[Line]:
        return [ln for ln in self.lines if ln.repeats is None]


def records(path: Path, encoding: str, delimiter: str = ",") -> Iterator[tuple[int, dict, int | None]]:
    """(file line, row, the line it repeats) for every data row of a CSV (gzip or not)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    reader = csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=delimiter)
    header = next(reader)
    seen: dict[tuple, int] = {}
    for values in reader:
        row = reader.line_num
        key = tuple(values)
        yield row, dict(zip(header, values, strict=True)), seen.get(key)
        seen.setdefault(key, row)


def read_shop(folder: Path) -> Export:
    lines = []
    files = sorted(folder.glob("online_retail_*.csv"))
    for path in files:
        for row, r, rep in records(path, "utf-8"):
            qty = Decimal(r["Quantity"])
            invoice = r["InvoiceNo"]
            cust = r["CustomerID"].strip()
            status = "cancelled" if invoice.startswith(("C", "A")) else "returned" if qty < 0 else "completed"
            lines.append(Line(path.name, row, invoice, None, datetime.strptime(r["InvoiceDate"], "%m/%d/%Y %H:%M").date(),
                              str(int(Decimal(cust))) if cust else None, r["StockCode"], qty, status,
                              cents(qty * Decimal(r["UnitPrice"])), None, rep, r))
    return Export("shop_export", [p.name for p in files], lines)


ERP_STATUS = {"已完成": "completed", "已作废": "cancelled", "退货": "returned"}


def erp_day(text: str) -> date:
    m = re.fullmatch(r"(\d{4})(?:-(\d\d)-(\d\d)|/(\d{1,2})/(\d{1,2})|年(\d{1,2})月(\d{1,2})日)", text)
    assert m, f"not one of the ERP's three date styles: {text!r}"
    y, *md = m.groups()
    month, day = [int(v) for v in md if v is not None]
    return date(int(y), month, day)


def read_erp(folder: Path) -> Export:
    lines = []
    files = sorted(folder.glob("xsmx_*.csv"))
    for path in files:
        for row, r, rep in records(path, "gbk"):
            ref = (r["源单号"], int(r["源行号"])) if r["源单号"] else None
            lines.append(Line(path.name, row, r["单据编号"], int(r["行号"]), erp_day(r["单据日期"]), r["客户编码"], r["商品编码"],
                              Decimal(r["数量"]), ERP_STATUS[r["单据状态"]], Decimal(r["含税金额"].replace(",", "")), ref, rep, r))
    return Export("erp_gbk", [p.name for p in files], lines)


def de_number(text: str) -> Decimal:
    """'1.234,50' -> 1234.50; '(12,50)' -> -12.50 (an accounting negative)."""
    neg = text.startswith("(") and text.endswith(")")
    value = Decimal(text.strip("()").replace(".", "").replace(",", "."))
    return -value if neg else value


def read_eu(folder: Path) -> Export:
    lines = []
    files = sorted(folder.glob("Verkaufsjournal_*.csv"))
    for path in files:
        for row, r, rep in records(path, "cp1252", ";"):
            qty = de_number(r["Menge"])
            lines.append(Line(path.name, row, r["Belegnr"], int(r["Pos"]), datetime.strptime(r["Belegdatum"], "%d.%m.%Y").date(),
                              r["Kundennr"], r["Artikelnr"], qty, "returned" if qty < 0 else "completed",
                              de_number(r["Betrag"]), None, rep, r))
    return Export("eu_cp1252", [p.name for p in files], lines)


def read_daily(folder: Path) -> Export:
    lines = []
    files = sorted(folder.glob("sales_*.csv.gz"))
    for path in files:
        for row, r, rep in records(path, "utf-8"):
            qty = Decimal(r["Qty"])
            ref = (r["Return Of Order"], int(r["Return Of Line"])) if r["Return Of Order"] else None
            lines.append(Line(path.name, row, r["Order ID"], int(r["Line"]), date.fromisoformat(r["Date"]), r["Customer"], r["SKU"],
                              qty, "returned" if qty < 0 else "completed", cents(qty * Decimal(r["Price"])), ref, rep, r))
    return Export("daily_gz", [p.name for p in files], lines)


#: source name (= examples/NAME.toml) -> (fixture folder, reader)
SETS: dict[str, tuple[str, Callable[[Path], Export]]] = {
    "shop_export": ("shop", read_shop),
    "erp_gbk": ("erp_gbk", read_erp),
    "eu_cp1252": ("eu_cp1252", read_eu),
    "daily_gz": ("daily", read_daily),
}


def export(name: str) -> Export:
    folder, reader = SETS[name]
    return reader(EXPORTS / folder)


def month(d: date) -> str:
    return f"{d:%Y-%m}"


def net_by_month(lines: list[Line], month_of: Callable[[Line], str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for ln in lines:
        if ln.status != "cancelled":
            out[month_of(ln)] += ln.amount
    return dict(out)


def ledger_month(exp: Export) -> Callable[[Line], str]:
    """A return that names a loaded sale counts in the sale's month; any other line in its own."""
    sales = {(ln.order_id, ln.line_no): ln.day for ln in exp.loaded if ln.status == "completed"}
    return lambda ln: month(sales.get(ln.ref, ln.day) if ln.status == "returned" and ln.ref else ln.day)


# ----------------------------------------------------------------------------- the fixtures themselves


def test_the_fixtures_carry_the_defects_their_readme_promises():
    shop = export("shop_export")
    assert 2000 <= len(shop.lines) <= 3000
    assert 24 <= sum(ln.repeats is not None for ln in shop.lines) <= 60
    guests = sum(ln.customer is None for ln in shop.lines) / len(shop.lines)
    assert 0.2 <= guests <= 0.3
    assert {ln.order_id[0] for ln in shop.lines if ln.quantity < 0} == {"C"}  # returns are C lines only
    bad_debt = [ln for ln in shop.lines if ln.order_id.startswith("A")]
    assert len(bad_debt) == 3 and {ln.raw["StockCode"] for ln in bad_debt} == {"B"}
    assert sum(Decimal(ln.raw["UnitPrice"]) < 0 for ln in bad_debt) == 2
    assert all(re.fullmatch(r"\d+\.0", ln.raw["CustomerID"]) for ln in shop.lines if ln.customer)
    assert {"POST", "DOT"} <= {ln.product for ln in shop.lines}

    erp = export("erp_gbk")
    styles = Counter(re.sub(r"\d", "9", ln.raw["单据日期"])[:5] for ln in erp.lines)
    assert {"9999-", "9999/", "9999年"} <= set(styles)
    sold = defaultdict(Decimal)
    completed = {(ln.order_id, ln.line_no): ln for ln in erp.lines if ln.status == "completed"}
    for ln in erp.lines:
        if ln.status != "returned":
            continue
        assert ln.quantity < 0 and ln.amount < 0
        if ln.ref:  # names a completed sale of the same customer and product, earlier
            sale = completed[ln.ref]
            assert (sale.customer, sale.product) == (ln.customer, ln.product) and sale.day < ln.day
            sold[ln.ref] -= ln.quantity
            assert sold[ln.ref] <= sale.quantity
        else:  # no sale of that customer and product in the file: stays unlinked
            assert not any((s.customer, s.product) == (ln.customer, ln.product) for s in erp.lines if s.status == "completed")
    refs = Counter(ln.ref is not None for ln in erp.lines if ln.status == "returned")
    assert refs[True] >= 10 and refs[False] >= 10
    assert any(ln.status == "cancelled" for ln in erp.lines)

    eu = export("eu_cp1252")
    assert all(ln.quantity > 0 for ln in eu.lines)
    bracketed = [ln for ln in eu.lines if ln.raw["Betrag"].startswith("(")]
    assert len(bracketed) >= 5 and all(ln.amount < 0 for ln in bracketed)
    assert any(ln.amount <= -1000 for ln in bracketed)
    assert sum(ln.amount >= 1000 for ln in eu.lines) >= 3
    assert any(ln.quantity >= 1000 for ln in eu.lines) and any(ln.quantity % 1 for ln in eu.lines)

    daily = export("daily_gz")
    assert 20 <= len(daily.files) <= 30
    sales = {(ln.order_id, ln.line_no): ln for ln in daily.lines if ln.status == "completed"}
    back = defaultdict(Decimal)
    for ln in daily.lines:
        if ln.status == "returned":
            sale = sales[ln.ref]
            assert sale.file < ln.file and (sale.customer, sale.product) == (ln.customer, ln.product)
            back[ln.ref] -= ln.quantity
            assert back[ln.ref] <= sale.quantity
    assert sum(1 for ln in daily.lines if ln.status == "returned" and sales[ln.ref].day.month != ln.day.month) >= 5


# ----------------------------------------------------------------------------- loading


@dataclass
class Loaded:
    export: Export
    settings: Settings
    first: list[LoadResult]
    again: list[LoadResult]
    posted_again: dict
    before: dict
    after: dict

    def sql(self, query: str, params=None) -> list[tuple]:
        with warehouse.connect(self.settings.warehouse_path, read_only=True) as con:
            return con.execute(query, params or []).fetchall()


COMPARED = ("order_lines", "customers", "products", "quarantine", "row_fixes", "load_batches", "ledger")


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in COMPARED if warehouse.table_exists(con, t)}


def load(name: str, folder: Path) -> Loaded:
    """The example mapping with its warehouse in ``folder``: load, post, load again, post again."""
    settings = load_settings(EXAMPLES / f"{name}.toml").with_overrides(warehouse={"path": str(folder / "w.duckdb")})
    source = settings.sources[name]
    first = ingest_source(settings, name, source)
    with warehouse.open(settings) as con:
        ledger.post(con, settings.performance)
    before = snapshot(settings)
    again = ingest_source(settings, name, source)
    with warehouse.open(settings) as con:
        posted_again = ledger.post(con, settings.performance)
    return Loaded(export(name), settings, first, again, posted_again, before, snapshot(settings))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Callable[[str], Loaded]:
    """Each set loaded once per module; a load that fails is not retried and fails every test of its set."""
    done: dict[str, Loaded | BaseException] = {}

    def get(name: str) -> Loaded:
        if name not in done:
            try:
                done[name] = load(name, tmp_path_factory.mktemp(name))
            except Exception as e:  # reported by every test of the set
                done[name] = e
        if isinstance(done[name], BaseException):
            raise done[name]
        return done[name]

    return get


sets = pytest.mark.parametrize("name", list(SETS))


@sets
def test_rows_and_revenue_reconcile_per_file(loaded, name):
    w = loaded(name)
    expected = {}
    for f in w.export.files:
        lines = [ln for ln in w.export.lines if ln.file == f]
        q = [ln for ln in lines if ln.repeats is not None]
        read, quarantined = sum(ln.amount for ln in lines), sum((ln.amount for ln in q), Decimal(0))
        expected[f] = (len(lines), len(lines) - len(q), len(q), 0, read, read - quarantined, quarantined)
    got = w.sql(
        "SELECT path, rows_read, rows_loaded, rows_quarantined, rows_merged, revenue_read, revenue_loaded, revenue_quarantined "
        "FROM load_batches WHERE table_name = 'order_lines' ORDER BY batch_id"
    )
    assert [Path(r[0]).name for r in got] == w.export.files  # one batch per file, in file order
    assert {Path(r[0]).name: tuple(r[1:]) for r in got} == expected


@sets
def test_exact_duplicate_rows_are_quarantined_naming_the_row_they_repeat(loaded, name):
    w = loaded(name)
    got = w.sql("SELECT path, source_row, reason, coalesce(details, '') FROM quarantine WHERE table_name = 'order_lines'")
    assert sorted((Path(p).name, row) for p, row, _, _ in got) == sorted((ln.file, ln.row) for ln in w.export.lines if ln.repeats)
    repeats = {(ln.file, ln.row): ln.repeats for ln in w.export.lines if ln.repeats}
    for path, row, reason, details in got:
        assert "duplicate" in reason.lower()
        assert re.search(rf"\b{repeats[Path(path).name, row]}\b", f"{reason} {details}"), (reason, details)


@sets
def test_loaded_lines_per_status(loaded, name):
    w = loaded(name)
    assert dict(w.sql("SELECT status, count(*) FROM order_lines GROUP BY 1")) == Counter(ln.status for ln in w.export.loaded)


@sets
def test_net_revenue_per_month_by_the_line_date(loaded, name):
    w = loaded(name)
    got = dict(w.sql("SELECT strftime(order_date, '%Y-%m'), sum(amount) FROM order_lines WHERE status <> 'cancelled' GROUP BY 1"))
    assert got == net_by_month(w.export.loaded, lambda ln: month(ln.day))


@sets
def test_ledger_counts_a_linked_return_in_the_month_of_its_sale(loaded, name):
    w = loaded(name)
    got = dict(w.sql("SELECT period, sum(amount) FROM ledger GROUP BY 1"))
    assert got == net_by_month(w.export.loaded, ledger_month(w.export))


@sets
def test_lines_without_a_customer_are_loaded_and_counted(loaded, name):
    w = loaded(name)
    anonymous = w.settings.sources[name].anonymous_customer or None
    lines = [ln for ln in w.export.loaded if ln.customer is None]
    got = w.sql(
        "SELECT count(*), coalesce(sum(amount) FILTER (WHERE status <> 'cancelled'), 0) FROM order_lines "
        "WHERE customer_id IS NULL OR customer_id = ?",
        [anonymous],
    )
    assert got == [(len(lines), sum((ln.amount for ln in lines if ln.status != "cancelled"), Decimal(0)))]
    ids = {r[0] for r in w.sql("SELECT DISTINCT customer_id FROM order_lines")}
    assert ids == {ln.customer or anonymous for ln in w.export.loaded}


@sets
def test_loading_the_same_set_twice_changes_nothing(loaded, name):
    w = loaded(name)
    assert len(w.again) == len(w.first) and all(r.skipped for r in w.again)
    assert w.posted_again["entries"] == 0
    assert w.after == w.before


# ----------------------------------------------------------------------------- each export's quirks


def test_shop_cancellations_and_bad_debt_stay_cancelled(loaded):
    w = loaded("shop_export")
    cancelled = Counter(ln.order_id[0] for ln in w.export.loaded if ln.status == "cancelled")
    assert dict(w.sql("SELECT left(order_id, 1), count(*) FROM order_lines WHERE status = 'cancelled' GROUP BY 1")) == cancelled
    assert set(cancelled) == {"C", "A"}
    # a rule's outcome stands: negative C lines are neither returns nor linked to a sale
    assert w.sql("SELECT count(*) FROM order_lines WHERE status = 'returned' OR return_of_order_id IS NOT NULL") == [(0,)]
    # no line numbers in the export: 1, 2, ... in file order within each invoice (invoices
    # without a repeated row, where the numbering cannot depend on how repeats are counted)
    with_repeats = {ln.order_id for ln in w.export.lines if ln.repeats}
    expected = Counter()
    numbered = set()
    for ln in w.export.loaded:
        if ln.order_id not in with_repeats:
            expected[ln.order_id] += 1
            numbered.add((ln.order_id, expected[ln.order_id], ln.product))
    got = {r for r in w.sql("SELECT order_id, line_no, product_id FROM order_lines") if r[0] not in with_repeats}
    assert got == numbered


def test_shop_customer_ids_are_whole_numbers_as_text(loaded):
    w = loaded("shop_export")
    ids = {r[0] for r in w.sql("SELECT DISTINCT customer_id FROM order_lines")}
    assert "17850" in ids and not any("." in i for i in ids)
    assert w.sql("SELECT DISTINCT customer_id FROM order_lines WHERE order_id = '536365'") == [("17850",)]


def test_erp_returns_link_by_reference_or_stay_unlinked(loaded):
    w = loaded("erp_gbk")
    got = w.sql("SELECT order_id, line_no, return_of_order_id, return_of_line_no FROM order_lines WHERE status = 'returned'")
    expected = [(ln.order_id, ln.line_no, *(ln.ref or (None, None))) for ln in w.export.loaded if ln.status == "returned"]
    assert sorted(got, key=str) == sorted(expected, key=str)


def test_erp_names_are_read_as_gbk(loaded):
    w = loaded("erp_gbk")
    rows = [ln.raw for ln in w.export.lines]
    assert set(w.sql("SELECT customer_id, name FROM customers")) == {(r["客户编码"], r["客户名称"]) for r in rows}
    assert set(w.sql("SELECT product_id, name FROM products")) == {(r["商品编码"], f"{r['商品名称']} {r['规格型号']}") for r in rows}
    assert w.sql("SELECT name FROM customers WHERE customer_id = 'KH0008'") == [("杭州堃德商贸有限公司",)]
    assert ("李喆",) in w.sql("SELECT DISTINCT rep_id FROM order_lines")


def test_eu_names_numbers_and_currency(loaded):
    w = loaded("eu_cp1252")
    rows = [ln.raw for ln in w.export.lines]
    assert set(w.sql("SELECT customer_id, name, city, region FROM customers")) == {
        (r["Kundennr"], r["Kundenname"], r["Ort"], r["Land"]) for r in rows
    }
    names = {r[0] for r in w.sql("SELECT name FROM customers")}
    assert {"Müller Eisenwaren GmbH", "Café Señor Álvarez S.L.", "Æbeltoft Møbler ApS", "Šimek s.r.o.", "Œnothèque Dubois SARL"} <= names
    assert w.sql("SELECT DISTINCT currency FROM order_lines") == [("EUR",)]
    # "1.200" is twelve hundred, "12,5" twelve and a half, "0,0450" four and a half cents
    assert w.sql("SELECT sum(quantity), count(*) FILTER (WHERE amount >= 1000) FROM order_lines") == [
        (sum(ln.quantity for ln in w.export.loaded), sum(ln.amount >= 1000 for ln in w.export.loaded))
    ]
    assert w.sql("SELECT DISTINCT unit_price FROM order_lines WHERE product_id = '4711-06'") == [(Decimal("0.0450"),)]


def test_eu_bracketed_amounts_load_negative_and_flagged(loaded):
    w = loaded("eu_cp1252")
    bracketed = sorted(ln.row for ln in w.export.loaded if ln.raw["Betrag"].startswith("("))
    got = w.sql("SELECT source_row, status, amount FROM order_lines WHERE amount < 0 ORDER BY 1")
    expected = [(ln.row, "completed", ln.amount) for ln in w.export.loaded if ln.row in bracketed]
    assert got == expected
    flagged = {r[0] for r in w.sql("SELECT DISTINCT source_row FROM row_fixes WHERE table_name = 'order_lines' AND kind = 'flag'")}
    assert set(bracketed) <= flagged


def test_daily_returns_name_their_sale_from_an_earlier_file(loaded):
    w = loaded("daily_gz")
    got = w.sql("SELECT order_id, line_no, return_of_order_id, return_of_line_no FROM order_lines WHERE status = 'returned'")
    assert sorted(got) == sorted((ln.order_id, ln.line_no, *ln.ref) for ln in w.export.loaded if ln.status == "returned")
    # the ledger counts the June returns of May sales in May
    month_of = ledger_month(w.export)
    moved = [ln for ln in w.export.loaded if ln.status == "returned" and month_of(ln) != month(ln.day)]
    assert w.sql("SELECT count(*) FROM ledger WHERE kind = 'return' AND period <> strftime(event_date, '%Y-%m')") == [(len(moved),)]
