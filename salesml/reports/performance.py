"""The sales performance report: what ``notebooks/sales_performance.ipynb`` shows.

All data is read once, through one short-lived read-only connection, and already
filtered to the report's scope by the warehouse queries: nothing outside the scope is
held, charted or rendered. The page opens with a summary written from the figures
(:mod:`salesml.reports.summary`) and the early warnings (:mod:`salesml.insights.warnings`),
then the revenue bridge (:mod:`salesml.accounting.bridge`) and the detail, in English or
Chinese (:class:`salesml.reports.lang.Lang`: ``lang`` parameter, else ``[report] lang``).

Margin is shown only where costs are loaded: with none, the margin card shows "—" and says
"no cost loaded: margin not shown" (never ¥0 / 0%); with some, it says what share of revenue
the margin covers (:func:`salesml.accounting.performance.margin_note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go

from salesml import warehouse
from salesml.accounting import bridge as B
from salesml.accounting import performance as perf
from salesml.accounting import scorecard as SC
from salesml.accounting.commissions import statements
from salesml.config import Settings, notebook_settings
from salesml.customers import crosssell as X
from salesml.customers.assignment import assignment_suggestions
from salesml.insights.warnings import Warnings, early_warnings
from salesml.periods import (
    data_periods,
    latest_complete_period,
    parse_period,
    period_bounds,
    shift_period,
)
from salesml.reports import coaching as C
from salesml.reports import html as H
from salesml.reports import kpi_blocks
from salesml.reports import summary as S
from salesml.reports.lang import Lang, add_text
from salesml.scope import Scope, parse_scope

#: headline figures recorded in the executed notebook (and compared with `salesml perf`)
HEADLINE = [m for m in perf.MEASURES if m not in ("target_margin", "revenue_prev_month", "revenue_last_year")]
#: what a margin without any cost behind it shows
NO_MARGIN = "—"
#: the rows of the bridge table and of the "where" sentences, per scope level
SUB_LEVEL = {"company": "region", "region": "team", "team": "rep", "rep": "category"}


@dataclass
class _Data:
    summary: pd.DataFrame
    reps: pd.DataFrame
    teams: pd.DataFrame
    regions: pd.DataFrame
    trend: pd.DataFrame
    categories: pd.DataFrame
    customer_regions: pd.DataFrame
    #: the scope's bridge vs the previous month, vs the same month last year, and by sub-level
    bridge_prev: pd.DataFrame
    bridge_year: pd.DataFrame
    bridge_rows: pd.DataFrame


add_text(
    {
        "perf_title": ("Sales performance {period}", "销售业绩 {period}"),
        "closed_state": ("The books of this month are closed: these figures are final.", "本月已结账：以下数字为最终数。"),
        "open_state": ("This month is open: figures can still change (late returns, corrections).", "本月尚未结账：数字仍可能变动（迟到的退货、更正）。"),
        "title_note": ("{who}. Data from {first} to {last}. Amounts{currency}, net of returns. {state}", "{who}。数据期间 {first} 至 {last}。金额{currency}，已扣除退货。{state}"),
        "in_currency": (" in {code}", "单位 {code}"),
        "no_sales_no_target": ("No sales and no target in {period} for {scope}.", "{scope} 在 {period} 没有销售也没有目标。"),
        "card_revenue": ("Revenue (net)", "净收入"),
        "vs_last_month": ("{value} vs last month", "环比 {value}"),
        "card_yoy": ("vs last year", "同比"),
        "same_month_ly": ("same month last year", "去年同月"),
        "card_attainment": ("Target attainment", "目标达成率"),
        "target_of": ("target {value}", "目标 {value}"),
        "card_orders": ("Orders", "订单数"),
        "aov_of": ("average order {value}", "客单价 {value}"),
        "card_customers": ("Customers", "客户数"),
        "with_purchase": ("with a purchase", "有购买的客户"),
        "card_returns": ("Returns", "退货"),
        "of_gross": ("of {value} gross sales", "销售总额 {value}"),
        "card_adjustments": ("Adjustments", "调整"),
        "to_closed": ("to earlier, closed periods", "对已结账期间"),
        "card_projected": ("Projected month", "本月预计"),
        "run_rate": ("run rate: {value} of target", "按当前进度：目标的 {value}"),
        "card_margin": ("Gross margin", "毛利"),
        "margin_of_covered": ("{pct} of the {covered} of revenue with a cost", "有成本收入（占 {covered}）的 {pct}"),
        "margin_of_revenue": ("{pct} of revenue", "占收入 {pct}"),
        "no_cost": ("no cost loaded: margin not shown", "未导入成本：不显示毛利"),
        "margin_label": ("Margin: {note}.", "毛利：{note}。"),
        "margin_partial": ("margin over the {pct} of revenue with a cost (lines without a cost count no margin)", "毛利只计有成本的收入（占 {pct}；无成本的行不计毛利）"),
        "no_rep_activity": ("No rep activity in this period.", "本期没有销售代表的业绩。"),
        "ranking": ("Ranking", "排名"),
        "your_figures": ("Your figures", "你的业绩"),
        "ranking_note": ("Ranks by net revenue within team and region (ties share a rank).", "按净收入在团队和区域内排名（并列同名次）。"),
        "teams": ("Teams", "团队"),
        "attainment": ("Target attainment", "目标达成"),
        "no_targets": ("No targets in this period: attainment skipped.", "本期没有目标：不显示达成率。"),
        "attainment_by_team": ("Target attainment by team, {period} (%)", "各团队目标达成率，{period}（%）"),
        "attainment_by_rep": ("Target attainment by rep, {period} (%)", "各销售代表目标达成率，{period}（%）"),
        "attainment_by_month": ("Target attainment, last {n} months (%)", "近 {n} 个月目标达成率（%）"),
        "trend": ("Revenue trend", "收入趋势"),
        "trend_chart": ("Monthly revenue, last {n} months", "近 {n} 个月的月度收入"),
        "regions": ("Regions", "区域"),
        "by_sales_region": ("Revenue by sales region", "各销售区域收入"),
        "by_customer_region": ("Revenue by customer region", "各客户区域收入"),
        "no_sales": ("No sales in this period.", "本期没有销售。"),
        "categories": ("Product categories", "产品品类"),
        "category_chart": ("Revenue and margin by product category", "各产品品类的收入与毛利率"),
        "commission": ("Commission", "提成"),
        "commission_note": (
            "Plans in salesml.toml; marginal rates by attainment band; late returns of closed months claw back through this month's adjustments.",
            "提成方案见 salesml.toml；按达成率分档累进计提；已结账月份的迟到退货通过本月调整追回。",
        ),
        "no_statements": ("No commission statements for this period and scope.", "本期本范围没有提成单。"),
        "plan_of": ("plan {plan}", "方案 {plan}"),
        "no_plan": ("none", "无"),
        "base_of": ("{metric}, of which adjustments {adj}", "{metric}，其中调整 {adj}"),
        "card_base": ("Base", "提成基数"),
        "card_clawback": ("Clawback", "追回"),
        "clawback_note": ("from adjustments (inside the total)", "来自调整（已含在合计中）"),
        "commission_total": (
            "{total} commission for {reps} reps ({paid} paid; clawbacks {clawback}). Each rep's statement is in their own report and in `salesml commission`.",
            "{reps} 位销售代表的提成合计 {total}（{paid} 位有提成；追回 {clawback}）。每人的提成单见其个人报告和 `salesml commission`。",
        ),
        "bridge": ("Why revenue changed", "收入变动原因"),
        "bridge_note": (
            "The change against {base} split into new and lost customers, price, volume, product mix and returns; the parts add up to the change.",
            "相对 {base} 的变动拆分为新客户、流失客户、价格、销量、产品结构和退货；各部分之和等于总变动。",
        ),
        "bridge_chart": ("Revenue bridge: {base} → {current}", "收入桥：{base} → {current}"),
        "bridge_rows": ("By {level}, largest changes first", "按{level}，变动最大者在前"),
        "bridge_year": ("Against the same month last year ({base}): {parts}.", "相对去年同月（{base}）：{parts}。"),
        "how_made": ("How these figures are made", "数字的计算方法"),
        "how_made_text": (
            "Figures come from the performance ledger: sales count in the month they are sold, and returns in the month of the sale they reverse while it is open; once a month is closed, later returns and corrections are adjustments in the first open month, charged to the original rep. Credit follows the rep on the order line (or the order's split) and the rep's team and region on the date of the sale. Attainment = net revenue / target.",
            "数字来自业绩台账：销售计入销售当月；退货在原销售月份未结账时计入该月，结账后的退货和更正作为调整计入第一个未结账月份，并计到原销售代表名下。业绩归属于订单行（或订单拆分）上的销售代表，以及销售当日该代表所属的团队和区域。达成率 = 净收入 / 目标。",
        ),
        "level_region": ("region", "区域"),
        "level_team": ("team", "团队"),
        "level_rep": ("rep", "销售代表"),
        "level_category": ("category", "品类"),
        "then": ("then", "对比期"),
        "now": ("now", "本期"),
    }
)


class SalesPerformanceReport:
    """Figures, tables and charts for one period and one scope, in one language."""

    def __init__(self, period: str = "", scope: str = "company", config_path: str = "", warehouse: str = "", lang: str = ""):
        self.settings = notebook_settings(config_path, warehouse)
        self.scope: Scope = parse_scope(scope)
        ps = self.settings.performance
        anon = self.settings.anonymous_customer_ids
        with warehouse_connect(self.settings) as con:
            self.period = parse_period(period) if period else latest_complete_period(con)
            first, last = data_periods(con)
            self.data_span = (first, last)
            self.currency = perf.main_currency(con)
            s = self.scope
            sub = SUB_LEVEL[s.level]
            self.data = _Data(
                summary=perf.scope_summary(con, self.period, s, ps, anon),
                reps=perf.performance(con, self.period, "rep", s, ps, anon),
                teams=perf.performance(con, self.period, "team", s, ps, anon) if s.level != "rep" else pd.DataFrame(),
                regions=perf.performance(con, self.period, "region", s, ps, anon)
                if s.level in ("company", "region")
                else pd.DataFrame(),
                trend=perf.monthly_trend(con, self.period, self.settings.report.trend_months, s, ps),
                categories=perf.breakdown(con, self.period, "category", s, ps),
                customer_regions=perf.breakdown(con, self.period, "customer_region", s, ps),
                bridge_prev=B.revenue_bridge(con, self.period, "previous", "company", s, ps, anon),
                bridge_year=B.revenue_bridge(con, self.period, "last_year", "company", s, ps, anon),
                bridge_rows=B.revenue_bridge(con, self.period, "previous", sub, s, ps, anon),
            )
            self.kpis = kpi_blocks.load(con, self.period, s, ps, anonymous=anon)
            self.commission_summary, self.commission_lines = statements(
                con, self.period, self.settings, None if s.level == "company" else s
            )
            self.warnings: Warnings = early_warnings(con, self.data_end(con), s, self.settings)
            self._coaching(con)
        self.local_regions = self.settings.local_names.get("region", {})
        self.L = Lang(lang or self.settings.report.lang, self.currency, self.settings.report.zh_wan_units)

    def _coaching(self, con) -> None:
        """The scorecards (a team's reps, or the rep's own), the rep's cross-sell suggestions and
        the owners suggested for unowned customers and leads (company, region, team)."""
        s, st, end = self.scope, self.settings, self.warnings.end
        empty = pd.DataFrame()
        self.card, self.found, self.recs, self.assign = empty, empty, empty, empty
        self.offer_products, self.customer_names, self.crosssell_run = empty, empty, None
        if s.level in ("team", "rep"):
            self.card = SC.scorecard(con, self.period, s, st.scorecard, st.performance, st.anonymous_customer_ids)
            self.found = SC.findings(self.card, st.scorecard) if len(self.card) else empty
        if s.level == "rep":
            self.recs = X.recommendations(con, end, s, st)
            ids = sorted(set(self.recs["customer_id"]))
            self.customer_names = con.execute(
                "SELECT customer_id, name AS customer_name FROM customers WHERE list_contains($ids::VARCHAR[], customer_id)", {"ids": ids}
            ).df()
            self.offer_products = con.execute(
                "SELECT product_id, name FROM products WHERE list_contains($ids::VARCHAR[], product_id)",
                {"ids": sorted(set(self.recs["product_id"]) | set(self.recs["because_product_id"].dropna()))},
            ).df()
            self.crosssell_run = X.latest_run(st)
        else:
            self.assign = assignment_suggestions(con, end, s, st)

    def data_end(self, con) -> date:
        """The last day the report looks at: the period's last day, or the data's when earlier."""
        last = con.execute("SELECT max(order_date) FROM order_lines").fetchone()[0]
        end = period_bounds(self.period)[1] - timedelta(days=1)
        return min(end, last) if last else end

    # ------------------------------------------------------------------ helpers

    def region_label(self, region: str) -> str:
        local = self.local_regions.get(region)
        return f"{region} · {local}" if local else str(region)

    @property
    def headline_figures(self) -> dict:
        row = self.data.summary.iloc[0]
        return {"period": self.period, "scope": str(self.scope), **{k: row[k] for k in HEADLINE}}

    def money(self, v) -> str:
        return self.L.money(v)

    def who(self) -> str:
        sc = self.scope
        name = self.region_label(sc.value or "") if sc.level == "region" else sc.value
        if sc.level == "rep" and not self.data.reps.empty and pd.notna(self.data.reps["rep_name"].iloc[0]):
            name = f"{sc.value} {self.data.reps['rep_name'].iloc[0]}"
        return self.L.who(sc.level, name)

    def sub_rows(self) -> pd.DataFrame:
        """Performance of the scope's next level down (regions, teams, reps; none for a rep)."""
        return {"company": self.data.regions, "region": self.data.teams, "team": self.data.reps}.get(self.scope.level, pd.DataFrame())

    def facts(self) -> S.Facts:
        """What the summary is written from."""
        return S.Facts(
            period=self.period,
            scope_level=self.scope.level,
            headline=self.headline_figures,
            trend=self.data.trend,
            bridge_prev=self.data.bridge_prev,
            bridge_year=self.data.bridge_year,
            sub_level=SUB_LEVEL[self.scope.level],
            sub_rows=self.sub_rows(),
            bridge_rows=self.data.bridge_rows,
            warnings=self.warnings,
            label=self.region_label,
            extra=self.coaching_facts(),
        )

    def coaching_facts(self) -> dict:
        """The rep's largest gap against the team, in words (for the summary's actions)."""
        gaps = self.found[self.found["direction"] == "gap"] if len(self.found) else self.found
        if self.scope.level != "rep" or gaps.empty:
            return {}
        return {"top_gap": C.finding_text(gaps.sort_values("magnitude", ascending=False).iloc[0], self.L)}

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        L = self.L
        state = L.t("closed_state" if self.kpis.period_status == "closed" else "open_state")
        currency = L.t("in_currency", code=self.currency) if self.currency else ""
        return H.style() + H.heading(L.t("perf_title", period=L.period(self.period)), 1) + H.note(
            L.t("title_note", who=self.who(), first=L.period(self.data_span[0]), last=L.period(self.data_span[1]), currency=currency, state=state)
        )

    def summary(self) -> H.Block:
        """Three to six sentences and an action list, each linked to the section behind it."""
        sentences, actions = S.performance_summary(self.facts(), self.L)
        return S.block(sentences, actions, self.L) + H.figures({"summary": [s.text for s in sentences], "actions": [a.text for a in actions]})

    def early_warnings(self) -> H.Block:
        return S.warnings_block(self.warnings, self.L, self.settings.warnings, self.region_label)

    def headline(self) -> H.Block:
        L, f = self.L, self.headline_figures
        if pd.isna(f["revenue"]) and pd.isna(f["target_revenue"]):
            return H.note(L.t("no_sales_no_target", period=self.period, scope=self.who())) + H.figures(f)
        cards = [
            {"label": L.t("card_revenue"), "value": L.money(f["revenue"]),
             "sub": L.t("vs_last_month", value=L.pct(f["growth_mom_pct"], True)), "trend": f["growth_mom_pct"]},
            {"label": L.t("card_yoy"), "value": L.pct(f["growth_yoy_pct"], True), "sub": L.t("same_month_ly"), "trend": f["growth_yoy_pct"]},
            self.margin_card(f),
            {"label": L.t("card_attainment"), "value": L.pct(f["attainment_pct"]), "sub": L.t("target_of", value=L.money(f["target_revenue"])),
             "trend": None if pd.isna(f["attainment_pct"]) else f["attainment_pct"] - 100},
            {"label": L.t("card_orders"), "value": L.count(f["orders"]), "sub": L.t("aov_of", value=L.money(f["aov"]))},
            {"label": L.t("card_customers"), "value": L.count(f["customers"]), "sub": L.t("with_purchase")},
            {"label": L.t("card_returns"), "value": L.money(f["returns"]), "sub": L.t("of_gross", value=L.money(f["gross_sales"]))},
            {"label": L.t("card_adjustments"), "value": L.money(f["adjustments"]), "sub": L.t("to_closed"),
             "trend": f["adjustments"] if f["adjustments"] else None},
        ]
        if pd.notna(f.get("projected_revenue")):
            cards.append({"label": L.t("card_projected"), "value": L.money(f["projected_revenue"]),
                          "sub": L.t("run_rate", value=L.pct(f["projected_attainment_pct"]))})
        block = H.anchor("figures") + H.cards(cards)
        note = self.margin_note(f)
        if note and pd.notna(f["margin"]):
            block = block + H.note(L.t("margin_label", note=note))
        return block + H.figures(f)

    def margin_note(self, f: dict) -> str | None:
        if perf.margin_note(f) is None:
            return None
        if pd.isna(f["margin"]):
            return self.L.t("no_cost")
        return self.L.t("margin_partial", pct=self.L.pct(f["margin_coverage_pct"], digits=0))

    def margin_card(self, f: dict) -> dict:
        """The gross margin card: "—" and why when no cost is loaded, the share covered when
        only some lines have a cost."""
        L = self.L
        if pd.isna(f["margin"]):
            return {"label": L.t("card_margin"), "value": NO_MARGIN, "sub": L.t("no_cost")}
        if perf.margin_note(f):
            sub = L.t("margin_of_covered", pct=L.pct(f["margin_pct"]), covered=L.pct(f["margin_coverage_pct"]))
        else:
            sub = L.t("margin_of_revenue", pct=L.pct(f["margin_pct"]))
        return {"label": L.t("card_margin"), "value": L.money(f["margin"]), "sub": sub}

    def bridge(self) -> H.Block:
        """The waterfall of the change vs last month, the same vs last year in a sentence, and
        the next level down's bridges."""
        L, b = self.L, self.data.bridge_prev
        head = H.heading(L.t("bridge"), 2, L.t("bridge_note", base=L.period(shift_period(self.period, -1))), anchor="bridge")
        if b.empty:
            return head + H.note(L.t("no_sales"))
        row = b.iloc[0]
        names = [f"{L.t('then')} {L.period(row['base'])}", *[L.t(f"part_{p}") for p in B.PARTS], f"{L.t('now')} {L.period(row['current'])}"]
        values = [row["base_revenue"], *[row[p] for p in B.PARTS], row["revenue"]]
        fig = go.Figure(
            go.Waterfall(
                x=names, y=values, measure=["absolute", *["relative"] * len(B.PARTS), "total"],
                text=[L.money(v, signed=0 < i <= len(B.PARTS)) for i, v in enumerate(values)], textposition="outside",
                increasing=dict(marker_color=H.COLORS["up"]), decreasing=dict(marker_color=H.COLORS["down"]),
                totals=dict(marker_color=H.COLORS["total"]), connector=dict(line=dict(color="#d0d7de")),
                hovertemplate="%{x}: %{y:,.0f}<extra></extra>",
            )
        )
        fig.update_layout(
            title=dict(text=L.t("bridge_chart", base=L.period(row["base"]), current=L.period(row["current"])), y=0.98),
            height=400, margin=dict(l=10, r=10, t=60, b=10), showlegend=False,
            xaxis=dict(type="category"), yaxis=dict(title=self.currency or ""),
        )
        out = head + H.chart(fig)
        y = self.data.bridge_year
        if len(y) and y.iloc[0]["base_revenue"]:
            out = out + H.note(L.t("bridge_year", base=L.period(y.iloc[0]["base"]), parts=S.parts_phrase(y.iloc[0], L, 3)))
        rows = self.data.bridge_rows
        if len(rows):
            level = SUB_LEVEL[self.scope.level]
            key = {"rep": "rep_id"}.get(level, level)
            cols = [key, *(["rep_name"] if level == "rep" else []), "base_revenue", *B.PARTS, "revenue", "change"]
            shown = rows.assign(**({key: rows[key].map(self.region_label)} if level == "region" else {}))
            out = out + H.heading(L.t("bridge_rows", level=L.t(f"level_{level}")), 3) + H.view(
                shown, L, cols, top=self.settings.report.top_n, more=f"salesml bridge --period {self.period} --by {level} --format csv", labels={"base_revenue": f"{L.label('base_revenue')} ({L.period(row['base'])})",
                                                                         "revenue": f"{L.label('revenue')} ({L.period(row['current'])})"}
            )
        return out + H.figures({f"bridge_{k}": row[k] for k in ("base_revenue", *B.PARTS, "revenue", "change")})

    def ranking(self) -> H.Block:
        L = self.L
        reps = self.data.reps
        if reps.empty:
            return H.note(L.t("no_rep_activity"))
        cols = ["rank_in_team", "rank_in_region", "rep_id", "rep_name", "team", "region", "revenue", "margin_pct",
                "target_revenue", "attainment_pct", "growth_mom_pct", "growth_yoy_pct"]
        shown = reps.assign(region=reps["region"].map(self.region_label))
        block = H.heading(L.t("ranking" if self.scope.level != "rep" else "your_figures"), 2, L.t("ranking_note"), anchor="ranking")
        block = block + H.view(shown, L, cols, top=self.settings.report.top_n, more=f"salesml perf --by rep --scope {self.scope} --format csv")
        if self.scope.level in ("company", "region") and not self.data.teams.empty:
            teams = self.data.teams
            block = block + H.heading(L.t("teams"), 3) + H.view(
                teams.assign(region=teams["region"].map(self.region_label)), L,
                ["rank_in_region", "team", "region", "reps", "revenue", "margin_pct", "target_revenue", "attainment_pct", "growth_mom_pct"],
                top=self.settings.report.top_n,
            )
        return block

    def attainment_chart(self) -> H.Block:
        L = self.L
        if self.scope.level in ("company", "region"):
            df = self.data.teams.dropna(subset=["attainment_pct"]).sort_values("attainment_pct")
            labels = df["team"].astype(str) + " (" + df["region"].map(self.region_label) + ")"
            title = L.t("attainment_by_team", period=L.period(self.period))
        elif self.scope.level == "team":
            df = self.data.reps.dropna(subset=["attainment_pct"]).sort_values("attainment_pct")
            labels = df["rep_id"].astype(str) + " " + df["rep_name"].fillna("").astype(str)
            title = L.t("attainment_by_rep", period=L.period(self.period))
        else:
            df = self.data.trend.dropna(subset=["attainment_pct"]).tail(12)
            labels = df["period"].map(L.period)
            title = L.t("attainment_by_month", n=len(df))
        head = H.heading(L.t("attainment"), 2, anchor="attainment")
        if df.empty:
            return head + H.note(L.t("no_targets"))
        values = df["attainment_pct"].astype(float)
        colors = [H.COLORS["up"] if v >= 100 else H.COLORS["pipeline"] if v >= 80 else H.COLORS["down"] for v in values]
        names = [H.esc(v) for v in labels]
        horizontal = self.scope.level != "rep"
        fig = go.Figure(
            go.Bar(
                x=values if horizontal else names, y=names if horizontal else values, orientation="h" if horizontal else "v",
                marker_color=colors,
                hovertemplate="%{y}: %{x:.1f}%<extra></extra>" if horizontal else "%{x}: %{y:.1f}%<extra></extra>",
            )
        )
        # the 100% line is drawn on the value axis; the names axis is categorical (months
        # written 2026-01 would otherwise make a date axis, and a line at 100 on it 1970)
        line = dict(line=dict(color=H.COLORS["target"], dash="dash"))
        if horizontal:
            fig.add_vline(x=100, **line)
        else:
            fig.add_hline(y=100, **line)
        fig.update_layout(
            title=dict(text=title, y=0.98),
            height=max(320, 22 * len(df) + 130) if horizontal else 380,
            margin=dict(l=10, r=10, t=60, b=10),
            xaxis=dict(type="linear") if horizontal else dict(type="category"),
            yaxis=dict(type="category") if horizontal else dict(type="linear", rangemode="tozero"),
        )
        return head + H.chart(fig)

    def trend_chart(self) -> H.Block:
        L, t = self.L, self.data.trend
        x = [L.period(p) for p in t["period"]]
        fig = go.Figure()
        fig.add_bar(x=x, y=t["revenue"], name=L.label("revenue"), marker_color=H.COLORS["revenue"])
        fig.add_bar(x=x, y=-t["returns"].fillna(0), name=L.label("returns"), marker_color=H.COLORS["returns"])
        fig.add_scatter(x=x, y=t["target_revenue"], name=L.label("target"), mode="lines+markers", line=dict(color=H.COLORS["target"], dash="dash"))
        fig.add_scatter(x=x, y=t["margin"], name=L.label("margin"), mode="lines", line=dict(color=H.COLORS["margin"]))
        fig.update_layout(
            title=dict(text=L.t("trend_chart", n=len(t)), y=0.98),
            barmode="relative",
            height=420,
            margin=dict(l=10, r=10, t=60, b=10),
            legend=dict(orientation="h", y=-0.15),
            xaxis=dict(type="category"),
            yaxis_title=self.currency or "",
        )
        return H.heading(L.t("trend"), 2, anchor="trend") + H.chart(fig)

    def region_breakdown(self) -> H.Block:
        L = self.L
        if self.scope.level == "company":
            df = self.data.regions.assign(label=lambda d: d["region"].map(self.region_label))
            title = L.t("by_sales_region")
        else:
            df = self.data.customer_regions.assign(label=lambda d: d["customer_region"].map(self.region_label))
            title = L.t("by_customer_region")
        head = H.heading(L.t("regions"), 2, anchor="regions")
        if df.empty:
            return head + H.note(L.t("no_sales"))
        fig = go.Figure(go.Bar(x=[H.esc(v) for v in df["label"]], y=df["revenue"], marker_color=H.COLORS["revenue"],
                               customdata=df["margin_pct"], hovertemplate="%{x}<br>%{y:,.0f}<br>%{customdata:.1f}%<extra></extra>"))
        fig.update_layout(title=dict(text=title, y=0.98), height=360, margin=dict(l=10, r=10, t=60, b=10),
                          xaxis=dict(type="category"))
        cols = ["label", "revenue", "margin_pct"] + (["attainment_pct", "growth_yoy_pct"] if "attainment_pct" in df else ["share_pct"])
        return head + H.chart(fig) + H.view(df, L, cols, top=self.settings.report.top_n)

    def category_breakdown(self) -> H.Block:
        L, df = self.L, self.data.categories
        head = H.heading(L.t("categories"), 2, anchor="categories")
        if df.empty:
            return head + H.note(L.t("no_sales"))
        cats = [H.esc(L.value(v)) for v in df["category"]]
        fig = go.Figure(go.Bar(x=cats, y=df["revenue"], name=L.label("revenue"), marker_color=H.COLORS["revenue"]))
        fig.add_scatter(x=cats, y=df["margin_pct"], name=L.label("margin_pct"), yaxis="y2", mode="markers", marker=dict(size=10, color=H.COLORS["margin"]))
        fig.update_layout(
            title=dict(text=L.t("category_chart"), y=0.98),
            height=380,
            margin=dict(l=10, r=10, t=60, b=10),
            xaxis=dict(type="category"),
            yaxis=dict(title=self.currency or ""),
            yaxis2=dict(title=L.label("margin_pct"), overlaying="y", side="right", showgrid=False),
            legend=dict(orientation="h", y=-0.2),
        )
        return head + H.chart(fig) + H.view(df, L, ["category", "revenue", "share_pct", "margin_pct", "returns", "orders"], top=self.settings.report.top_n)

    def commission(self) -> H.Block:
        """The rep's statement (rep scope), the team's statements (team scope), or totals."""
        L = self.L
        summary, lines = self.commission_summary, self.commission_lines
        head = H.heading(L.t("commission"), 2, L.t("commission_note"), anchor="commission")
        if summary.empty:
            return head + H.note(L.t("no_statements"))
        if self.scope.level == "rep":
            r = summary.iloc[0]
            cards = H.cards(
                [
                    {"label": L.label("commission"), "value": L.cents(r["commission"]), "sub": L.t("plan_of", plan=r["plan"] or L.t("no_plan"))},
                    {"label": L.t("card_base"), "value": L.cents(r["base"]),
                     "sub": L.t("base_of", metric=L.value(r["base_metric"]), adj=L.cents(r["base_adjustments"]))},
                    {"label": L.t("card_attainment"), "value": L.pct(r["attainment_pct"]), "sub": L.t("target_of", value=L.cents(r["target"]))},
                    {"label": L.t("card_clawback"), "value": L.cents(r["clawback"]), "sub": L.t("clawback_note")},
                ]
            )
            lines = lines.assign(description=lines["description"].map(L.note))
            out = head + cards + H.view(lines, L, ["description", "base_in_band", "rate", "amount"], formats={"amount": L.cents})
            return out + (H.note(L.note(r["note"])) if r.get("note") else H.note(""))
        if self.scope.level == "team":
            cols = ["rep_id", "rep_name", "plan", "base", "base_adjustments", "target", "attainment_pct", "clawback", "commission"]
            return head + H.view(summary.assign(plan=summary["plan"].fillna(L.note("no plan"))), L, cols, formats={"base": L.cents, "target": L.cents})
        paid = int((summary["commission"].fillna(0) > 0).sum())
        total = float(summary["commission"].fillna(0).sum())
        return head + H.note(
            L.t("commission_total", total=L.money(total), reps=L.count(len(summary)), paid=L.count(paid),
                clawback=L.money(summary["clawback"].fillna(0).sum()))
        ) + H.figures({"commission_total": total})

    def scorecard(self) -> H.Block:
        """The rep's scorecard against the team (rep page), or the team's scorecards (team page)."""
        if self.scope.level == "rep":
            return C.rep_scorecard(self.card, self.found, self.L, self.settings.scorecard.window_months)
        if self.scope.level == "team":
            return C.team_scorecards(self.card, self.found, self.L, self.settings.report.top_n)
        return H.Block("", text="")

    def crosssell(self) -> H.Block:
        """What to offer the rep's customers (rep page only)."""
        if self.scope.level != "rep":
            return H.Block("", text="")
        return C.crosssell_block(self.recs, self.offer_products, self.customer_names, self.warnings.at_risk, self.crosssell_run, self.L,
                                 self.settings.report.top_n)

    def assignments(self) -> H.Block:
        """Owners suggested for unowned customers and leads (managers' pages)."""
        if self.scope.level == "rep":
            return H.Block("", text="")
        return C.assignment_block(self.assign, self.L, self.settings.report.top_n)

    def key_figures(self) -> H.Block:
        return kpi_blocks.kpi_block(self.kpis, self.L)

    def adjustments(self) -> H.Block:
        return kpi_blocks.adjustments_block(self.kpis, self.L, margin_known=pd.notna(self.headline_figures["margin"]))

    def customers(self) -> H.Block:
        return kpi_blocks.customers_block(self.kpis, self.L)

    def pipeline(self) -> H.Block:
        return kpi_blocks.pipeline_block(self.kpis, self.L)

    def products(self) -> H.Block:
        return kpi_blocks.products_block(self.kpis, self.L)

    def service(self) -> H.Block:
        return kpi_blocks.service_block(self.kpis, self.L)

    def notes(self) -> H.Block:
        """How the figures are made, and the labels this page lacked in its language (none)."""
        L = self.L
        block = H.heading(L.t("how_made"), 3) + H.note(L.t("how_made_text"))
        return block + H.figures({"lang": L.code, "untranslated": sorted(L.missing)})


def warehouse_connect(settings: Settings):
    """A read-only connection for a report (the settings' memory limit and threads applied)."""
    return warehouse.open(settings, read_only=True)
