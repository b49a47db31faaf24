"""The customer segments report: what ``notebooks/customer_segments.ipynb`` shows.

RFM segments as of a day (sizes and value, the R x F heat map), the customers to win back,
k-means clusters and their profiles, the migration between segments since
``[segments] migration_months`` earlier, and the distribution of customer lifetime value.

Scope: a region / team / rep report holds the customers whose sales are credited to that
scope, measured on those sales only (see :mod:`salesml.customers.rfm`); every query is
filtered in the warehouse, so nothing of another rep's customers is read, charted or
rendered. The lifetime-value models are fitted on the whole company (their parameters are
aggregates) and score the scope's customers on the scope's purchases
(:func:`salesml.customers.clv.customer_clv`).

Anonymous (walk-in / guest) sales are nobody's: they are in no segment, cluster, migration or
lifetime value, and the report says how many order lines and how much revenue of the scope
that leaves out (:func:`salesml.customers.rfm.left_out`), at the as-of date and at the
migration's first date.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from salesml import warehouse
from salesml.accounting import performance as perf
from salesml.anonymous import LeftOut
from salesml.customers.clv import customer_clv
from salesml.customers.clv import fit as fit_clv
from salesml.customers.rfm import default_as_of, left_out, parse_as_of, rfm, score_matrix
from salesml.customers.segments import (
    GONE,
    NEW,
    ClusterSegmenter,
    cluster_profiles,
    migration_matrix,
    segment_summary,
)
from salesml.reports import html as H
from salesml.reports.performance import report_settings, warehouse_connect
from salesml.scope import Scope, parse_scope

#: CLV columns shown per customer when the lifetime-value model is available
_CLV_COLUMNS = ["customer_id", "clv", "p_alive", "expected_purchases", "expected_spend"]


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier; a month's last day maps to that month's last day."""
    ts = pd.Timestamp(day)
    earlier = ts - pd.DateOffset(months=months)
    if ts.is_month_end:
        earlier = earlier + pd.offsets.MonthEnd(0)
    return earlier.date()


