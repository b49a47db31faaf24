"""The demo company: realistic raw export files, loaded through the normal ingest path."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from salesml import warehouse
from salesml.accounting import closing, ledger
from salesml.config import Settings
from salesml.demo.dirty import DIRTY_MANIFEST, inject_defects
from salesml.demo.generator import MANIFEST, generate
from salesml.demo.source import SOURCE_NAME, demo_source
from salesml.ingest import ingest_source


def build_demo(
    settings: Settings,
    *,
    scale: str | None = None,
    seed: int | None = None,
    end_date: date | None = None,
    load: bool = True,
    dirty: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda msg: None,
):
    """Write the demo export files to ``demo.out_dir`` and (optionally) load them.

    Returns ``(manifest, load results)``. Arguments left as None come from the settings;
    an empty ``demo.end_date`` means yesterday. With ``dirty``, known defects are injected
    into the files before loading (:func:`salesml.demo.dirty.inject_defects`), listed in
    ``dirty_manifest.json`` beside them, and ``manifest["dirty"]`` sums them up.
    """

    cfg = settings.demo
    scale = scale or cfg.scale
    seed = cfg.seed if seed is None else seed
    if end_date is None:
        end_date = date.fromisoformat(cfg.end_date) if cfg.end_date else date.today() - timedelta(days=1)
    out_dir = settings.path(cfg.out_dir)
    t0 = time.perf_counter()
    manifest = generate(out_dir, scale=scale, seed=seed, end_date=end_date, years=cfg.years, progress=progress)
    lines = manifest.get("rows", {}).get("order_lines", 0)
    log(f"demo company ({scale}, seed {seed}, to {end_date}): {lines:,} order lines written to {out_dir} in {time.perf_counter() - t0:.1f}s")
    stale = out_dir / DIRTY_MANIFEST
    if dirty:
        t2 = time.perf_counter()
        dirt = inject_defects(out_dir, seed=seed, end_date=end_date, scale=scale, cleaning=settings.cleaning)
        # inject_defects updates manifest.json: new hashes and row counts, and a "dirty" summary
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        log(f"dirty: injected {dirt['summary']['defects']} defects (see {_shown(settings, stale)}) in {time.perf_counter() - t2:.1f}s")
    elif stale.exists():
        stale.unlink()  # the files are clean again
    results = []
    if load:
        t1 = time.perf_counter()
        results = ingest_source(settings, SOURCE_NAME, demo_source(settings), progress=progress)
        log(f"loaded into {settings.warehouse_path} in {time.perf_counter() - t1:.1f}s")
        summary = replay_closes(settings, end_date)
        if summary["closed"]:
            log(
                f"ledger: books closed for {', '.join(summary['closed'])}; {summary['adjustments']:,} late entries "
                f"({summary['adjustment_amount']:,.2f}) posted as adjustments in the first open month"
            )
    return manifest, results


def close_schedule(end_date: date, months: int, close_day: int) -> list[tuple[str, datetime]]:
    """The demo company's closes: its last ``months`` complete months, each closed on
    ``close_day`` of the following month, if that day is not after ``end_date``."""
    out = []
    y, m = end_date.year, end_date.month
    idx = y * 12 + m - 1  # this month
    while len(out) < months and idx > 0:
        idx -= 1
        period = f"{idx // 12:04d}-{idx % 12 + 1:02d}"
        ny, nm = divmod(idx + 1, 12)
        at = datetime(ny, nm + 1, min(close_day, 28), 18, 0)
        if at.date() <= end_date:
            out.append((period, at))
    return sorted(out)


def replay_closes(settings: Settings, end_date: date) -> dict:
    """Post the ledger as the demo company did: up to each close, close, then the rest.

    Returns that arrived after their month's close become adjustments in the first open
    month. A warehouse whose periods are already closed (a re-run) is only posted.
    """

    cfg = settings.demo
    summary = {"closed": [], "adjustments": 0, "adjustment_amount": 0.0}
    with warehouse.open(settings) as con:
        if not closing.closed_periods(con) and not con.execute("SELECT count(*) FROM period_events").fetchall()[0][0]:
            for period, at in close_schedule(end_date, cfg.closed_months, cfg.close_day):
                part = ledger.post(con, settings.performance, now=at, through=at.date())
                summary["adjustments"] += part["adjustments"]
                summary["adjustment_amount"] += part["adjustment_amount"]
                closing.close(con, period, "demo", "month-end close (demo timeline)", at=at)
                summary["closed"].append(period)
        result = ledger.post(con, settings.performance)
        summary["adjustments"] += result["adjustments"]
        summary["adjustment_amount"] += result["adjustment_amount"]
        warehouse.audit(con, "post", {**result, "closed": summary["closed"]})
    return summary


def _shown(settings: Settings, path) -> str:
    """A path as the user would type it: relative to the project root when inside it."""
    try:
        return str(path.relative_to(settings.path(".")))
    except ValueError:
        return str(path)
