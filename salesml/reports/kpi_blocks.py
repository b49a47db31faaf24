"""KPI sections of the sales performance report (adjustments, customers, pipeline, products, service).

:func:`load` reads every KPI for a period and scope through one connection (each one that
cannot be computed keeps its message instead); the ``*_block`` functions lay them out in the
page's language (:class:`salesml.reports.lang.Lang`). Data from names is escaped by
:mod:`salesml.reports.html`; charts hold only scoped data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import plotly.graph_objects as go

from salesml.accounting import closing, ledger
from salesml.accounting import kpis as K
from salesml.config import PerformanceSettings
from salesml.periods import shift_period
from salesml.reports import html as H
from salesml.reports.lang import Lang, add_notes, add_text
from salesml.scope import Scope


@dataclass
class KpiData:
    """KPI frames by name; ``missing`` holds the message of each one that could not be made."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    period_status: str = "open"

    def get(self, name: str) -> pd.DataFrame | None:
        return self.frames.get(name)


def load(con: duckdb.DuckDBPyConnection, period: str, scope: Scope, settings: PerformanceSettings, cohort_months: int = 12, anonymous: Sequence[str] = ()) -> KpiData:
    # anonymous: the customer ids of walk-in / guest sales, counted in revenue and in no customer figure
    data = KpiData()
    window = f"{shift_period(period, -11)}..{period}"
    jobs: dict[str, Callable[[], pd.DataFrame]] = {
        "kpi_table": lambda: K.kpi_table(con, period, scope, settings, anonymous=anonymous),
        "adjustments": lambda: ledger.adjustments(con, period, scope, settings),
        "new_vs_repeat": lambda: K.new_vs_repeat(con, period, scope, settings, anonymous=anonymous),
        "cohorts": lambda: K.cohort_retention(con, period, cohort_months, scope, wide=True, settings=settings, anonymous=anonymous),
        "funnel": lambda: K.funnel(con, window, scope, settings=settings),
        "win_rate": lambda: K.win_rate(con, window, scope, by="rep" if scope.level in ("team", "rep") else "team", settings=settings),
        "sales_cycle": lambda: K.sales_cycle(con, window, scope, settings=settings),
        "coverage": lambda: K.pipeline_coverage(con, period, scope, by="rep" if scope.level in ("team", "rep") else "team", settings=settings),
        "pareto": lambda: K.pareto(con, period, scope, settings=settings),
        "leakage": lambda: K.discount_leakage(con, period, scope, by="category", settings=settings),
        "returns": lambda: K.return_rate(con, period, scope, by="category", settings=settings),
        "service_rep": lambda: K.service(con, period, scope, by="rep", settings=settings),
        "service_category": lambda: K.service(con, period, scope, by="category", settings=settings),
    }
    if scope.level == "company":
        jobs["cac"] = lambda: K.cac_by_channel(con, window, scope, settings=settings, anonymous=anonymous)
    for name, job in jobs.items():
        try:
            data.frames[name] = job()
        except K.KpiUnavailable as e:
            data.missing[name] = str(e)
    data.period_status = "closed" if period in closing.closed_periods(con) else "open"
    _name_reps(con, data)
    return data


def _name_reps(con: duckdb.DuckDBPyConnection, data: KpiData) -> None:
    """A ``rep_name`` beside every ``rep_id`` of the frames (the reps already in them: the
    scope's own), so no table shows bare ids."""
    ids = sorted({str(r) for df in data.frames.values() if "rep_id" in df.columns for r in df["rep_id"].dropna()})
    if not ids:
        return
    names = con.execute(
        "SELECT rep_id, arg_max(name, valid_from) AS rep_name FROM reps WHERE list_contains($ids::VARCHAR[], rep_id) GROUP BY rep_id",
        {"ids": ids},
    ).df()
    for key, df in data.frames.items():
        if "rep_id" in df.columns and "rep_name" not in df.columns:
            named = df.merge(names, on="rep_id", how="left")
            named.insert(list(df.columns).index("rep_id") + 1, "rep_name", named.pop("rep_name"))
            data.frames[key] = named



