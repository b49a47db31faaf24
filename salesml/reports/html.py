"""Display blocks for report notebooks: escaped tables, KPI cards, charts, recorded figures.

Every block is an object with ``_repr_mimebundle_``: a notebook cell that ends with one
shows it, in JupyterLab and in the HTML that nbconvert exports. Text that comes from
data (names, categories) is HTML-escaped here, in one place.
"""

from __future__ import annotations

import functools
import html
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import plotly.io as pio

from salesml.reports.lang import Lang, is_missing

#: plotly's template of every report chart (applied by :func:`chart`)
TEMPLATE = "plotly_white"
#: one colour per measure, in every report's charts
COLORS = {
    "revenue": "#0969da",
    "returns": "#cf222e",
    "target": "#57606a",
    "margin": "#1a7f37",
    "forecast": "#8250df",
    "pipeline": "#bf8700",
    "up": "#1a7f37",
    "down": "#cf222e",
    "total": "#0969da",
}
#: the ABC classes of a Pareto chart (its title names them)
ABC_COLORS = {"A": "#0969da", "B": "#8250df", "C": "#bf8700"}

#: mimetype of the figures a report records for tests and schedulers
FIGURES_MIME = "application/vnd.salesml.figures+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"

_STYLE = """
<style>
.salesml-cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px}
.salesml-card{border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:150px;background:#f6f8fa}
.salesml-card .label{font-size:12px;color:#57606a;text-transform:uppercase;letter-spacing:.04em}
.salesml-card .value{font-size:22px;font-weight:600;margin-top:2px}
.salesml-card .sub{font-size:12px;color:#57606a;margin-top:2px}
.salesml-up{color:#1a7f37}.salesml-down{color:#cf222e}
table.salesml-table{border-collapse:collapse;font-size:13px;margin:6px 0 14px;max-width:100%}
table.salesml-table th{background:#f6f8fa;text-align:left !important;padding:4px 8px;border-bottom:2px solid #d0d7de;overflow-wrap:break-word}
table.salesml-table td{padding:3px 8px;border-bottom:1px solid #eaeef2;text-align:left !important;overflow-wrap:anywhere}
table.salesml-table th.num{text-align:right !important}
table.salesml-table td.num{text-align:right !important;font-variant-numeric:tabular-nums;white-space:nowrap}
.salesml-note{color:#57606a;font-size:13px}
.salesml-scroll{overflow-x:auto;max-width:100%;margin:6px 0 14px}
.salesml-scroll table.salesml-table{margin:0}
.salesml-summary{border-left:4px solid #0969da;background:#f6f8fa;padding:10px 16px;margin:8px 0 16px;font-size:15px;line-height:1.5}
.salesml-summary p{margin:4px 0}.salesml-summary a{color:inherit !important;text-decoration:none !important;border-bottom:1px dotted #57606a}
.salesml-summary ol{margin:6px 0 2px 18px;padding:0}
.salesml-warnings{border-left:4px solid #cf222e;background:#fff8f8;padding:8px 16px;margin:8px 0 16px;font-size:14px}
details.salesml-more{margin:4px 0 12px}details.salesml-more>summary{cursor:pointer;color:#0969da;font-size:14px;margin:4px 0}
.salesml-warnings li{margin:3px 0}.salesml-warnings .evidence{color:#57606a;font-size:12px}
</style>
"""


def esc(value: Any) -> str:
    """HTML-escape any value for display ("" for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


class Block:
    """A displayable piece of a report."""

    def __init__(self, html_text: str, extra: Mapping[str, Any] | None = None, text: str = ""):
        self.html = html_text
        self.extra = dict(extra or {})
        self.text = text or "(salesml report block: open as HTML)"

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/html": self.html, "text/plain": self.text}
        bundle.update(self.extra)
        return bundle

    def __add__(self, other: Block) -> Block:
        return Block(self.html + other.html, {**self.extra, **other.extra}, self.text)


def style() -> Block:
    return Block(_STYLE, text="")


def heading(text: str, level: int = 2, note: str = "", anchor: str = "") -> Block:
    """A heading (with ``anchor`` as its id, for links from the summary) and an optional note."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    body = f"<h{level}{ident}>{esc(text)}</h{level}>"
    if note:
        body += f'<p class="salesml-note">{esc(note)}</p>'
    return Block(body, text=text)


def details(title: str, body: Block, open_: bool = False) -> Block:
    """``body`` folded under ``title`` (a click opens it): detail a reader may want, without
    making the page long."""
    return Block(f'<details class="salesml-more"{" open" if open_ else ""}><summary>{esc(title)}</summary>{body.html}</details>',
                 body.extra, text=body.text)


