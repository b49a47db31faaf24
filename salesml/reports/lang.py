"""The reports' language and number formats: every label, sentence and number a page shows.

A :class:`Lang` is made once per page (``lang`` = ``"en"`` or ``"zh"``, the data's currency)
and asked for everything a reader sees:

* ``label(column)`` — the human label of a column (``attainment_pct`` → "Attainment" /
  "目标达成率"), and ``kind(column)`` — how its values are written (money, count, percent,
  ratio, date, days, ...), both from :data:`COLUMNS`;
* ``t(key, **values)`` — a sentence or heading of :data:`TEXT`, with its values filled in;
* ``money`` (compact, for cards and sentences: ¥70.3M, or ¥7,030.4万 / ¥1.23亿 in Chinese
  with ``[report] zh_wan_units``), ``amount`` (tables: ¥1,234,568), ``cents``
  (statements: ¥1,234.56), ``count`` (33,351), ``pct`` (12.3%, one decimal), ``ratio``
  (0.123 → 12.3%), ``date`` (no time), ``period`` (2026-11 / 2026年11月) and ``fmt(kind)``,
  the formatter of a kind.

A label or sentence the catalogues lack is shown as its key and remembered in
``missing``: the report records them (``untranslated``) and the tests require none, in
either language. Values that come from the data (names, categories, stages) are shown as
they are; the few that salesml itself writes (``sale``/``return``, ``new``/``repeat``) have
labels in :data:`VALUES`.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

LANGS = ("en", "zh")
MINUS = "−"
DASH = "–"

#: symbols of the currencies reports show
CURRENCY_SYMBOLS = {"CNY": "¥", "RMB": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$"}

# column -> (kind, English, Chinese). Kinds: money (table amounts), cents (exact amounts),
# count, pct (0-100), ratio (0-1 shown as %), date, period, days, number, times, score, text
COLUMNS: dict[str, tuple[str, str, str]] = {
    # people and places
    "rep_id": ("text", "Rep", "销售代表"),
    "rep_name": ("text", "Name", "姓名"),
    "name": ("text", "Name", "名称"),
    "team": ("text", "Team", "团队"),
    "region": ("text", "Region", "区域"),
    "label": ("text", "Region", "区域"),
    "customer_region": ("text", "Customer region", "客户区域"),
    "customer_id": ("text", "Customer", "客户"),
    "customer_name": ("text", "Customer name", "客户名称"),
    "product_id": ("text", "Product", "产品"),
    "product_name": ("text", "Product name", "产品名称"),
    "category": ("text", "Category", "品类"),
    "channel": ("text", "Channel", "渠道"),
    "segment": ("text", "Segment", "客户分群"),
    "role": ("text", "Role", "角色"),
    "plan": ("text", "Plan", "提成方案"),
    "owner": ("text", "Owner", "负责人"),
    "order_id": ("text", "Order", "订单"),
    "line_no": ("count", "Line", "行号"),
    "stage": ("text", "Stage", "阶段"),
    "stage_no": ("count", "Step", "步骤"),
    "kind": ("text", "Kind", "类型"),
    "reason": ("text", "Reason", "原因"),
    "note": ("text", "Note", "说明"),
    "description": ("text", "Band", "档位"),
    "customer_type": ("text", "Customers", "客户类型"),
    "abc": ("text", "Class", "ABC 分类"),
    "kpi": ("text", "Measure", "指标"),
    "shown": ("text", "Value", "数值"),
    "unit": ("text", "Unit", "单位"),
    "base_metric": ("text", "Base", "提成基数"),
    # periods and dates
    "period": ("period", "Month", "月份"),
    "origin_period": ("period", "For month", "所属月份"),
    "base": ("text", "Compared with", "对比期"),
    "current": ("text", "Period", "本期"),
    "cohort": ("period", "Cohort", "同期群"),
    "event_date": ("date", "Date", "日期"),
    "as_of": ("date", "As of", "截至"),
    "expected_close": ("date", "Expected close", "预计成交日"),
    "last_purchase": ("date", "Last purchase", "最近购买"),
    # ranks and counts
    "rank_in_team": ("count", "# in team", "团队排名"),
    "rank_in_region": ("count", "# in region", "区域排名"),
    "rank": ("count", "Rank", "排名"),
    "reps": ("count", "Reps", "销售人数"),
    "orders": ("count", "Orders", "订单数"),
    "customers": ("count", "Customers", "客户数"),
    "new_customers": ("count", "New customers", "新客户数"),
    "entries": ("count", "Entries", "分录数"),
    "lines": ("count", "Lines", "行数"),
    "quantity": ("number", "Quantity", "数量"),
    "reached": ("count", "Reached", "到达数"),
    "open_now": ("count", "Open now", "当前未结"),
    "won": ("count", "Won", "赢单"),
    "lost": ("count", "Lost", "输单"),
    "closed": ("count", "Closed", "已关闭"),
    "tickets": ("count", "Tickets", "工单数"),
    "rated": ("count", "Rated", "已评分"),
    "low_scores": ("count", "Low scores", "低分数"),
    "cohort_size": ("count", "Customers", "客户数"),
    "open_opportunities": ("count", "Open opportunities", "未结商机"),
    "discounted_lines": ("count", "Discounted lines", "打折行数"),
    "no_discount_info": ("count", "Lines without list price", "无标价行数"),
    "full_discount_lines": ("count", "Lines at 100% off", "全额折扣行数"),
    "return_lines": ("count", "Return lines", "退货行数"),
    "sold_qty": ("number", "Units sold", "销售数量"),
    "returned_qty": ("number", "Units returned", "退货数量"),
    "products": ("count", "Products", "产品数"),
    "items": ("count", "Products", "产品数"),
    "days_left": ("count", "Days left in month", "本月剩余天数"),
    "days_left_quarter": ("count", "Days left in quarter", "本季剩余天数"),
    # money
    "revenue": ("money", "Revenue (net)", "净收入"),
    "gross_sales": ("money", "Gross sales", "销售总额"),
    "returns": ("money", "Returns", "退货"),
    "corrections": ("money", "Corrections", "更正"),
    "adjustments": ("money", "Adjustments", "调整"),
    "margin": ("money", "Gross margin", "毛利"),
    "amount": ("money", "Amount", "金额"),
    "target_revenue": ("money", "Target", "目标"),
    "target": ("money", "Target", "目标"),
    "gap_to_target": ("money", "Gap to target", "距目标差额"),
    "revenue_per_customer": ("money", "Revenue per customer", "客均收入"),
    "aov": ("money", "Average order", "客单价"),
    "reached_amount": ("money", "Amount reached", "到达金额"),
    "won_amount": ("money", "Won amount", "赢单金额"),
    "lost_amount": ("money", "Lost amount", "输单金额"),
    "revenue_to_date": ("money", "Revenue to date", "累计收入"),
    "remaining": ("money", "Still to go", "剩余目标"),
    "pipeline": ("money", "Open pipeline", "未结商机额"),
    "target_quarter": ("money", "Quarter target", "季度目标"),
    "revenue_qtd": ("money", "Quarter to date", "季度累计"),
    "remaining_quarter": ("money", "Quarter still to go", "季度剩余目标"),
    "pipeline_quarter": ("money", "Quarter pipeline", "季度商机额"),
    "overdue_pipeline": ("money", "Overdue pipeline", "逾期商机额"),
    "leakage": ("money", "Discount leakage", "折扣损失"),
    "list_value": ("money", "At list price", "标价金额"),
    "spend": ("money", "Marketing spend", "营销费用"),
    "cac": ("money", "Acquisition cost", "获客成本"),
    "base_revenue": ("money", "Revenue then", "对比期收入"),
    "lost_customers": ("money", "Lost customers", "流失客户"),
    "price": ("money", "Price", "价格"),
    "volume": ("money", "Volume", "销量"),
    "mix": ("money", "Mix", "结构"),
    "change": ("money", "Change", "变动"),
    "value": ("money", "Value", "价值"),
    "clv": ("money", "Customer value", "客户价值"),
    "value_at_risk": ("money", "Value at risk", "风险价值"),
    # exact money (statements)
    "base_in_band": ("cents", "Base in band", "档内基数"),
    "base_adjustments": ("cents", "Of which adjustments", "其中调整"),
    "clawback": ("cents", "Clawback", "追回"),
    "commission": ("cents", "Commission", "提成"),
    "subtotal": ("cents", "Subtotal", "小计"),
    # percentages (0-100)
    "margin_pct": ("pct", "Margin %", "毛利率"),
    "margin_coverage_pct": ("pct", "Revenue with a cost", "有成本的收入占比"),
    "attainment_pct": ("pct", "Attainment", "目标达成率"),
    "projected_attainment_pct": ("pct", "Projected attainment", "预计达成率"),
    "growth_mom_pct": ("signed_pct", "vs last month", "环比"),
    "growth_yoy_pct": ("signed_pct", "vs last year", "同比"),
    "share_pct": ("pct", "Share", "占比"),
    "cum_share_pct": ("pct", "Cumulative share", "累计占比"),
    "revenue_share_pct": ("pct", "Share of revenue", "收入占比"),
    "customers_share_pct": ("pct", "Share of customers", "客户占比"),
    "orders_share_pct": ("pct", "Share of orders", "订单占比"),
    "leakage_share_pct": ("pct", "Leakage share", "折扣损失占比"),
    "band_from_pct": ("pct", "From attainment", "达成率起点"),
    "band_to_pct": ("pct", "To attainment", "达成率终点"),
    "items_pct": ("pct", "Share of products", "产品占比"),
    # ratios (0-1)
    "rate": ("ratio", "Rate", "提成比例"),
    "conversion_rate": ("ratio", "Conversion", "转化率"),
    "cumulative_conversion_rate": ("ratio", "Conversion from the start", "累计转化率"),
    "win_rate": ("ratio", "Win rate", "赢单率"),
    "value_win_rate": ("ratio", "Win rate by value", "金额赢单率"),
    "return_rate": ("ratio", "Return rate", "退货率"),
    "qty_return_rate": ("ratio", "Units returned", "退货数量比例"),
    "low_score_rate": ("ratio", "Low scores", "低分比例"),
    "churn_probability": ("ratio", "Churn risk", "流失风险"),
    # other numbers
    "coverage": ("times", "Coverage (month)", "商机覆盖率（月）"),
    "coverage_quarter": ("times", "Coverage (quarter)", "商机覆盖率（季）"),
    "median_days": ("days", "Median days", "中位天数"),
    "mean_days": ("days", "Mean days", "平均天数"),
    "p75_days": ("days", "75% within days", "75% 在天数内"),
    "min_days": ("days", "Fewest days", "最短天数"),
    "max_days": ("days", "Most days", "最长天数"),
    "median_days_to_close": ("days", "Median days to close", "关闭中位天数"),
    "avg_satisfaction": ("score", "Satisfaction (1-5)", "满意度（1-5）"),
    "score": ("score", "Score", "得分"),
    "days_overdue": ("count", "Days overdue", "逾期天数"),
    "days_of_cover": ("days", "Days of cover", "可售天数"),
}

#: values salesml itself writes into tables
VALUES: dict[str, tuple[str, str]] = {
    "sale": ("sale", "销售"),
    "return": ("return", "退货"),
    "correction": ("correction", "更正"),
    "reassignment": ("reassignment", "改派"),
    "new": ("new", "新客户"),
    "repeat": ("repeat", "老客户"),
    "revenue": ("net revenue", "净收入"),
    "(unassigned)": ("(unassigned)", "（未分配）"),
    "(unknown)": ("(unknown)", "（未知）"),
    "(total)": ("(total)", "（合计）"),
    "(paid channels)": ("(paid channels)", "（付费渠道）"),
    "(all channels)": ("(all channels)", "（全部渠道）"),
}

#: sentences and headings: key -> (English, Chinese), with {placeholders}
TEXT: dict[str, tuple[str, str]] = {}


def add_text(entries: dict[str, tuple[str, str]]) -> None:
    """Register sentences (each report module adds its own at import)."""
    clash = {k for k in entries if k in TEXT and TEXT[k] != entries[k]}
    if clash:
        raise ValueError(f"text keys defined twice with different wording: {sorted(clash)}")
    TEXT.update(entries)


add_text(
    {
        "no_rows": ("no rows", "无数据"),
        "top_of": ("Top {shown} of {total} shown.", "显示前 {shown} 行，共 {total} 行。"),
        "top_of_more": ("Top {shown} of {total} shown; all of them: {more}.", "显示前 {shown} 行，共 {total} 行；全部：{more}。"),
        "who_company": ("Whole company", "全公司"),
        "who_region": ("Region {name}", "区域 {name}"),
        "who_team": ("Team {name}", "团队 {name}"),
        "who_rep": ("Rep {name}", "销售代表 {name}"),
        "of_which": ("of which", "其中"),
    }
)


def add_columns(entries: dict[str, tuple[str, str, str]]) -> None:
    """Register column labels ``name -> (kind, English, Chinese)`` (a report module adds the
    columns only it shows, at import); a name defined twice must be defined the same."""
    clash = {k for k in entries if k in COLUMNS and COLUMNS[k] != entries[k]}
    if clash:
        raise ValueError(f"columns defined twice with different labels: {sorted(clash)}")
    COLUMNS.update(entries)


def add_values(entries: dict[str, tuple[str, str]]) -> None:
    """Register words salesml writes into tables (``value -> (English, Chinese)``)."""
    clash = {k for k in entries if k in VALUES and VALUES[k] != entries[k]}
    if clash:
        raise ValueError(f"values defined twice with different words: {sorted(clash)}")
    VALUES.update(entries)


#: sentences lower layers write in English (KPI notes, reasons a figure is missing, commission
#: lines), as patterns and their Chinese; a note is split on "; " and each part matched whole
NOTES: list[tuple[re.Pattern, str]] = []


def add_notes(entries: list[tuple[str, str]]) -> None:
    """Register ``(regex, Chinese template)`` pairs; the template uses the groups as {0}, {1}..."""
    NOTES.extend((re.compile(rf"^{pattern}$"), zh) for pattern, zh in entries)


def currency_symbol(code: str | None) -> str:
    return CURRENCY_SYMBOLS.get((code or "").upper(), "")


def is_missing(v: Any) -> bool:
    """None, NaN, NA or NaT (a value a table shows as "–")."""
    try:
        return v is None or v is pd.NA or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


@dataclass
class Lang:
    """Labels, sentences and number formats of one page."""

    code: str = "en"
    currency: str | None = None
    wan_units: bool = True
    #: labels and sentences asked for and not in the catalogues
    missing: set[str] = field(default_factory=set)

    def __post_init__(self):
        if self.code not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {self.code!r}")
        self.symbol = currency_symbol(self.currency)

    @property
    def zh(self) -> bool:
        return self.code == "zh"

    def _pick(self, pair: tuple[str, ...]) -> str:
        return pair[-1] if self.zh else pair[-2]

    # ------------------------------------------------------------------ words

    def t(self, key: str, **values: Any) -> str:
        """The sentence ``key`` in this language with ``values`` filled in (``key_one`` when
        ``n`` is 1 and the catalogue has it: "1 opportunity")."""
        if str(values.get("n", "")) == "1" and f"{key}_one" in TEXT:  # "1 opportunity"
            key = f"{key}_one"
        pair = TEXT.get(key)
        if pair is None:
            self.missing.add(f"text:{key}")
            return key
        return self._pick(pair).format(**values) if values else self._pick(pair)

    def who(self, level: str, name: Any = "") -> str:
        """Whose page it is: "Whole company", "Region East China", "Rep R017 刘婷婷"."""
        return self.t("who_company") if level == "company" else self.t(f"who_{level}", name=name)

    def label(self, column: Any) -> str:
        entry = COLUMNS.get(str(column))
        if entry is None:
            self.missing.add(f"column:{column}")
            return str(column)
        return self._pick(entry)

    def value(self, v: Any) -> str:
        """A value from a table: salesml's own words translated, the data's shown as they are."""
        if is_missing(v):
            return ""
        pair = VALUES.get(str(v))
        return self._pick(pair) if pair else str(v)

    def kind(self, column: Any) -> str:
        entry = COLUMNS.get(str(column))
        return entry[0] if entry else "text"

    # ------------------------------------------------------------------ numbers

    def _signed(self, v: float, body: str, signed: bool) -> str:
        return (MINUS if v < 0 else "+" if signed and v > 0 else "") + body

    def money(self, v: Any, signed: bool = False) -> str:
        """Compact money for cards and sentences: ¥70.3M, ¥512,340; ¥7,030.4万, ¥1.23亿."""
        if is_missing(v):
            return DASH
        v = float(v)
        a, s = abs(v), self.symbol
        if self.zh and self.wan_units:
            body = f"{s}{a / 1e8:,.2f}亿" if a >= 1e8 else f"{s}{a / 1e4:,.1f}万" if a >= 1e5 else f"{s}{a:,.0f}"
        else:
            body = f"{s}{a / 1e9:,.2f}B" if a >= 1e9 else f"{s}{a / 1e6:,.1f}M" if a >= 1e6 else f"{s}{a:,.0f}"
        return self._signed(v, body, signed)

    def amount(self, v: Any) -> str:
        """Table money: whole units with thousands separators (exact cents in the exports)."""
        if is_missing(v):
            return DASH
        v = float(v)
        return self._signed(v, f"{self.symbol}{abs(v):,.0f}", False)

    def cents(self, v: Any) -> str:
        if is_missing(v):
            return DASH
        v = float(v)
        return self._signed(v, f"{self.symbol}{abs(v):,.2f}", False)

    def count(self, v: Any) -> str:
        if is_missing(v):
            return DASH
        v = float(v)
        return self._signed(v, f"{abs(v):,.0f}", False)

    def number(self, v: Any) -> str:
        if is_missing(v):
            return DASH
        v = float(v)
        text = f"{abs(v):,.0f}" if v == int(v) else f"{abs(v):,.2f}".rstrip("0").rstrip(".")
        return self._signed(v, text, False)

    def pct(self, v: Any, signed: bool = False, digits: int = 1) -> str:
        if is_missing(v) or (isinstance(v, float) and math.isinf(v)):
            return DASH
        v = float(v)
        return self._signed(v, f"{abs(v):.{digits}f}%", signed)

    def ratio(self, v: Any, signed: bool = False) -> str:
        return DASH if is_missing(v) else self.pct(float(v) * 100, signed)

    def days(self, v: Any) -> str:
        if is_missing(v):
            return DASH
        v = float(v)
        return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"

    def times(self, v: Any) -> str:
        return DASH if is_missing(v) else f"{float(v):.2f}×"

    def score(self, v: Any) -> str:
        return DASH if is_missing(v) else f"{float(v):.2f}"

    def date(self, v: Any) -> str:
        if is_missing(v):
            return DASH
        if isinstance(v, str):
            return v[:10]
        if isinstance(v, datetime | pd.Timestamp):
            v = v.date()
        if isinstance(v, date):
            return f"{v.year}年{v.month}月{v.day}日" if self.zh else v.isoformat()
        return str(v)

    def period(self, p: Any) -> str:
        if is_missing(p):
            return DASH
        text = str(p)
        if self.zh and len(text) == 7 and text[4] == "-":
            return f"{text[:4]}年{int(text[5:])}月"
        return text

    def note(self, text: Any) -> str:
        """A sentence written by a lower layer in English: as it is in English; in Chinese by
        :data:`NOTES` (a part no pattern knows stays English and is remembered in ``missing``)."""
        if is_missing(text) or not str(text):
            return ""
        if not self.zh:
            return str(text)
        out = []
        for part in str(text).split("; "):
            for pattern, zh in NOTES:
                m = pattern.match(part)
                if m:
                    out.append(zh.format(*m.groups()))
                    break
            else:
                self.missing.add(f"note:{part}")
                out.append(part)
        return "；".join(out)

    def month(self, p: Any) -> str:
        """A month in a sentence: "October 2026" / "2026年10月"."""
        text = str(p)
        if self.zh or len(text) != 7:
            return self.period(text)
        return f"{calendar.month_name[int(text[5:])]} {text[:4]}"

    def text(self, v: Any) -> str:
        return self.value(v)

    def fmt(self, kind: str) -> Callable[[Any], str]:
        """The formatter of a column kind."""
        if kind == "signed_pct":
            return lambda v: self.pct(v, signed=True)
        if kind == "money":  # tables: whole amounts, not the cards' compact ¥1.2M
            return self.amount
        return getattr(self, kind)

    def numeric(self, column: Any) -> bool:
        return self.kind(column) not in ("text", "date", "period")