#: the KPI table's measures and units in Chinese (English: as the KPI functions name them)
KPI_NAMES = {
    "revenue": "净收入",
    "growth vs previous month": "环比增长",
    "growth vs same month last year": "同比增长",
    "revenue year to date": "年初至今收入",
    "year-to-date growth": "年初至今增长",
    "new customers": "新客户",
    "revenue from new customers": "新客户收入占比",
    "retention after 1 month": "次月留存率",
    "customer acquisition cost": "获客成本",
    "win rate": "赢单率",
    "sales cycle (median)": "销售周期（中位数）",
    "opportunities created": "新建商机",
    "pipeline coverage (rest of month)": "商机覆盖率（本月剩余）",
    "pipeline coverage (rest of quarter)": "商机覆盖率（本季剩余）",
    "A-class products": "A 类产品",
    "discount leakage": "折扣损失",
    "return rate": "退货率",
    "average satisfaction": "平均满意度",
    "low satisfaction scores": "低满意度占比",
}

add_notes(
    [
        (r"(\d+) months", "{0} 个月"),
        (r"(\d+) repeat customers", "老客户 {0} 个"),
        (r"identified customers", "已识别的客户"),
        (r"anonymous \(walk-in / guest\) sales ([\d.]+)% of revenue, in no customer count", "匿名（散客）销售占收入 {0}%，不计入客户数"),
        (r"anonymous \(walk-in / guest\) sales in no customer count", "匿名（散客）销售不计入客户数"),
        (r"customers acquired in the 12 months before, who bought again the month after", "前 12 个月获得的客户中次月再次购买的比例"),
        (r"anonymous sales are in no cohort", "匿名销售不计入同期群"),
        (r"blended: all marketing spend / all new customers", "综合：全部营销费用 / 全部新客户"),
        (r"blended: all spend / all new customers", "综合：全部费用 / 全部新客户"),
        (r"anonymous sales acquire no customer", "匿名销售不带来客户"),
        (r"spend but no new customers", "有费用但没有新客户"),
        (r"new customers but no recorded spend", "有新客户但没有费用记录"),
        (r"(\d+) won of (\d+) closed", "已关闭 {1} 个，赢单 {0} 个"),
        (r"(\d+) won opportunities", "{0} 个赢单商机"),
        (r"amount ([\d,.]+)", "金额 {0}"),
        (r"as of (\S+): nothing of (\S+) is left", "截至 {0}：{1} 已无剩余天数"),
        (r"as of (\S+): pipeline ([\d,.-]+) / remaining target ([\d,.-]+)", "截至 {0}：商机 {1} / 剩余目标 {2}"),
        (r"(\d+)% of (\d+) products make (\d+)% of revenue", "{1} 个产品中的 {0}% 贡献了 {2}% 的收入"),
        (r"([\d.]+)% of list value", "占标价金额的 {0}%"),
        (r"returns / gross sales", "退货 / 销售总额"),
        (r"(\d+) rated of (\d+) tickets", "{1} 个工单中 {0} 个已评分"),
        (r"scores of 1 or 2", "评分为 1 或 2"),
        (r"the ledger starts in (\S+): no full year-earlier comparison", "台账从 {0} 开始：没有完整的去年同期对比"),
        (r"no sales in the ledger \(no order lines loaded, or the ledger is not posted\): (.+) skipped", "台账中没有销售（未导入订单行或未过账）：已跳过"),
        (r"no (\w+) loaded: (.+) skipped", "未导入 {0}：已跳过"),
        (r"CAC is company-level \(marketing spend is not attributed to reps\): skipped for scope (.+)", "获客成本只按公司计算（营销费用不分摊到销售代表）：范围 {0} 跳过"),
        (r"customers have no acquisition_channel: CAC skipped", "客户没有获客渠道：跳过获客成本"),
        (r"no marketing_spend recorded for (\S+): CAC skipped", "{0} 没有营销费用记录：跳过获客成本"),
        (r"order_lines have no discount column loaded: discount leakage skipped", "订单行未导入折扣：跳过折扣损失"),
        (r"no customers loaded: service KPIs per rep, team or region skipped \(tickets reach a rep through customers.owner_rep_id\)",
         "未导入客户：跳过按销售代表、团队或区域的服务指标（工单通过客户负责人归属到销售代表）"),
        (r"adjustment: (\S+) is closed", "调整：{0} 已结账"),
        # commission statements
        (r"([\d.]+%) - ([\d.]+%) of target at ([\d.]+%)", "目标的 {0} - {1}，提成 {2}"),
        (r"from ([\d.]+%) of target at ([\d.]+%)", "目标的 {0} 以上，提成 {1}"),
        (r"no target: flat ([\d.]+%) of the base", "无目标：按基数的 {0} 计提"),
        (r"negative base \(returns exceed sales\) at ([\d.]+%): clawed back", "基数为负（退货超过销售）：按 {0} 追回"),
        (r"subtotal", "小计"),
        (r"below the ([\d.]+%) threshold: nothing paid", "低于 {0} 门槛：不发放"),
        (r"capped at ([\d,.]+)", "封顶 {0}"),
        (r"clawback: adjustments for closed months \(([\d,.-]+) of the base\)", "追回：已结账月份的调整（基数中 {0}）"),
        (r"already in the total", "已含在合计中"),
        (r"no adjustments for closed months", "无已结账月份的调整"),
        (r"commission", "提成合计"),
        (r"no target", "无目标"),
        (r"below threshold", "低于门槛"),
        (r"capped", "已封顶"),
        (r"negative base", "基数为负"),
        (r"no plan", "无方案"),
    ]
)