def anchor(name: str) -> Block:
    """A place the summary's links can point at."""
    return Block(f'<span id="{esc(name)}"></span>', text="")


def note(text: str) -> Block:
    return Block(f'<p class="salesml-note">{esc(text)}</p>', text=text)


def cards(items: list[dict[str, Any]]) -> Block:
    """KPI cards: each item has label, value (already formatted), optional sub and trend (+1/-1)."""
    parts = []
    for it in items:
        trend = it.get("trend")
        cls = " salesml-up" if trend and trend > 0 else " salesml-down" if trend and trend < 0 else ""
        sub = f'<div class="sub{cls}">{esc(it["sub"])}</div>' if it.get("sub") else ""
        parts.append(
            f'<div class="salesml-card"><div class="label">{esc(it["label"])}</div>'
            f'<div class="value">{esc(it["value"])}</div>{sub}</div>'
        )
    text = "\n".join(f"{it['label']}: {it['value']}" for it in items)
    return Block('<div class="salesml-cards">' + "".join(parts) + "</div>", text=text)


def table(
    df: pd.DataFrame,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    labels: Mapping[str, str] | None = None,
    numeric: tuple[str, ...] | None = None,
    empty: str = "no rows",
) -> Block:
    """An HTML table with every cell escaped; ``formats`` maps a column to a formatter; the
    ``numeric`` columns (default: the formatted ones) align right."""
    formats = dict(formats or {})
    labels = dict(labels or {})
    def right(col) -> bool:  # numbers align right, their headings too
        return col in numeric if numeric is not None else col in formats

    num = ' class="num"'
    head = "".join(f"<th{num if right(c) else ''}>{esc(labels.get(c, c))}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False, name=None):
        cells = []
        for col, v in zip(df.columns, rec, strict=True):
            shown = formats[col](v) if col in formats else ("" if is_missing(v) else str(v))
            cls = num if right(col) else ""
            cells.append(f"<td{cls}>{esc(shown)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(df.columns)}" class="salesml-note">{esc(empty)}</td></tr>')
    body = f'<table class="salesml-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return Block(body, text=df.to_string(index=False))


def view(
    df: pd.DataFrame,
    lang: Lang,
    columns: list[str] | None = None,
    top: int | None = None,
    total: int | None = None,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    labels: Mapping[str, str] | None = None,
    more: str = "",
) -> Block:
    """A table as readers see it: human labels and number formats of ``lang`` by column,
    salesml's own values translated, at most ``top`` rows with "Top 20 of 110 shown" (``total``:
    the rows there were, when ``df`` is already cut; ``more``: where all of them are, e.g. a
    command), inside a box that scrolls sideways."""
    columns = list(columns or df.columns)
    total = len(df) if total is None else total
    shown = df.head(top) if top else df
    fmts = {c: lang.fmt(lang.kind(c)) for c in columns} | dict(formats or {})
    heads = {c: lang.label(c) for c in columns if c not in (labels or {})} | dict(labels or {})
    numeric = tuple(c for c in columns if lang.numeric(c))
    body = table(shown[columns], formats=fmts, labels=heads, numeric=numeric, empty=lang.t("no_rows"))
    out = Block(f'<div class="salesml-scroll">{body.html}</div>', text=body.text)
    if total > len(shown):
        counts = {"shown": len(shown), "total": f"{total:,}"}
        out = out + note(lang.t("top_of_more", **counts, more=more) if more else lang.t("top_of", **counts))
    return out


@functools.cache
def _template() -> dict:
    """The look of every report chart (plotly_white), as plain data, built once."""
    return pio.templates[TEMPLATE].to_plotly_json()


def chart(fig) -> Block:
    """A plotly figure as a block: an HTML div for exported reports (plotly.js is added to
    the page once by the report runner) plus plotly's own mimetype for JupyterLab.

    The reports' template is put in here, on the figure's data: naming it in each figure's
    layout costs ~15 ms a chart in plotly's validation (a third of a second a page)."""
    data = fig.to_dict()
    data["layout"]["template"] = _template()
    div = pio.to_html(data, full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}, validate=False)
    return Block(div, {PLOTLY_MIME: json.loads(pio.to_json(data, validate=False))}, text="(plotly chart)")


def figures(data: Mapping[str, Any]) -> Block:
    """Record figures in the executed notebook (read back by tests and the scheduler)."""

    def clean(v):
        if is_missing(v):
            return None
        if hasattr(v, "item"):
            v = v.item()
        return v

    payload = {k: clean(v) for k, v in data.items()}
    return Block("", {FIGURES_MIME: payload}, text="")
