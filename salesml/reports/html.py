"""Display blocks for report notebooks: escaped tables, KPI cards, charts, recorded figures.

Every block is an object with ``_repr_mimebundle_``: a notebook cell that ends with one
shows it, in JupyterLab and in the HTML that nbconvert exports. Text that comes from
data (names, categories) is HTML-escaped here, in one place.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

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
table.salesml-table th{background:#f6f8fa;text-align:left;padding:4px 8px;border-bottom:2px solid #d0d7de;overflow-wrap:anywhere}
table.salesml-table td{padding:3px 8px;border-bottom:1px solid #eaeef2;text-align:left !important;overflow-wrap:anywhere}
table.salesml-table td.num{text-align:right !important;font-variant-numeric:tabular-nums}
.salesml-note{color:#57606a;font-size:13px}
</style>
"""


def esc(value: Any) -> str:
    """HTML-escape any value for display ("" for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def _missing(v: Any) -> bool:
    try:
        return v is None or v is pd.NA or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


#: symbols for the currencies reports show
CURRENCY_SYMBOLS = {"CNY": "¥", "RMB": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$"}


def currency_symbol(code: str | None) -> str:
    return CURRENCY_SYMBOLS.get((code or "").upper(), "")


def fmt_money(v: Any, currency: str = "") -> str:
    if _missing(v):
        return "–"
    v = float(v)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v >= 1e8:
        return f"{sign}{currency}{v / 1e6:,.0f}M"
    if v >= 1e6:
        return f"{sign}{currency}{v / 1e6:,.2f}M"
    return f"{sign}{currency}{v:,.0f}"


def fmt_exact_money(v: Any) -> str:
    return "–" if _missing(v) else f"{float(v):,.2f}"


def fmt_int(v: Any) -> str:
    return "–" if _missing(v) else f"{int(v):,}"


def fmt_pct(v: Any, signed: bool = False) -> str:
    if _missing(v):
        return "–"
    return f"{float(v):+.1f}%" if signed else f"{float(v):.1f}%"


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


def heading(text: str, level: int = 2, note: str = "") -> Block:
    body = f"<h{level}>{esc(text)}</h{level}>"
    if note:
        body += f'<p class="salesml-note">{esc(note)}</p>'
    return Block(body, text=text)


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
    numeric: tuple[str, ...] = (),
) -> Block:
    """An HTML table with every cell escaped; ``formats`` maps a column to a formatter."""
    formats = dict(formats or {})
    labels = dict(labels or {})
    head = "".join(f"<th>{esc(labels.get(c, c))}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False, name=None):
        cells = []
        for col, v in zip(df.columns, rec, strict=True):
            shown = formats[col](v) if col in formats else ("" if _missing(v) else str(v))
            cls = ' class="num"' if col in numeric or col in formats else ""
            cells.append(f"<td{cls}>{esc(shown)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(df.columns)}" class="salesml-note">no rows</td></tr>')
    body = f'<table class="salesml-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return Block(body, text=df.to_string(index=False))


def chart(fig) -> Block:
    """A plotly figure as a block: an HTML div for exported reports (plotly.js is added to
    the page once by the report runner) plus plotly's own mimetype for JupyterLab."""
    div = fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})
    return Block(div, {PLOTLY_MIME: json.loads(fig.to_json())}, text="(plotly chart)")


def figures(data: Mapping[str, Any]) -> Block:
    """Record figures in the executed notebook (read back by tests and the scheduler)."""

    def clean(v):
        if _missing(v):
            return None
        if hasattr(v, "item"):
            v = v.item()
        return v

    payload = {k: clean(v) for k, v in data.items()}
    return Block("", {FIGURES_MIME: payload}, text="")
