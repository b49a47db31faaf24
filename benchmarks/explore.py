"""Latency of the workbench's updates: p50 / p95 per kind of update, on a loaded warehouse.

    python -m benchmarks.explore [--warehouse PATH] [--config PATH] [--scope SCOPE] [--repeat N] [--json]

Opens the workbench (``salesml.explore``) with its widget view on the warehouse (default: the
config's; it is only read) and times each kind of update as the page sees it: the controller's
work and the widgets updated in place. A filter change (start, end, region, team, rep,
category, product, segment, channel) is timed with the aggregate cache emptied first, so each
one runs its query; measure, grain and compare changes run none; drill is a click on the first
bar, back a click on the first crumb; tab data is the forecast and customer tabs' contents.
Values cycle through the options offered. Figures belong in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import timedelta

from salesml.config import notebook_settings
from salesml.explore import Workbench
from salesml.explore.widgets import WorkbenchView


def _values(view: WorkbenchView, name: str, n: int) -> list:
    opts = [v for _, v in view.wb.filter_options()[name] if v]
    return [opts[i % len(opts)] if i % 2 == 0 else "" for i in range(n)] if opts else []


def _p(times: list[float], q: float) -> float:
    s = sorted(times)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] * 1000


class _Points:
    """A click on the first bar, as plotly hands it to ``on_click``."""

    point_inds = (0,)


def run(config: str, wh: str, scope: str, repeat: int) -> dict:
    t0 = time.perf_counter()
    wb = Workbench(notebook_settings(config, wh), scope)
    view = WorkbenchView(wb)
    opened = time.perf_counter() - t0
    times: dict[str, list[float]] = {}

    def timed(kind: str, fn, cold: bool = False) -> None:
        if cold:
            wb._cache.clear()
        t = time.perf_counter()
        fn()
        times.setdefault(kind, []).append(time.perf_counter() - t)
        if view.message.value:
            raise SystemExit(f"{kind}: {view.message.value}")

    sel = wb.selection
    for i in range(repeat):
        timed("start", lambda i=i: setattr(view.start, "value", sel.start + timedelta(days=7 * (i % 2 + 1))), cold=True)
        timed("end", lambda i=i: setattr(view.end, "value", sel.end - timedelta(days=7 * (i % 2 + 1))), cold=True)
    view.start.value, view.end.value = sel.start, sel.end
    for name in ("region", "team", "rep", "category", "product", "segment", "channel"):
        for v in _values(view, name, repeat):
            w = view.filters[name]
            if name == "product":
                v = next((label for label, value in view._products.items() if value == v), "")
            timed(name, lambda w=w, v=v: setattr(w, "value", v), cold=True)
    for kind, widget, values in (("measure", view.measure, ["margin", "orders", "customers", "aov", "return_rate", "revenue"]),
                                 ("grain", view.grain, ["day", "week", "month"]),
                                 ("compare", view.compare, ["last_year", "target", "forecast", "none", "previous"])):
        for i in range(repeat):
            value = values[i % len(values)]
            timed(kind, lambda w=widget, v=value: setattr(w, "value", v))
    for _ in range(repeat):
        wb._cache.clear()
        wb.data()  # the page shows the breakdown before a bar can be clicked: only the drilled selection is new
        timed("drill", lambda: view._on_bar(None, _Points, None))
        timed("back", lambda: view.crumbs.children[0].click() if len(view.crumbs.children) > 1 else None)
    for i in range(repeat):
        timed("tab data", lambda i=i: setattr(view.tabs, "selected_index", 1 + i % 2))
        view.tabs.selected_index = 0
    rows = {k: {"p50_ms": round(_p(v, 0.5)), "p95_ms": round(_p(v, 0.95)), "max_ms": round(max(v) * 1000), "n": len(v)}
            for k, v in times.items()}
    wb.close()
    return {"open_s": round(opened, 2), "queries": wb.queries, "updates": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.explore", description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default="", help="warehouse file (default: the config's)")
    ap.add_argument("--config", default="", help="config file (default: salesml.toml / $SALESML_CONFIG)")
    ap.add_argument("--scope", default="company")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    res = run(a.config, a.warehouse, a.scope, a.repeat)
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"opened in {res['open_s']} s; {res['queries']} queries")
    print(f"{'update':<10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'n':>4}")
    for k, r in res["updates"].items():
        print(f"{k:<10} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8} {r['n']:>4}")
    print(f"median of all: {statistics.median(r['p50_ms'] for r in res['updates'].values())} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