add_text(
    {
        "key_figures": ("Key figures", "关键指标"),
        "key_figures_note": ("Every KPI of the period in this scope; a KPI without its data says why.", "本期本范围的全部指标；缺少数据的指标会说明原因。"),
        "adjustments": ("Adjustments to earlier periods", "对以前期间的调整"),
        "adjustments_note": (
            "Returns, corrections and changes of credit for months already closed, posted in this month and charged to the original rep (closed months never change).",
            "已结账月份的退货、更正和业绩归属变更，记入本月并计到原销售代表名下（已结账月份不再变动）。",
        ),
        "no_adjustments": ("No adjustments were posted in this period.", "本期没有调整分录。"),
        "adjustments_total": ("Of which adjustments to earlier periods: {revenue} revenue, {margin}, {entries} entries.", "其中对以前期间的调整：收入 {revenue}，{margin}，共 {entries} 笔分录。"),
        "adjustments_margin": ("{margin} margin", "毛利 {margin}"),
        "adjustments_no_margin": ("margin not shown (no cost loaded)", "未显示毛利（未导入成本）"),
        "entries_of": ("The {n} entries", "全部 {n} 笔分录"),
        "customers": ("Customers", "客户"),
        "new_and_repeat": ("New and repeat customers", "新老客户"),
        "cac_title": ("Customer acquisition cost by channel (last 12 months)", "各渠道获客成本（近 12 个月）"),
        "retention": ("Retention by monthly cohort", "按月同期群的留存"),
        "no_cohorts": ("no cohorts in this scope", "本范围没有同期群"),
        "cohort_chart": ("Share of each cohort buying again, by months since the first purchase", "各同期群再次购买的比例（按首次购买后的月数）"),
        "months_since_first": ("months since first purchase", "首次购买后的月数"),
        "cohort_hover": ("cohort %{y}<br>month %{x}: %{z:.1f}% active<extra></extra>", "同期群 %{y}<br>第 %{x} 月：%{z:.1f}% 活跃<extra></extra>"),
        "pipeline": ("Pipeline", "商机"),
        "pipeline_note": (
            "Opportunities of the last 12 months: funnel, win rate, sales cycle, and coverage of what is left of the target.",
            "近 12 个月的商机：漏斗、赢单率、销售周期，以及对剩余目标的覆盖。",
        ),
        "funnel_chart": ("Opportunities reaching each stage (lost deals count at the first stage only)", "到达各阶段的商机（输单只计入第一阶段）"),
        "win_rate": ("Win rate", "赢单率"),
        "sales_cycle": ("Sales cycle (won deals, days)", "销售周期（赢单，天）"),
        "coverage": ("Pipeline coverage", "商机覆盖率"),
        "products": ("Products", "产品"),
        "no_product_sales": ("no product sales in this period", "本期没有产品销售"),
        "pareto_chart": ("Pareto of products (top {shown} of {total}; class A blue, B purple, C amber)", "产品帕累托图（前 {shown} 个，共 {total} 个；A 类蓝色、B 类紫色、C 类琥珀色）"),
        "cumulative_pct": ("cumulative %", "累计占比 %"),
        "leakage": ("Discount leakage (list price − net)", "折扣损失（标价 − 净价）"),
        "return_rate": ("Return rate", "退货率"),
        "service": ("Service tickets and satisfaction", "服务工单与满意度"),
        "by_owner": ("By account owner", "按客户负责人"),
        "by_category": ("By product category", "按产品品类"),
    }
)