class CustomerSegmentsReport:
    """Segments, clusters, migration and lifetime value of one scope's customers as of a day."""

    def __init__(self, as_of: str = "", scope: str = "company", config_path: str = "", warehouse: str = ""):
        self.settings = report_settings(config_path, warehouse)
        self.scope: Scope = parse_scope(scope)
        seg = self.settings.segments
        with warehouse_connect(self.settings) as con:
            self.as_of = parse_as_of(as_of) if as_of else default_as_of(con)
            self.before_date = months_before(self.as_of, seg.migration_months)
            self.currency = perf.main_currency(con)
            self.table = rfm(con, self.as_of, self.scope, self.settings)
            self.before = rfm(con, self.before_date, self.scope, self.settings)
            self.anonymous: LeftOut = left_out(con, self.as_of, self.scope, self.settings)
            self.anonymous_before: LeftOut = left_out(con, self.before_date, self.scope, self.settings)
            self.names = self._names(con, self.table["customer_id"].tolist())
            self.rep_name = self._rep_name(con)
            self.clv, self.clv_note = self._load_clv(con)
            self.segmenter, self.cluster_note = self._fit_clusters(con)
        self.summary = segment_summary(self.table, seg)
        self.migration = migration_matrix(self.before, self.table, seg.segment_names())
        self.profiles = pd.DataFrame()
        if self.segmenter is not None and len(self.table):
            self.profiles = cluster_profiles(self.table, self.segmenter.predict(self.table), seg)

    # ------------------------------------------------------------------ loading

    @staticmethod
    def _names(con, ids: list[str]) -> dict[str, str]:
        """Names of these customers only (nothing of anyone else is read)."""
        if not ids or not warehouse.table_exists(con, "customers"):
            return {}
        rows = con.execute(
            "SELECT customer_id, name FROM customers WHERE customer_id IN (SELECT unnest($ids)) AND name IS NOT NULL",
            {"ids": ids},
        ).fetchall()
        return {str(k): str(v) for k, v in rows}

    def _fit_clusters(self, con) -> tuple[ClusterSegmenter | None, str]:
        """Clusters of the whole company's customers (the scope's customers are then assigned
        to them): a handful of a rep's customers is too few to cluster, and a cluster means
        the same in every report. Only the fitted model (aggregates) is kept."""
        seg = self.settings.segments
        company = self.table if self.scope.level == "company" else rfm(con, self.as_of, None, self.settings)
        try:
            segmenter = ClusterSegmenter.from_settings(seg).fit(company)
        except ValueError as e:
            return None, f"No clusters: {e}."
        del segmenter.labels_  # one label per company customer: not needed here
        return segmenter, ""

    def _rep_name(self, con) -> str:
        if self.scope.level != "rep":
            return ""
        rows = con.execute("SELECT arg_max(name, valid_from) FROM reps WHERE rep_id = ?", [self.scope.value]).fetchall()
        return str(rows[0][0]) if rows and rows[0][0] is not None else ""

    def _load_clv(self, con) -> tuple[pd.DataFrame | None, str]:
        """Per-customer CLV from :mod:`salesml.customers.clv`, or why there is none."""
        if self.table.empty:
            return None, "No customers with a purchase: no lifetime values."
        try:
            bg, gg, _ = fit_clv(con, self.as_of, self.settings)  # on the whole company's customers
            df = customer_clv(con, self.as_of, settings=self.settings, scope=self.scope, models=(bg, gg))
        except Exception as e:  # a model that cannot be fitted must not sink the report
            return None, f"CLV model not available: {e}"
        # a fit on the model's boundary, refitted with a penalizer, is said under the figures
        return df, (bg.refit_[0].upper() + bg.refit_[1:] + ".") if bg.refit_ else ""

    # ------------------------------------------------------------------ helpers

    def money(self, v) -> str:
        return H.fmt_money(v, H.currency_symbol(self.currency))

    def exact_money(self, v) -> str:
        return H.currency_symbol(self.currency) + H.fmt_exact_money(v)

    @property
    def who(self) -> str:
        return {
            "company": "Whole company",
            "region": f"Region {self.scope.value}",
            "team": f"Team {self.scope.value}",
            "rep": f"Rep {self.scope.value}" + (f" — {self.rep_name}" if self.rep_name else ""),
        }[self.scope.level]

    @property
    def figures_recorded(self) -> dict:
        """What the report records for tests and schedulers."""
        counts = self.table["segment"].value_counts()
        return {
            "as_of": self.as_of.isoformat(),
            "scope": str(self.scope),
            "customers": len(self.table),
            "revenue": round(float(self.table["monetary"].sum()), 2),
            "segment_counts": {str(k): int(v) for k, v in counts.items()},
            "k": None if self.segmenter is None else int(self.segmenter.k_),
            "anonymous_lines": self.anonymous.lines,
            "anonymous_orders": self.anonymous.orders,
            "anonymous_revenue": self.anonymous.revenue,
            "anonymous_revenue_share_pct": self.anonymous.share_pct,
        }

    @property
    def anonymous_note(self) -> str:
        """What the customer figures leave out: anonymous (walk-in / guest) sales of the scope."""
        if not self.anonymous:
            return ""
        return (
            "Walk-in / guest sales have no customer: "
            + self.anonymous.text("the segments, clusters, migration or lifetime values", money=self.exact_money)
            + f" (sales up to {self.as_of}"
            + ("" if self.scope.level == "company" else " credited to this scope")
            + "; they do count in revenue and performance)."
        )

    # ------------------------------------------------------------------ blocks

    def title(self) -> H.Block:
        scope_note = (
            "" if self.scope.level == "company"
            else " Customers whose sales are credited to this scope, measured on those sales only."
        )
        head = H.style() + H.heading(f"Customer segments as of {self.as_of}", 1) + H.note(
            f"{self.who}.{scope_note} Amounts{' in ' + self.currency if self.currency else ''}, net of returns."
        )
        return head + H.note(self.anonymous_note) if self.anonymous else head

    def segment_sizes(self) -> H.Block:
        s = self.summary
        figures = H.figures(self.figures_recorded)
        head = H.heading(
            "Segments",
            2,
            "RFM segments from the [segments] map of salesml.toml: recency (R), frequency (F) and net revenue (M) "
            "scored 1-5 among the whole company's customers, higher = better.",
        )
        if self.table.empty:
            return head + H.note(f"No customers with a purchase by {self.as_of} in this scope.") + figures
        cards = H.cards(
            [
                {"label": "Customers", "value": H.fmt_int(len(self.table)), "sub": f"with a purchase by {self.as_of}"},
                {"label": "Net revenue", "value": self.money(self.table["monetary"].sum()), "sub": "all their purchases"},
                {
                    "label": "Median days since last purchase",
                    "value": f"{self.table['recency_days'].median():,.0f}",
                    "sub": f"median customer for {self.table['tenure_days'].median():,.0f} days",
                },
                {
                    "label": "Median orders",
                    "value": f"{self.table['frequency'].median():g}",
                    "sub": f"median spend {self.money(self.table['monetary'].median())}",
                },
            ]
        )
        labels = [H.esc(v) for v in s["segment"]]
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_bar(x=labels, y=s["customers"], name="customers", marker_color="#0969da")
        fig.add_scatter(
            x=labels, y=s["revenue_share_pct"], name="share of revenue (%)", mode="markers",
            marker=dict(size=11, color="#1a7f37"), secondary_y=True,
        )
        fig.update_layout(
            title="Customers and share of revenue by segment", height=400, template="plotly_white",
            margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.25),
        )
        fig.update_yaxes(title_text="customers", secondary_y=False)
        fig.update_yaxes(title_text="% of revenue", secondary_y=True, showgrid=False)
        table = H.table(
            s[["segment", "customers", "share_pct", "revenue", "revenue_share_pct", "recency_days_median", "frequency_median", "monetary_median"]],
            formats={
                "customers": H.fmt_int, "share_pct": H.fmt_pct, "revenue": H.fmt_exact_money,
                "revenue_share_pct": H.fmt_pct, "recency_days_median": lambda v: "–" if pd.isna(v) else f"{v:,.0f}",
                "frequency_median": lambda v: "–" if pd.isna(v) else f"{v:g}", "monetary_median": H.fmt_exact_money,
            },
            labels={
                "share_pct": "share", "revenue_share_pct": "revenue share", "recency_days_median": "median days since last",
                "frequency_median": "median orders", "monetary_median": "median revenue",
            },
        )
        return head + cards + H.chart(fig) + table + figures

    def heat_map(self) -> H.Block:
        head = H.heading(
            "R x F heat map", 2,
            "Customers and their net revenue by recency score (rows, 5 = most recent) and frequency score (columns, 5 = most orders).",
        )
        if self.table.empty:
            return head + H.note("No customers.")
        fig = make_subplots(rows=1, cols=2, subplot_titles=("customers", "net revenue"), horizontal_spacing=0.12)
        for i, what in enumerate(("customers", "revenue"), start=1):
            grid = score_matrix(self.table, what)
            fig.add_trace(
                go.Heatmap(
                    z=grid.to_numpy(), x=[f"F{c}" for c in grid.columns], y=[f"R{r}" for r in grid.index],
                    colorscale="Blues", showscale=False, texttemplate="%{z:,.0f}",
                    hovertemplate="%{y} %{x}: %{z:,.0f}<extra></extra>",
                ),
                row=1, col=i,
            )
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(height=380, template="plotly_white", margin=dict(l=10, r=10, t=50, b=10))
        return head + H.chart(fig)

    def win_back(self) -> H.Block:
        """The most valuable customers of the [segments] win_back segments (names of the scope's own customers)."""
        wanted = list(self.settings.segments.win_back)
        head = H.heading(
            "Customers to win back", 2,
            f"The most valuable customers in {', '.join(wanted)} (by net revenue; [segments] win_back in salesml.toml).",
        )
        df = self.table[self.table["segment"].isin(wanted)].sort_values(["monetary", "customer_id"], ascending=[False, True])
        if df.empty:
            return head + H.note("Nobody in these segments.")
        df = df.head(self.settings.report.top_n).assign(name=lambda d: d["customer_id"].map(self.names))
        cols = ["customer_id", "name", "segment", "last_purchase", "recency_days", "frequency", "monetary"]
        formats = {"recency_days": H.fmt_int, "frequency": H.fmt_int, "monetary": H.fmt_exact_money}
        if self.clv is not None:
            df = df.merge(self.clv[["customer_id", "p_alive", "clv"]], on="customer_id", how="left")
            cols += ["p_alive", "clv"]
            formats.update(p_alive=lambda v: H.fmt_pct(v * 100) if pd.notna(v) else "–", clv=H.fmt_exact_money)
        df = df.assign(last_purchase=df["last_purchase"].dt.strftime("%Y-%m-%d"))
        return head + H.table(
            df[cols], formats=formats,
            labels={"customer_id": "customer", "recency_days": "days since last", "frequency": "orders",
                    "monetary": "net revenue", "p_alive": "P(alive)", "clv": "CLV"},
        )

    def clusters(self) -> H.Block:
        seg = self.settings.segments
        head = H.heading(
            "Clusters", 2,
            f"k-means on log1p and standardised recency, frequency and net revenue of the whole company's customers; "
            f"the number of clusters ({seg.k_range[0]}-{seg.k_range[1]}) with the best silhouette wins"
            + ("." if self.scope.level == "company" else "; this scope's customers are shown in the cluster nearest to them."),
        )
        if self.segmenter is None:
            return head + H.note(self.cluster_note)
        if self.profiles.empty:
            return head + H.note("No customers.")
        p = self.profiles
        sil = self.segmenter.silhouette_scores_
        tried = ", ".join(f"k={k}: {v:.2f}" for k, v in sil.items())
        labels = [H.esc(f"{c}: {lab}") for c, lab in zip(p["cluster"], p["label"], strict=True)]
        fig = go.Figure(
            go.Scatter(
                x=p["recency_days_median"], y=p["frequency_median"], mode="markers+text", text=labels,
                textposition="top center",
                marker=dict(size=np.sqrt(p["customers"].astype(float)) * 4 + 6, color=p["revenue_share_pct"],
                            colorscale="Viridis", showscale=True, colorbar=dict(title="% revenue")),
                customdata=np.stack([p["customers"], p["monetary_median"]], axis=-1),
                hovertemplate="%{text}<br>customers %{customdata[0]:,}<br>median days since last %{x:,.0f}"
                "<br>median orders %{y:g}<br>median revenue %{customdata[1]:,.0f}<extra></extra>",
            )
        )
        fig.update_layout(
            title="Clusters: median days since last purchase vs median orders (size = customers)",
            height=420, template="plotly_white", margin=dict(l=10, r=10, t=50, b=10),
            xaxis_title="median days since last purchase", yaxis_title="median orders",
        )
        table = H.table(
            p[["cluster", "label", "customers", "share_pct", "revenue_share_pct", "recency_days_mean", "recency_days_median",
               "frequency_mean", "frequency_median", "monetary_mean", "monetary_median"]],
            formats={
                "cluster": H.fmt_int, "customers": H.fmt_int, "share_pct": H.fmt_pct, "revenue_share_pct": H.fmt_pct,
                "recency_days_mean": lambda v: f"{v:,.0f}", "recency_days_median": lambda v: f"{v:,.0f}",
                "frequency_mean": lambda v: f"{v:,.1f}", "frequency_median": lambda v: f"{v:g}",
                "monetary_mean": H.fmt_exact_money, "monetary_median": H.fmt_exact_money,
            },
            labels={
                "share_pct": "share", "revenue_share_pct": "revenue share", "recency_days_mean": "mean days since last",
                "recency_days_median": "median days since last", "frequency_mean": "mean orders",
                "frequency_median": "median orders", "monetary_mean": "mean revenue", "monetary_median": "median revenue",
            },
        )
        return head + H.note(
            f"{self.segmenter.k_} clusters; silhouette {tried}. Labels describe the mean R, F and M scores of the "
            "customers shown."
        ) + H.chart(fig) + table

    def migration_block(self) -> H.Block:
        m = self.migration
        head = H.heading(
            f"Migration since {self.before_date}", 2,
            f"Customers by segment on {self.before_date} (rows) and on {self.as_of} (columns); "
            f"{NEW} = first purchase after {self.before_date}"
            + (f"; {GONE} = no longer a customer of this scope" if GONE in m.columns else "") + ".",
        )
        if not int(m.to_numpy().sum()):
            return head + H.note("No customers at either date.")
        stayed = sum(int(m.loc[s, s]) for s in m.index if s in m.columns)
        before_n = int(m.drop(index=NEW).to_numpy().sum())
        left = [
            f"on {day}: {lo.lines:,} anonymous order line{'s' if lo.lines != 1 else ''} ({self.exact_money(lo.revenue)})"
            for day, lo in ((self.before_date, self.anonymous_before), (self.as_of, self.anonymous)) if lo
        ]
        anonymous = f" Not in either table (walk-in / guest sales) {'; '.join(left)}." if left else ""
        fig = go.Figure(
            go.Heatmap(
                z=m.to_numpy(), x=[H.esc(c) for c in m.columns], y=[H.esc(r) for r in m.index], colorscale="Blues",
                texttemplate="%{z}", hovertemplate="from %{y} to %{x}: %{z}<extra></extra>", showscale=False,
            )
        )
        fig.update_yaxes(autorange="reversed", title_text=f"segment on {self.before_date}")
        fig.update_xaxes(title_text=f"segment on {self.as_of}", tickangle=-35)
        fig.update_layout(height=max(360, 30 * len(m) + 160), template="plotly_white", margin=dict(l=10, r=10, t=30, b=10))
        shown = m.reset_index().rename(columns={"from": "from \\ to"})
        share = f" ({stayed / before_n * 100:.0f}%)" if before_n else ""
        return head + H.note(
            f"{stayed:,} of {before_n:,} customers{share} stayed in their segment; "
            f"{int(m.loc[NEW].sum()):,} new customers.{anonymous}"
        ) + H.chart(fig) + H.table(shown, formats={c: H.fmt_int for c in m.columns})

    def clv_block(self) -> H.Block:
        horizon = getattr(self.settings.clv, "horizon_days", None)
        head = H.heading(
            "Customer lifetime value", 2,
            "BG/NBD purchases and Gamma-Gamma spend ([clv] in salesml.toml)"
            + (f": discounted value of the next {horizon} days." if horizon else "."),
        )
        if self.clv is None:
            return head + H.note(self.clv_note)
        if self.clv.empty:
            return head + H.note("No customers to value.")
        values = self.clv["clv"].astype(float)
        fig = go.Figure(go.Histogram(x=values, nbinsx=40, marker_color="#0969da"))
        fig.update_layout(
            title="Distribution of customer lifetime value", height=340, template="plotly_white",
            margin=dict(l=10, r=10, t=50, b=10), xaxis_title=self.currency or "value", yaxis_title="customers",
        )
        by_seg = self.table[["customer_id", "segment"]].merge(self.clv[["customer_id", "clv", "p_alive"]], on="customer_id", how="inner")
        order = list(self.summary["segment"])
        agg = (
            by_seg.groupby("segment")
            .agg(customers=("clv", "size"), clv_total=("clv", "sum"), clv_mean=("clv", "mean"),
                 clv_median=("clv", "median"), p_alive_mean=("p_alive", "mean"))
            .reindex([s for s in order if s in set(by_seg["segment"])])
            .reset_index()
        )
        cards = H.cards(
            [
                {"label": "Total CLV", "value": self.money(values.sum()), "sub": f"{len(values):,} customers"},
                {"label": "Median CLV", "value": self.money(values.median()), "sub": f"mean {self.money(values.mean())}"},
                {"label": "Top 10% of customers", "value": H.fmt_pct(values.nlargest(max(1, len(values) // 10)).sum() / values.sum() * 100)
                 if values.sum() else "–", "sub": "of the total CLV"},
            ]
        )
        block = head + cards + H.chart(fig) + H.table(
            agg,
            formats={"customers": H.fmt_int, "clv_total": H.fmt_exact_money, "clv_mean": H.fmt_exact_money,
                     "clv_median": H.fmt_exact_money, "p_alive_mean": lambda v: H.fmt_pct(v * 100)},
            labels={"clv_total": "total CLV", "clv_mean": "mean CLV", "clv_median": "median CLV", "p_alive_mean": "mean P(alive)"},
        )
        return block + H.note(self.clv_note) if self.clv_note else block

    def notes(self) -> H.Block:
        fm = "the mean of F and M, rounded half up" if self.settings.segments.fm_score == "mean" else "F"
        return H.heading("How these figures are made", 3) + H.note(
            f"As of {self.as_of}: a purchase is an order whose ledger entries (sales, returns on the order they reverse, "
            "corrections) known by that day add up to more than zero. Recency = days since the last purchase, "
            "frequency = purchases, monetary = net revenue, returns netted"
            + ("" if self.scope.level == "company" else ", of the sales credited to this scope")
            + ". Anonymous order lines (no customer, or a source's anonymous_customer id such as a walk-in / guest "
            "code) belong to nobody and are left out of every customer figure here. "
            "Scores 1-5 are quintiles of the ranks among the whole company's customers (tied customers share a "
            "score). The segment is the first rule of the [segments] "
            f"map that holds the R score and the FM score ({fm}). Generated by salesml from "
            f"{self.settings.warehouse_path.name}."
        )
