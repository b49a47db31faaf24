"""The demo company generator: raw export files of a plausible Chinese B2B/B2C seller.

:func:`generate` writes one CSV per canonical table (headers and codes as in
:mod:`salesml.demo.source`), a ``manifest.json`` and a ``truth/`` folder with the latent
facts behind the data (customer traits and churn dates, intermittent products, rep skill,
promotions, inventory policies). The truth is never loaded into the warehouse; tests and
models use it to check that what they find is really there.

The output is a pure function of ``(scale, seed, end_date, years)``: every random draw
comes from streams derived from ``seed``, and nothing else depends on the clock.

Structure of the data (what later models can find):

* customers arrive from an initial base plus monthly acquisitions per channel, driven by
  marketing spend at a channel-specific cost per acquisition;
* each customer orders as a Poisson process: latent rate x a daily intensity (growth,
  weekdays, seasons, Spring Festival dip, 618 and Double 11 peaks) x promotions (for
  discount-dependent customers) x the owner rep's skill, decaying in the months before
  the customer churns; churn hazard rises with complaints and discount dependence and
  falls with the purchase rate;
* returns (~3% of sale lines) come later as lines of their own, more for complainers and
  defect-prone products; service tickets concentrate on complainers and on the months
  before churn;
* the sales hierarchy is effective-dated, with hires, leavers (their customers move to a
  colleague) and team moves within and across regions.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import zlib
from datetime import date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from salesml.demo import _names
from salesml.demo._calendar import Calendar, build_calendar
from salesml.demo._company import (
    CHANNELS,
    OPEN,
    REGION_NAMES,
    SALES_CHANNELS,
    SCALES,
    SEGMENTS,
    Customers,
    Marketing,
    Ownership,
    Products,
    Reps,
    assign_owners,
    build_customers,
    build_products,
    build_reps,
)
from salesml.demo._extras import (
    TICKET_CATEGORIES,
    WAREHOUSES,
    Inventory,
    Opportunities,
    Targets,
    Tickets,
    build_inventory,
    build_opportunities,
    build_targets,
    build_tickets,
)
from salesml.demo._orders import Orders, generate_orders
from salesml.demo.source import FILE_NAMES, RAW_COLUMNS

GENERATOR_VERSION = "1.0.0"
MANIFEST = "manifest.json"
TRUTH_DIR = "truth"
#: the promotion calendar the demo exports next to the tables (``[forecast] promotions``)
PROMOTIONS_FILE = "promotions.csv"
MIN_YEARS = 0.25
MAX_YEARS = 20.0
CATEGORY_NAMES = [c["name"] for c in _names.CATEGORIES]

__all__ = ["GENERATOR_VERSION", "generate", "SCALES"]


def generate(
    out_dir: Path,
    *,
    scale: str = "medium",
    seed: int = 42,
    end_date: date | str | None = None,
    years: float = 3.0,
    progress: bool = False,
) -> dict:
    """Write the demo company's raw export files to ``out_dir`` and return the manifest.

    ``scale`` is ``small`` (~20k order lines), ``medium`` (~500k) or ``large`` (~5M);
    ``end_date`` (a date or ``YYYY-MM-DD``) is the last day of data, ``None`` meaning
    yesterday; ``years`` of daily history end there. Same arguments, same bytes.
    """
    scale_cfg = _check_scale(scale)
    seed = _check_seed(seed)
    end = _check_end(end_date)
    years = _check_years(years)
    out_dir = Path(out_dir)

    from tqdm.auto import tqdm

    steps = ["calendar", "reps", "products", "customers", "orders", "targets", "opportunities",
             "inventory", "tickets", "write"]
    bar = tqdm(total=len(steps), desc="demo", unit="step", file=sys.stderr, disable=not progress)

    def step(name: str) -> np.random.Generator:
        bar.set_postfix_str(name)
        return np.random.default_rng([seed, zlib.crc32(name.encode())])

    try:
        cal = build_calendar(end, years, len(CATEGORY_NAMES), step("calendar"))
        bar.update()
        reps = build_reps(scale_cfg, cal, step("reps"))
        bar.update()
        products = build_products(scale_cfg, cal, step("products"))
        bar.update()
        customers, marketing = build_customers(scale_cfg, cal, step("customers"))
        owners = assign_owners(customers, reps, np.random.default_rng([seed, zlib.crc32(b"owners")]))
        bar.update()
        orders = generate_orders(scale_cfg, cal, products, customers, reps, owners, step("orders"))
        bar.update()
        targets = build_targets(cal, reps, orders, step("targets"))
        bar.update()
        opps = build_opportunities(scale_cfg, cal, customers, reps, owners, step("opportunities"))
        bar.update()
        inventory = build_inventory(cal, products, customers, orders, step("inventory"))
        bar.update()
        tickets = build_tickets(cal, customers, products, orders, step("tickets"))
        bar.update()
        step("write")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / TRUTH_DIR).mkdir(exist_ok=True)
        tables = {
            "reps": _reps_table(cal, reps),
            "products": _products_table(products),
            "customers": _customers_table(cal, customers, orders, owners, reps),
            "order_lines": _order_lines_table(cal, products, customers, reps, orders),
            "targets": _targets_table(targets, reps),
            "opportunities": _opportunities_table(cal, opps, customers, reps),
            "inventory": _inventory_table(cal, inventory, products),
            "marketing_spend": _marketing_table(marketing),
            "tickets": _tickets_table(cal, tickets, customers, products),
        }
        truth = {
            "customer_traits": _customer_truth(cal, customers, orders),
            "product_traits": _product_truth(cal, products),
            "rep_traits": _rep_truth(reps),
            "promotions": _promotion_truth(cal),
            "inventory_policy": _inventory_truth(inventory, products),
        }
        files: dict[str, dict] = {}
        rows: dict[str, int] = {}
        for name, cols in tables.items():
            if list(cols) != list(RAW_COLUMNS[name]):
                raise AssertionError(f"{name}: columns {list(cols)} do not match RAW_COLUMNS")
            path = out_dir / FILE_NAMES[name]
            rows[name] = _write_csv(path, [RAW_COLUMNS[name][c] for c in cols], list(cols.values()))
            files[FILE_NAMES[name]] = {"rows": rows[name], "sha256": _sha256(path), "bytes": path.stat().st_size}
        # the marketing team's promotion calendar (planned ahead, so it runs past the end
        # date): what a business knows of its promotions, for forecasts to use as a regressor
        promos = _promotion_truth(cal)
        path = out_dir / PROMOTIONS_FILE
        n_promos = _write_csv(path, list(promos), list(promos.values()))
        files[PROMOTIONS_FILE] = {"rows": n_promos, "sha256": _sha256(path), "bytes": path.stat().st_size}
        truth_rows: dict[str, int] = {}
        for name, cols in truth.items():
            rel = f"{TRUTH_DIR}/{name}.csv"
            path = out_dir / rel
            truth_rows[name] = _write_csv(path, list(cols), list(cols.values()))
            files[rel] = {"rows": truth_rows[name], "sha256": _sha256(path), "bytes": path.stat().st_size}
        bar.update()
    finally:
        bar.close()

    manifest = {
        "generator": "salesml.demo",
        "generator_version": GENERATOR_VERSION,
        "scale": scale_cfg.name,
        "seed": seed,
        "years": years,
        "start_date": cal.start.isoformat(),
        "end_date": cal.end.isoformat(),
        "rows": rows,
        "truth_rows": truth_rows,
        "files": files,
        "expected_order_lines": round(orders.expected_lines),
        "library_versions": {lib: _version(lib) for lib in ("numpy", "holidays", "pyarrow")},
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


# --------------------------------------------------------------------------- arguments


def _check_scale(scale: str):
    if scale not in SCALES:
        raise ValueError(f"unknown demo scale {scale!r}; choose one of: {', '.join(SCALES)}")
    return SCALES[scale]


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_end(end_date: date | str | None) -> date:
    if end_date is None or end_date == "":
        return date.today() - timedelta(days=1)
    if isinstance(end_date, datetime):
        return end_date.date()
    if isinstance(end_date, date):
        return end_date
    if isinstance(end_date, str):
        try:
            return date.fromisoformat(end_date)
        except ValueError:
            raise ValueError(f"end_date must be YYYY-MM-DD, got {end_date!r}") from None
    raise ValueError(f"end_date must be a date, YYYY-MM-DD or None, got {end_date!r}")


def _check_years(years: float) -> float:
    if isinstance(years, bool) or not isinstance(years, int | float | np.integer | np.floating):
        raise ValueError(f"years must be a number, got {years!r}")
    years = float(years)
    if not math.isfinite(years) or not MIN_YEARS <= years <= MAX_YEARS:
        raise ValueError(f"years must be between {MIN_YEARS} and {MAX_YEARS}, got {years!r}")
    return years


def _version(lib: str) -> str:
    try:
        return version(lib)
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


# --------------------------------------------------------------------------- writing


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _write_csv(path: Path, header: list[str], columns: list[pa.Array]) -> int:
    """UTF-8 CSV without BOM, no quoting (the writer refuses values that would need it)."""
    table = pa.Table.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
    with pa.OSFile(str(path), "wb") as f:
        f.write((",".join(header) + "\n").encode("utf-8"))
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=65536))
    return table.num_rows


def _validity(mask: np.ndarray | None):
    if mask is None or not mask.any():
        return None
    return pa.array(~mask).buffers()[1]


def _dec(values: np.ndarray, scale: int, mask: np.ndarray | None = None) -> pa.Array:
    """Exact decimals from integers in units of 10**-scale (e.g. cents with scale 2)."""
    v = np.ascontiguousarray(values, dtype=np.int64)
    buf = np.empty((len(v), 2), dtype=np.int64)
    buf[:, 0] = v
    buf[:, 1] = v >> 63
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(v), [_validity(mask), pa.py_buffer(buf)])


def _int(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64(), mask=mask if mask is not None and mask.any() else None)


def _float(values: np.ndarray, digits: int) -> pa.Array:
    return pa.array(np.round(np.asarray(values, dtype=float), digits), pa.float64())


def _date(cal: Calendar, day: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    epoch = (cal.start - date(1970, 1, 1)).days
    d = np.asarray(day, dtype=np.int64) + epoch
    if mask is not None:
        d = np.where(mask, 0, d)
    return pa.array(d.astype(np.int32), pa.int32(), mask=mask if mask is not None and mask.any() else None).view(
        pa.date32()
    )


def _labels(labels, idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(list(labels) if not isinstance(labels, np.ndarray) else labels.tolist(), pa.string())
    idx = np.asarray(idx, dtype=np.int64)
    return arr.take(pa.array(np.where(mask, 0, idx) if mask is not None else idx, mask=mask))


def _const(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def _ids(prefix: str, number: np.ndarray, width: int | None = None) -> pa.Array:
    """IDs like P00042: prefix + zero-padded number."""
    number = np.asarray(number, dtype=np.int64)
    width = width or max(1, len(str(int(number.max())))) if len(number) else 1
    digits = pa.compute.utf8_lpad(pa.array(number).cast(pa.string()), width=width, padding="0")
    return pa.compute.binary_join_element_wise(prefix, digits, "")


def _doc_ids(prefix: str, year: np.ndarray, seq: np.ndarray) -> pa.Array:
    """Document numbers like SO2024000123: prefix + year + 6-digit (or wider) running number."""
    width = max(6, len(str(int(seq.max())))) if len(seq) else 6
    digits = pa.compute.utf8_lpad(pa.array(np.asarray(seq, dtype=np.int64)).cast(pa.string()), width=width, padding="0")
    years = pa.array(np.asarray(year, dtype=np.int64)).cast(pa.string())
    return pa.compute.binary_join_element_wise(prefix, years, digits, "")


def _months(month: np.ndarray) -> pa.Array:
    return pa.array(np.datetime_as_string(month.astype("datetime64[M]"), unit="M").tolist(), pa.string())


# --------------------------------------------------------------------------- tables


def _team_codes(team: np.ndarray) -> pa.Array:
    n_teams = len(REGION_NAMES) * 3
    return _labels([f"T{i + 1:02d}" for i in range(n_teams)], team)


def _reps_table(cal: Calendar, reps: Reps) -> dict[str, pa.Array]:
    s = reps.stints
    rep = s["rep"].to_numpy()
    manager = s["manager"].to_numpy()
    no_mgr = manager < 0
    end = s["end"].to_numpy()
    start = s["start"].to_numpy()
    return {
        "rep_id": _labels(reps.ids, rep),
        "name": _labels(reps.names, rep),
        "role": pa.array(s["role"].tolist(), pa.string()),
        "team": _team_codes(s["team"].to_numpy()),
        "region": _labels(REGION_NAMES, s["region"].to_numpy()),
        "manager_id": _labels(reps.ids, manager, no_mgr),
        "valid_from": _date(cal, start),
        "valid_to": _date(cal, end, end >= OPEN),
    }


def _products_table(p: Products) -> dict[str, pa.Array]:
    n = p.n
    return {
        "product_id": pa.array(p.ids.tolist(), pa.string()),
        "name": pa.array(p.names.tolist(), pa.string()),
        "category": _labels(CATEGORY_NAMES, p.category),
        "brand": pa.array(p.brand.tolist(), pa.string()),
        "unit_cost": _dec(p.cost_e4[np.arange(n), 2], 4),
        "list_price": _dec(p.price_cents[np.arange(n), 2], 2),
    }


def _first_sale(customers: Customers, orders: Orders) -> np.ndarray:
    ok = ~orders.o_cancelled
    first = np.full(customers.n, -1, dtype=np.int64)
    cust, idx = np.unique(orders.o_cust[ok], return_index=True)  # orders are sorted by day
    first[cust] = orders.o_day[ok][idx]
    return first


def _customers_table(cal: Calendar, c: Customers, orders: Orders, owners: Ownership, reps: Reps) -> dict[str, pa.Array]:
    first = _first_sale(c, orders)
    return {
        "customer_id": pa.array(c.ids.tolist(), pa.string()),
        "name": pa.array(c.names.tolist(), pa.string()),
        "region": _labels(REGION_NAMES, c.region),
        "city": pa.array(c.city.tolist(), pa.string()),
        "segment": _labels(SEGMENTS, c.segment),
        "acquisition_channel": _labels(CHANNELS, c.channel),
        "first_order_date": _date(cal, first, first < 0),
        "owner_rep_id": _labels(reps.ids, owners.current),
    }


def _order_lines_table(cal: Calendar, p: Products, c: Customers, reps: Reps, o: Orders) -> dict[str, pa.Array]:
    n_s, n_r = len(o.order), len(o.r_src)
    src = o.r_src
    day = np.r_[o.day, o.r_day]
    kind = np.r_[np.zeros(n_s, dtype=np.int64), np.ones(n_r, dtype=np.int64)]
    seq = np.r_[o.order, np.arange(n_r)]
    line = np.r_[o.line, np.ones(n_r, dtype=np.int64)]
    perm = np.lexsort((line, seq, kind, day))
    n_o = len(o.o_day)
    doc_ids = pa.concat_arrays([_doc_ids("SO", o.o_year, o.o_seq), _doc_ids("RT", o.r_year, o.r_seq)])
    doc = np.r_[o.order, n_o + np.arange(n_r)][perm]
    line_src = np.r_[np.arange(n_s), src][perm]  # the sale line each row is (or reverses)
    is_ret = kind[perm] == 1
    qty = np.where(is_ret, -np.r_[np.zeros(n_s, dtype=np.int64), o.r_qty][perm], o.qty[line_src])
    unit = o.unit_cents[line_src]
    status = np.where(is_ret, 2, o.cancelled[line_src].astype(np.int64))
    return {
        "order_id": doc_ids.take(pa.array(doc)),
        "line_no": _int(line[perm]),
        "order_date": _date(cal, day[perm]),
        "customer_id": _labels(c.ids, o.cust[line_src]),
        "product_id": _labels(p.ids, o.prod[line_src]),
        "quantity": _int(qty),
        "unit_price": _dec(unit, 2),
        "discount": _dec(o.disc_pct[line_src], 2),
        "amount": _dec(qty * unit, 2),
        "unit_cost": _dec(o.cost_e4[line_src], 4),
        "currency": _const("CNY", len(perm)),
        "status": _labels(["Completed", "Cancelled", "Returned"], status),
        "rep_id": _labels(reps.ids, o.rep[line_src]),
        "channel": _labels(SALES_CHANNELS, o.channel[line_src]),
        "region": _labels(REGION_NAMES, c.region[o.cust[line_src]]),
        "return_of_order_id": doc_ids.take(pa.array(np.where(is_ret, o.order[line_src], 0), mask=~is_ret)),
        "return_of_line_no": _int(o.line[line_src], ~is_ret),
    }


def _targets_table(t: Targets, reps: Reps) -> dict[str, pa.Array]:
    srt = np.lexsort((t.rep, t.month))
    return {
        "rep_id": _labels(reps.ids, t.rep[srt]),
        "team": _team_codes(t.team[srt]),
        "region": _labels(REGION_NAMES, t.region[srt]),
        "period": _months(t.month[srt]),
        "target_revenue": _dec(t.revenue_cents[srt], 2),
        "target_margin": _dec(t.margin_cents[srt], 2),
    }


def _opportunities_table(cal: Calendar, o: Opportunities, c: Customers, reps: Reps) -> dict[str, pa.Array]:
    n = len(o.cust)
    return {
        "opp_id": _ids("OPP", np.arange(1, n + 1), max(6, len(str(n)))),
        "customer_id": _labels(c.ids, o.cust),
        "rep_id": _labels(reps.ids, o.rep),
        "created_date": _date(cal, o.created),
        "stage": pa.array(o.stage.tolist(), pa.string()),
        "expected_close": _date(cal, o.expected),
        "closed_date": _date(cal, o.closed, o.closed < 0),
        "amount": _dec(o.amount_cents, 2),
        "outcome": pa.array(o.outcome.tolist(), pa.string()),
    }


def _inventory_table(cal: Calendar, inv: Inventory, p: Products) -> dict[str, pa.Array]:
    return {
        "product_id": _labels(p.ids, inv.prod),
        "warehouse": _labels(WAREHOUSES, inv.warehouse),
        "snapshot_date": _date(cal, inv.day),
        "on_hand": _int(inv.on_hand),
        "on_order": _int(inv.on_order),
        "lead_time_days": _int(inv.lead_time),
    }


def _marketing_table(m: Marketing) -> dict[str, pa.Array]:
    return {
        "month": _months(m.month),
        "channel": _labels(CHANNELS, m.channel),
        "spend": _dec(m.spend_cents, 2),
    }


def _tickets_table(cal: Calendar, t: Tickets, c: Customers, p: Products) -> dict[str, pa.Array]:
    n = len(t.cust)
    return {
        "ticket_id": _ids("TK", t.seq, max(6, len(str(n)))),
        "customer_id": _labels(c.ids, t.cust),
        "product_id": _labels(p.ids, t.prod),
        "opened": _date(cal, t.opened),
        "closed": _date(cal, t.closed, t.closed < 0),
        "category": _labels(TICKET_CATEGORIES, t.category),
        "satisfaction": _int(t.csat, t.csat < 0),
    }


# --------------------------------------------------------------------------- truth


def _customer_truth(cal: Calendar, c: Customers, o: Orders) -> dict[str, pa.Array]:
    churned = c.churn <= cal.n_days - 1
    pref = np.asarray(CATEGORY_NAMES, dtype=object)
    prefs = np.where(c.pref[:, 0] == c.pref[:, 1], pref[c.pref[:, 0]], pref[c.pref[:, 0]] + "|" + pref[c.pref[:, 1]])
    return {
        "customer_id": pa.array(c.ids.tolist(), pa.string()),
        "segment": _labels(SEGMENTS, c.segment),
        "acquisition_channel": _labels(CHANNELS, c.channel),
        "acquisition_date": _date(cal, c.acq),
        "initial_base": pa.array(c.acq < 0),
        "prospect": pa.array(c.prospect),
        "base_rate": _float(o.rate, 6),
        "spend_level": _float(c.spend, 4),
        "complaint_propensity": _float(c.complaint, 4),
        "discount_dependence": _float(c.discount_dep, 4),
        "preferred_categories": pa.array(prefs.tolist(), pa.string()),
        "negotiated_discount": _float(c.negotiated, 2),
        "churn_hazard": _float(c.hazard, 4),
        "churned": pa.array(churned),
        "churn_date": _date(cal, np.where(churned, c.churn, 0), ~churned),
    }


def _product_truth(cal: Calendar, p: Products) -> dict[str, pa.Array]:
    share = p.popularity / np.bincount(p.category, weights=p.popularity)[p.category]
    return {
        "product_id": pa.array(p.ids.tolist(), pa.string()),
        "category": _labels(CATEGORY_NAMES, p.category),
        "popularity_share": _float(share, 6),
        "intermittent": pa.array(p.intermittent),
        "defect_prone": pa.array(p.defect_prone),
        "launch_date": _date(cal, p.launch),
        "launched_in_window": pa.array(p.launch >= 0),
        "price_changes": _int((p.change_day < OPEN).sum(axis=1)),
        "gross_margin": _float(p.margin, 4),
    }


def _rep_truth(reps: Reps) -> dict[str, pa.Array]:
    first = reps.stints.groupby("rep", sort=True)["role"].first()
    rep = first.index.to_numpy()
    skill = reps.skill[rep]
    return {
        "rep_id": _labels(reps.ids, rep),
        "role": pa.array(first.tolist(), pa.string()),
        "skill": pa.array(np.round(skill, 4), pa.float64(), mask=np.isnan(skill)),
        "sales_factor": _float(reps.factor[rep], 4),
    }


def _promotion_truth(cal: Calendar) -> dict[str, pa.Array]:
    promos = np.array([(c, lo, hi) for c, lo, hi, _ in cal.promotions], dtype=np.int64).reshape(-1, 3)
    disc = np.array([d for *_, d in cal.promotions])
    return {
        "category": _labels(CATEGORY_NAMES, promos[:, 0]),
        "first_day": _date(cal, promos[:, 1]),
        "last_day": _date(cal, promos[:, 2]),
        "discount": _float(disc, 2),
    }


def _inventory_truth(inv: Inventory, p: Products) -> dict[str, pa.Array]:
    return {
        "product_id": _labels(p.ids, inv.p_prod),
        "warehouse": _labels(WAREHOUSES, inv.p_warehouse),
        "reorder_point": _int(inv.p_reorder),
        "order_qty": _int(inv.p_qty),
        "lead_time_days": _int(inv.p_lead),
        "mean_daily_demand": _float(inv.p_mean_demand, 4),
        "lost_units": _int(inv.p_lost_units),
    }