def _unavailable(data: KpiData, L: Lang, *names: str) -> H.Block | None:
    notes = [L.note(data.missing[n]) for n in names if n in data.missing]
    return H.note("; ".join(dict.fromkeys(notes))) if notes and all(n in data.missing for n in names) else None


def _missing_note(data: KpiData, L: Lang, name: str, default: str = "") -> H.Block:
    """The message of a KPI that could not be made, in the page's language."""
    return H.note(L.note(data.missing[name]) if name in data.missing else default)


def _fmt_value(value, unit: str, L: Lang) -> str:
    if value is None or pd.isna(value):
        return "–"
    if unit == "money":
        return L.amount(value)
    if unit == "%":
        return L.pct(value)
    if unit == "x":
        return L.times(value)
    return L.number(value)


def kpi_block(data: KpiData, L: Lang) -> H.Block:
    head = H.heading(L.t("key_figures"), 2, L.t("key_figures_note"), anchor="kpis")
    t = data.get("kpi_table")
    if t is None:
        return head + _missing_note(data, L, "kpi_table")
    names = [KPI_NAMES.get(k, k) if L.zh else k for k in t["kpi"]]
    if L.zh:
        L.missing.update(f"kpi:{k}" for k in t["kpi"] if k not in KPI_NAMES)
    shown = pd.DataFrame({"kpi": names, "shown": [_fmt_value(v, u, L) for v, u in zip(t["value"], t["unit"], strict=True)],
                          "note": [L.note(n) for n in t["note"]]})
    figures = {str(k): (None if pd.isna(v) else float(v)) for k, v in zip(t["kpi"], t["value"], strict=True)}
    return head + H.view(shown, L) + H.figures({f"kpi:{k}": v for k, v in figures.items()})


def adjustments_block(data: KpiData, L: Lang, margin_known: bool = True) -> H.Block:
    """The adjustments posted in the period; without costs (``margin_known`` false) their
    margin, which the ledger holds as 0, is left out rather than shown as a zero."""
    a = data.get("adjustments")
    head = H.heading(L.t("adjustments"), 2, L.t("adjustments_note"), anchor="adjustments")
    if a is None or a.empty:
        return head + H.note(L.t("no_adjustments"))
    by = a.groupby(["origin_period", "kind"], dropna=False).agg(entries=("amount", "size"), amount=("amount", "sum"), margin=("margin", "sum")).reset_index()
    detail = a[["origin_period", "kind", "rep_id", *(["rep_name"] if "rep_name" in a.columns else []), "team", "order_id", "line_no",
                "event_date", "amount", "margin", "reason"]]
    detail = detail.assign(reason=detail["reason"].map(L.note))
    margin_text = L.t("adjustments_margin", margin=L.money(a["margin"].sum())) if margin_known else L.t("adjustments_no_margin")
    if not margin_known:
        by, detail = by.drop(columns=["margin"]), detail.drop(columns=["margin"])
    return (
        head
        + H.note(L.t("adjustments_total", revenue=L.money(a["amount"].sum()), margin=margin_text, entries=L.count(len(a))))
        + H.view(by, L, formats={"amount": L.cents, "margin": L.cents})
        + H.details(L.t("entries_of", n=L.count(len(a))), H.view(detail, L, top=20, formats={"amount": L.cents, "margin": L.cents}))
    )


def customers_block(data: KpiData, L: Lang) -> H.Block:
    out = H.heading(L.t("customers"), 2, anchor="customers")
    nv = data.get("new_vs_repeat")
    if nv is not None:
        cols = [c for c in ("customer_type", "customers", "orders", "revenue", "revenue_share_pct", "revenue_per_customer") if c in nv.columns]
        out = out + H.heading(L.t("new_and_repeat"), 3) + H.view(nv, L, cols)
    else:
        out = out + _missing_note(data, L, "new_vs_repeat")
    out = out + cohort_heatmap(data, L)
    cac = data.get("cac")
    if cac is not None:
        cols = [c for c in ("channel", "spend", "new_customers", "cac", "note") if c in cac.columns]
        out = out + H.details(L.t("cac_title"), H.view(cac.assign(note=cac["note"].map(L.note)), L, cols))
    elif "cac" in data.missing:
        out = out + _missing_note(data, L, "cac")
    return out


