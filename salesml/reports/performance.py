"""The sales performance report: what ``notebooks/sales_performance.ipynb`` shows.

All data is read once, through one short-lived read-only connection, and already
filtered to the report's scope by the warehouse queries: nothing outside the scope is
held, charted or rendered.

Margin is shown only where costs are loaded: with none, the margin card shows "—" and says
"no cost loaded: margin not shown" (never ¥0 / 0%); with some, it says what share of revenue
the margin covers (:func:`salesml.accounting.performance.margin_note`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from salesml import warehouse
from salesml.accounting import performance as perf
from salesml.accounting.commissions import statements
from salesml.config import Settings, load_settings
from salesml.periods import data_periods, latest_complete_period, parse_period
from salesml.reports import html as H
from salesml.reports import kpi_blocks
from salesml.scope import Scope, parse_scope

#: headline figures recorded in the executed notebook (and compared with `salesml perf`)
HEADLINE = [m for m in perf.MEASURES if m not in ("target_margin", "revenue_prev_month", "revenue_last_year")]
#: what a margin without any cost behind it shows
NO_MARGIN = "—"


def report_settings(config_path: str = "", warehouse_path: str = "") -> Settings:
    """Settings as a report notebook sees them (its parameters override the config)."""
    settings = load_settings(config_path or None)
    if warehouse_path:
        settings = settings.with_overrides(warehouse={"path": warehouse_path})
    return settings


@dataclass
class _Data:
    summary: pd.DataFrame
    reps: pd.DataFrame
    teams: pd.DataFrame
    regions: pd.DataFrame
    trend: pd.DataFrame
    categories: pd.DataFrame
    customer_regions: pd.DataFrame


class SalesPerformanceReport:
    """Figures, tables and charts for one period and one scope."""

    def __init__(self, period: str = "", scope: str = "company", config_path: str = "", warehouse: str = ""):
        self.settings = report_settings(config_path, warehouse)
        self.scope: Scope = parse_scope(scope)
        ps = self.settings.performance
        with warehouse_connect(self.settings) as con:
            self.period = parse_period(period) if period else latest_complete_period(con)
            first, last = data_periods(con)
            self.data_span = (first, last)
            self.currency = perf.main_currency(con)
            s = self.scope
            anon = self.settings.anonymous_customer_ids
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
            )
            self.kpis = kpi_blocks.load(con, self.period, s, ps, anonymous=self.settings.anonymous_customer_ids)
            self.commission_summary, self.commission_lines = statements(
                con, self.period, self.settings, None if s.level == "company" else s
            )
        self.local_regions = self.settings.local_names.get("region", {})

    # ------------------------------------------------------------------ helpers

    def region_label(self, region: str) -> str:
        local = self.local_regions.get(region)
        return f"{region} · {local}" if local else str(region)

    @property
    def headline_figures(self) -> dict:
        row = self.data.summary.iloc[0]
        return {"period": self.period, "scope": str(self.scope), **{k: row[k] for k in HEADLINE}}

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        who = {
            "company": "Whole company",
            "region": f"Region {self.region_label(self.scope.value or '')}",
            "team": f"Team {self.scope.value}",
            "rep": f"Rep {self.scope.value}",
        }[self.scope.level]
        if self.scope.level == "rep" and not self.data.reps.empty:
            who += f" — {self.data.reps['rep_name'].iloc[0]}"
        state = (
            "The books of this month are closed: these figures are final."
            if self.kpis.period_status == "closed"
            else "This month is open: figures can still change (late returns, corrections)."
        )
        return H.style() + H.heading(f"Sales performance {self.period}", 1) + H.note(
            f"{who}. Data from {self.data_span[0]} to {self.data_span[1]}. "
            f"Amounts{' in ' + self.currency if self.currency else ''}, net of returns. {state}"
        )

    def money(self, v) -> str:
        return H.fmt_money(v, H.currency_symbol(self.currency))

    def headline(self) -> H.Block:
        f = self.headline_figures
        if pd.isna(f["revenue"]) and pd.isna(f["target_revenue"]):
            return H.note(f"No sales and no target in {self.period} for {self.scope}.") + H.figures(f)
        cards = [
            {
                "label": "Revenue (net)",
                "value": self.money(f["revenue"]),
                "sub": f"{H.fmt_pct(f['growth_mom_pct'], True)} vs last month",
                "trend": f["growth_mom_pct"],
            },
            {
                "label": "vs last year",
                "value": H.fmt_pct(f["growth_yoy_pct"], True),
                "sub": "same month last year",
                "trend": f["growth_yoy_pct"],
            },
            self.margin_card(f),
            {
                "label": "Target attainment",
                "value": H.fmt_pct(f["attainment_pct"]),
                "sub": f"target {self.money(f['target_revenue'])}",
                "trend": None if pd.isna(f["attainment_pct"]) else f["attainment_pct"] - 100,
            },
            {"label": "Orders", "value": H.fmt_int(f["orders"]), "sub": f"AOV {self.money(f['aov'])}"},
            {"label": "Customers", "value": H.fmt_int(f["customers"]), "sub": "with a purchase"},
            {
                "label": "Returns",
                "value": self.money(f["returns"]),
                "sub": f"of {self.money(f['gross_sales'])} gross sales",
            },
            {
                "label": "Adjustments",
                "value": self.money(f["adjustments"]),
                "sub": "to earlier, closed periods",
                "trend": f["adjustments"] if f["adjustments"] else None,
            },
        ]
        if pd.notna(f.get("projected_revenue")):
            cards.append(
                {
                    "label": "Projected month",
                    "value": self.money(f["projected_revenue"]),
                    "sub": f"run rate: {H.fmt_pct(f['projected_attainment_pct'])} of target",
                }
            )
        note = perf.margin_note(f)
        block = H.cards(cards) + H.note(f"Margin: {note}.") if note else H.cards(cards)
        return block + H.figures(f)

    def margin_card(self, f: dict) -> dict:
        """The gross margin card: "—" and why when no cost is loaded, the share covered when
        only some lines have a cost."""
        note = perf.margin_note(f)
        if pd.isna(f["margin"]):
            return {"label": "Gross margin", "value": NO_MARGIN, "sub": note or "no margin"}
        if note:
            sub = f"{H.fmt_pct(f['margin_pct'])} of the {H.fmt_pct(f['margin_coverage_pct'])} of revenue with a cost"
        else:
            sub = f"{H.fmt_pct(f['margin_pct'])} of revenue"
        return {"label": "Gross margin", "value": self.money(f["margin"]), "sub": sub}

    def ranking(self) -> H.Block:
        reps = self.data.reps.head(self.settings.report.top_n)
        if reps.empty:
            return H.note("No rep activity in this period.")
        cols = [
            "rank_in_team",
            "rank_in_region",
            "rep_id",
            "rep_name",
            "team",
            "region",
            "revenue",
            "margin_pct",
            "target_revenue",
            "attainment_pct",
            "growth_mom_pct",
            "growth_yoy_pct",
        ]
        shown = reps[cols].assign(region=reps["region"].map(self.region_label))
        block = H.heading(
            "Ranking" if self.scope.level != "rep" else "Your figures",
            2,
            "Ranks by net revenue within team and region (ties share a rank)."
            + (f" Top {len(reps)} of {len(self.data.reps)} shown." if len(self.data.reps) > len(reps) else ""),
        ) + H.table(
            shown,
            formats={
                "rank_in_team": H.fmt_int,
                "rank_in_region": H.fmt_int,
                "revenue": H.fmt_exact_money,
                "target_revenue": H.fmt_exact_money,
                "margin_pct": H.fmt_pct,
                "attainment_pct": H.fmt_pct,
                "growth_mom_pct": lambda v: H.fmt_pct(v, True),
                "growth_yoy_pct": lambda v: H.fmt_pct(v, True),
            },
            labels={
                "rank_in_team": "# team",
                "rank_in_region": "# region",
                "rep_id": "rep",
                "rep_name": "name",
                "margin_pct": "margin %",
                "target_revenue": "target",
                "attainment_pct": "attainment",
                "growth_mom_pct": "MoM",
                "growth_yoy_pct": "YoY",
            },
        )
        if self.scope.level in ("company", "region") and not self.data.teams.empty:
            teams = self.data.teams
            block = block + H.heading("Teams", 3) + H.table(
                teams[["rank_in_region", "team", "region", "reps", "revenue", "margin_pct", "target_revenue", "attainment_pct", "growth_mom_pct"]].assign(
                    region=teams["region"].map(self.region_label)
                ),
                formats={
                    "rank_in_region": H.fmt_int,
                    "reps": H.fmt_int,
                    "revenue": H.fmt_exact_money,
                    "target_revenue": H.fmt_exact_money,
                    "margin_pct": H.fmt_pct,
                    "attainment_pct": H.fmt_pct,
                    "growth_mom_pct": lambda v: H.fmt_pct(v, True),
                },
                labels={"rank_in_region": "# region", "margin_pct": "margin %", "target_revenue": "target", "attainment_pct": "attainment", "growth_mom_pct": "MoM"},
            )
        return block

    def attainment_chart(self) -> H.Block:
        if self.scope.level in ("company", "region"):
            df = self.data.teams.dropna(subset=["attainment_pct"]).sort_values("attainment_pct")
            labels = df["team"].astype(str) + " (" + df["region"].map(self.region_label) + ")"
            what = "team"
        elif self.scope.level == "team":
            df = self.data.reps.dropna(subset=["attainment_pct"]).sort_values("attainment_pct")
            labels = df["rep_id"].astype(str) + " " + df["rep_name"].fillna("").astype(str)
            what = "rep"
        else:
            df = self.data.trend.dropna(subset=["attainment_pct"]).tail(12)
            labels = df["period"]
            what = "month"
        if df.empty:
            return H.note("No targets in this period: attainment skipped.")
        values = df["attainment_pct"].astype(float)
        colors = ["#1a7f37" if v >= 100 else "#bf8700" if v >= 80 else "#cf222e" for v in values]
        horizontal = what != "month"
        bar = go.Bar(
            x=values if horizontal else [H.esc(v) for v in labels],
            y=[H.esc(v) for v in labels] if horizontal else values,
            orientation="h" if horizontal else "v",
            marker_color=colors,
            hovertemplate="%{y}: %{x:.1f}%<extra></extra>" if horizontal else "%{x}: %{y:.1f}%<extra></extra>",
        )
        fig = go.Figure(bar)
        line = dict(type="line", line=dict(color="#57606a", dash="dash"))
        if horizontal:
            fig.add_shape(**line, x0=100, x1=100, y0=-0.5, y1=len(df) - 0.5)
        else:
            fig.add_shape(**line, y0=100, y1=100, x0=-0.5, x1=len(df) - 0.5)
        fig.update_layout(
            title=f"Target attainment by {what}, {self.period if what != 'month' else 'last 12 months'} (%)",
            height=max(320, 22 * len(df) + 120) if horizontal else 380,
            margin=dict(l=10, r=10, t=50, b=10),
            template="plotly_white",
        )
        return H.heading("Target attainment", 2) + H.chart(fig)

    def trend_chart(self) -> H.Block:
        t = self.data.trend
        fig = go.Figure()
        fig.add_bar(x=t["period"], y=t["revenue"], name="revenue (net)", marker_color="#0969da")
        fig.add_bar(x=t["period"], y=-t["returns"].fillna(0), name="returns", marker_color="#cf222e")
        fig.add_scatter(x=t["period"], y=t["target_revenue"], name="target", mode="lines+markers", line=dict(color="#57606a", dash="dash"))
        fig.add_scatter(x=t["period"], y=t["margin"], name="gross margin", mode="lines", line=dict(color="#1a7f37"))
        fig.update_layout(
            title=f"Monthly revenue, last {len(t)} months",
            barmode="relative",
            height=420,
            template="plotly_white",
            margin=dict(l=10, r=10, t=50, b=10),
            legend=dict(orientation="h", y=-0.15),
            yaxis_title=self.currency or "amount",
        )
        return H.heading("Revenue trend", 2) + H.chart(fig)

    def region_breakdown(self) -> H.Block:
        if self.scope.level == "company":
            df = self.data.regions.assign(label=lambda d: d["region"].map(self.region_label))
            title = "Revenue by sales region"
        else:
            df = self.data.customer_regions.assign(label=lambda d: d["customer_region"].map(self.region_label))
            title = "Revenue by customer region"
        if df.empty:
            return H.note("No sales in this period.")
        fig = go.Figure(go.Bar(x=[H.esc(v) for v in df["label"]], y=df["revenue"], marker_color="#0969da",
                               customdata=df["margin_pct"], hovertemplate="%{x}<br>revenue %{y:,.0f}<br>margin %{customdata:.1f}%<extra></extra>"))
        fig.update_layout(title=title, height=360, template="plotly_white", margin=dict(l=10, r=10, t=50, b=10))
        cols = ["label", "revenue", "margin_pct"] + (["attainment_pct", "growth_yoy_pct"] if "attainment_pct" in df else ["share_pct"])
        return H.heading("Regions", 2) + H.chart(fig) + H.table(
            df[cols],
            formats={"revenue": H.fmt_exact_money, "margin_pct": H.fmt_pct, "attainment_pct": H.fmt_pct,
                     "growth_yoy_pct": lambda v: H.fmt_pct(v, True), "share_pct": H.fmt_pct},
            labels={"label": "region", "margin_pct": "margin %", "attainment_pct": "attainment", "growth_yoy_pct": "YoY", "share_pct": "share"},
        )

    def category_breakdown(self) -> H.Block:
        df = self.data.categories
        if df.empty:
            return H.note("No sales in this period.")
        fig = go.Figure(go.Bar(x=[H.esc(v) for v in df["category"]], y=df["revenue"], name="revenue", marker_color="#0969da"))
        fig.add_scatter(x=[H.esc(v) for v in df["category"]], y=df["margin_pct"], name="margin %", yaxis="y2", mode="markers", marker=dict(size=10, color="#1a7f37"))
        fig.update_layout(
            title="Revenue and margin by product category",
            height=380,
            template="plotly_white",
            margin=dict(l=10, r=10, t=50, b=10),
            yaxis=dict(title=self.currency or "amount"),
            yaxis2=dict(title="margin %", overlaying="y", side="right", showgrid=False),
            legend=dict(orientation="h", y=-0.2),
        )
        return H.heading("Product categories", 2) + H.chart(fig) + H.table(
            df[["category", "revenue", "share_pct", "margin_pct", "returns", "orders"]],
            formats={"revenue": H.fmt_exact_money, "share_pct": H.fmt_pct, "margin_pct": H.fmt_pct, "returns": H.fmt_exact_money, "orders": H.fmt_int},
            labels={"share_pct": "share", "margin_pct": "margin %"},
        )

    def commission(self) -> H.Block:
        """The rep's statement (rep scope), the team's statements (team scope), or totals."""
        summary, lines = self.commission_summary, self.commission_lines
        head = H.heading(
            "Commission",
            2,
            "Plans in salesml.toml; marginal rates by attainment band; late returns of closed months "
            "claw back through this month's adjustments.",
        )
        if summary.empty:
            return head + H.note("No commission statements for this period and scope.")
        money = H.fmt_exact_money
        if self.scope.level == "rep":
            r = summary.iloc[0]
            cards = H.cards(
                [
                    {"label": "Commission", "value": money(r["commission"]), "sub": f"plan {r['plan'] or 'none'}"},
                    {"label": "Base", "value": money(r["base"]), "sub": f"{r['base_metric']}, of which adjustments {money(r['base_adjustments'])}"},
                    {"label": "Attainment", "value": H.fmt_pct(r["attainment_pct"]), "sub": f"target {money(r['target'])}"},
                    {"label": "Clawback", "value": money(r["clawback"]), "sub": "from adjustments (inside the total)"},
                ]
            )
            detail = lines[["description", "base_in_band", "rate", "amount"]]
            return head + cards + H.table(
                detail,
                formats={"base_in_band": money, "rate": lambda v: "" if pd.isna(v) else H.fmt_pct(v * 100), "amount": money},
                labels={"base_in_band": "base in band"},
            ) + (H.note(str(r["note"])) if r.get("note") else H.note(""))
        if self.scope.level == "team":
            cols = ["rep_id", "rep_name", "plan", "base", "base_adjustments", "target", "attainment_pct", "clawback", "commission"]
            return head + H.table(
                summary[cols],
                formats={"base": money, "base_adjustments": money, "target": money, "attainment_pct": H.fmt_pct, "clawback": money, "commission": money},
                labels={"base_adjustments": "of which adjustments"},
            )
        paid = int((summary["commission"].fillna(0) > 0).sum())
        return head + H.note(
            f"{money(summary['commission'].fillna(0).sum())} commission for {len(summary)} reps "
            f"({paid} paid; clawbacks {money(summary['clawback'].fillna(0).sum())}). "
            "Each rep's statement is in their own report (`-p scope=rep:ID`) and in `salesml commission`."
        ) + H.figures({"commission_total": float(summary["commission"].fillna(0).sum())})

    def key_figures(self) -> H.Block:
        return kpi_blocks.kpi_block(self.kpis)

    def adjustments(self) -> H.Block:
        return kpi_blocks.adjustments_block(self.kpis, self.money, margin_known=pd.notna(self.headline_figures["margin"]))

    def customers(self) -> H.Block:
        return kpi_blocks.customers_block(self.kpis, self.money)

    def pipeline(self) -> H.Block:
        return kpi_blocks.pipeline_block(self.kpis)

    def products(self) -> H.Block:
        return kpi_blocks.products_block(self.kpis, self.money)

    def service(self) -> H.Block:
        return kpi_blocks.service_block(self.kpis)

    def notes(self) -> H.Block:
        return H.heading("How these figures are made", 3) + H.note(
            "Figures come from the performance ledger: sales count in the month they are sold, and "
            "returns in the month of the sale they reverse while it is open; once a month is closed, "
            "later returns and corrections are adjustments in the first open month, charged to the "
            "original rep. Credit follows the rep on the order line (or the order's split) and the "
            "rep's team and region on the date of the sale. Attainment = net revenue / target. "
            f"Generated by salesml from {self.settings.warehouse_path.name}."
        )


def warehouse_connect(settings: Settings):
    """A read-only connection for a report (the settings' memory limit and threads applied)."""
    return warehouse.open(settings, read_only=True)
