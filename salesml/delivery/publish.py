"""Publishing: ``reports/index.html``, the list of scheduled pages (each schedule, slot and
audience member with its status, attempts, parameters, a link to its page or its error), newest
first. Written after every ``salesml schedule run-due`` that rendered something, atomically (a
temporary file renamed into place), from the whole record in ``schedule_runs``."""

from __future__ import annotations

import html
import json
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from salesml.config import Settings
from salesml.reports.runner import shown_parameters, write_files

INDEX_NAME = "index.html"

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.failed { color: #b00020; }
.params { font-family: ui-monospace, monospace; font-size: 12px; color: #555; }
"""


def _params(text) -> str:
    try:
        params = json.loads(text) if text else {}
    except ValueError:
        return str(text)
    return ", ".join(f"{k}={v}" for k, v in shown_parameters(params).items())


def index_html(records: pd.DataFrame, folder: Path, now: datetime | None = None) -> str:
    """The index page of ``records`` (``schedule_runs`` rows), its links relative to ``folder``
    (where the page is written). Pure."""
    rows = []
    for r in records.sort_values(["slot", "schedule", "audience"], ascending=[False, True, True]).itertuples():
        ok = r.status == "ok"
        if ok and r.output:
            link = os.path.relpath(str(r.output), folder)
            what = f'<a href="{html.escape(link)}">{html.escape(Path(str(r.output)).name)}</a>'
        else:
            what = f'<span class="failed">{html.escape(str(r.error or ""))}</span>'
        rows.append(
            "<tr>" + "".join(f"<td>{c}</td>" for c in (
                html.escape(str(r.schedule)), html.escape(str(r.slot)), html.escape(str(r.audience)),
                f'<span class="{"" if ok else "failed"}">{html.escape(str(r.status))}</span>', int(r.attempts),
                f'<span class="params">{html.escape(_params(r.parameters))}</span>', what)) + "</tr>"
        )
    stamp = (now or datetime.now()).isoformat(timespec="seconds")
    head = "".join(f"<th>{h}</th>" for h in ("schedule", "slot (UTC)", "audience", "status", "attempts", "parameters", "page"))
    body = "\n".join(rows) or '<tr><td colspan="7">no scheduled page yet</td></tr>'
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>salesml reports</title>'
            f"<style>{_STYLE}</style></head><body><h1>Scheduled reports</h1><p>{len(records)} page(s); written {stamp}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></body></html>\n")


def write_index(settings: Settings, records: pd.DataFrame) -> Path:
    """Write ``<[report] output_dir>/index.html`` from ``records``; its path."""
    path = settings.path(settings.report.output_dir) / INDEX_NAME
    write_files({path: index_html(records, path.parent)})
    return path