def cohort_heatmap(data: KpiData, L: Lang) -> H.Block:
    c = data.get("cohorts")
    head = H.heading(L.t("retention"), 3)
    if c is None or c.empty:
        return head + _missing_note(data, L, "cohorts", L.t("no_cohorts"))
    months = [col for col in c.columns if isinstance(col, int | float) or str(col).isdigit()]
    z = c[months].astype(float).to_numpy() * 100
    labels = [f"{H.esc(L.period(p))} (n={int(n)})" for p, n in zip(c["cohort"], c["cohort_size"], strict=True)]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=[str(m) for m in months], y=labels, colorscale="Blues", zmin=0, zmax=100,
            hovertemplate=L.t("cohort_hover"), colorbar=dict(title="%"),
        )
    )
    fig.update_layout(
        title=dict(text=L.t("cohort_chart"), y=0.98),
        height=max(320, 26 * len(labels) + 130),
        margin=dict(l=10, r=10, t=60, b=10),
        xaxis=dict(title=L.t("months_since_first"), type="category"),
        yaxis=dict(autorange="reversed", type="category"),
    )
    return head + H.chart(fig)


def pipeline_block(data: KpiData, L: Lang) -> H.Block:
    out = H.heading(L.t("pipeline"), 2, L.t("pipeline_note"), anchor="pipeline")
    none = _unavailable(data, L, "funnel", "win_rate", "sales_cycle", "coverage")
    if none is not None:
        return out + none
    f = data.get("funnel")
    if f is not None and len(f):
        fig = go.Figure(go.Funnel(y=[H.esc(s) for s in f["stage"]], x=f["reached"], textinfo="value+percent initial", marker_color=H.COLORS["pipeline"]))
        fig.update_layout(title=dict(text=L.t("funnel_chart"), y=0.98), height=360, margin=dict(l=10, r=10, t=60, b=10))
        out = out + H.chart(fig) + H.view(f, L, ["stage", "reached", "reached_amount", "open_now", "conversion_rate", "cumulative_conversion_rate"])
    for name in ("win_rate", "sales_cycle", "coverage"):
        df = data.get(name)
        if df is None:
            out = out + H.note(f"{L.t(name)}: {L.note(data.missing.get(name, ''))}")
            continue
        out = out + H.details(L.t(name), H.view(df, L, [c for c in df.columns if c not in ("period", "scope")], top=20))
    return out


def products_block(data: KpiData, L: Lang) -> H.Block:
    out = H.heading(L.t("products"), 2, anchor="products")
    p = data.get("pareto")
    if p is None or p.empty:
        out = out + _missing_note(data, L, "pareto", L.t("no_product_sales"))
    else:
        top = p.head(40)
        names = [H.esc(f"{i} {n}") for i, n in zip(top["product_id"], top.get("product_name", top["product_id"]), strict=True)]
        colors = top["abc"].map(H.ABC_COLORS)
        fig = go.Figure(go.Bar(x=names, y=top["revenue"], marker_color=list(colors), name=L.label("revenue")))
        fig.add_scatter(x=names, y=top["cum_share_pct"], yaxis="y2", mode="lines+markers", name=L.t("cumulative_pct"), line=dict(color=H.COLORS["margin"]))
        fig.update_layout(
            title=dict(text=L.t("pareto_chart", shown=len(top), total=len(p)), y=0.98),
            height=440,
            margin=dict(l=10, r=10, t=60, b=120),
            yaxis=dict(title=L.label("revenue")),
            yaxis2=dict(title=L.t("cumulative_pct"), overlaying="y", side="right", range=[0, 105], showgrid=False),
            xaxis=dict(tickangle=-45, type="category"),
            showlegend=False,
        )
        out = out + H.chart(fig) + H.view(K.abc_summary(p), L)
    for name in ("leakage", "returns"):
        df = data.get(name)
        title = L.t("leakage" if name == "leakage" else "return_rate")
        out = out + (
            H.details(title, H.view(df, L, [c for c in df.columns if c not in ("period", "scope")], top=20))
            if df is not None else H.heading(title, 3) + _missing_note(data, L, name)
        )
    return out


def service_block(data: KpiData, L: Lang) -> H.Block:
    out = H.heading(L.t("service"), 2, anchor="service")
    none = _unavailable(data, L, "service_rep", "service_category")
    if none is not None:
        return out + none
    for name, key in (("service_rep", "by_owner"), ("service_category", "by_category")):
        df = data.get(name)
        if df is not None:
            out = out + H.details(L.t(key), H.view(df, L, [c for c in df.columns if c not in ("period", "scope")], top=20))
    return out
