"""Interactive exploration in JupyterLab: ipywidgets over the performance figures.

``performance_explorer()`` returns a widget: pick a month, a level, a scope and a measure;
the table and the chart below follow. Each change opens the warehouse read-only for the
one query and closes it again, so an open notebook never blocks an ingest or a scheduled
report.
"""

from __future__ import annotations

import html

import ipywidgets as W
import pandas as pd
import plotly.graph_objects as go
from IPython.display import display

from salesml import warehouse
from salesml.accounting import performance as perf
from salesml.periods import data_periods, latest_complete_period, period_range
from salesml.reports.performance import report_settings
from salesml.scope import ScopeError

MEASURES = {
    "revenue": "Revenue (net)",
    "margin": "Gross margin",
    "margin_pct": "Margin %",
    "attainment_pct": "Attainment %",
    "growth_mom_pct": "Growth vs last month %",
    "growth_yoy_pct": "Growth vs last year %",
    "orders": "Orders",
    "customers": "Customers",
    "aov": "Average order value",
}

_LABEL = {"rep": "rep_id", "team": "team", "region": "region", "company": "period"}


class PerformanceExplorer:
    """The state and callbacks behind :func:`performance_explorer` (testable without a browser)."""

    def __init__(self, config_path: str = "", warehouse_path: str = ""):
        self.settings = report_settings(config_path, warehouse_path)
        with self._connect() as con:
            first, last = data_periods(con)
            latest = latest_complete_period(con)
            regions = [r[0] for r in con.execute("SELECT DISTINCT region FROM reps ORDER BY 1").fetchall()]
            teams = [r[0] for r in con.execute("SELECT DISTINCT team FROM reps ORDER BY 1").fetchall()]
        periods = period_range(first, last)
        self.period = W.Dropdown(options=periods[::-1], value=latest, description="Month")
        self.level = W.ToggleButtons(options=list(perf.LEVELS), value="team", description="Level")
        scopes = ["company"] + [f"region:{r}" for r in regions] + [f"team:{t}" for t in teams]
        self.scope = W.Dropdown(options=scopes, value="company", description="Scope")
        self.measure = W.Dropdown(options=[(v, k) for k, v in MEASURES.items()], value="revenue", description="Measure")
        self.message = W.HTML()
        self.table_out = W.Output()
        self.chart_out = W.Output()
        self.frame = pd.DataFrame()
        for w in (self.period, self.level, self.scope, self.measure):
            w.observe(lambda _change: self.refresh(), names="value")
        self.widget = W.VBox(
            [W.HBox([self.period, self.scope]), self.level, self.measure, self.message, self.chart_out, self.table_out]
        )
        self.refresh()

    def _connect(self):
        return warehouse.open(self.settings, read_only=True)

    def query(self) -> pd.DataFrame:
        with self._connect() as con:
            return perf.performance(
                con, self.period.value, self.level.value, self.scope.value, self.settings.performance, self.settings.anonymous_customer_ids
            )

    def refresh(self) -> None:
        try:
            self.frame = self.query()
        except ScopeError as e:  # e.g. a level finer than the scope allows
            self.frame = pd.DataFrame()
            self.message.value = f"<span style='color:#cf222e'>{html.escape(str(e))}</span>"
        else:
            self.message.value = f"{len(self.frame)} row(s), {html.escape(self.period.value)}"
        self.table_out.clear_output(wait=True)
        self.chart_out.clear_output(wait=True)
        if self.frame.empty:
            return
        with self.table_out:
            display(self.frame)
        with self.chart_out:
            display(self.figure())

    def figure(self) -> go.Figure:
        key = _LABEL[self.level.value]
        df = self.frame.sort_values(self.measure.value, ascending=False, na_position="last")
        labels = df[key].astype(str)
        if self.level.value == "rep":
            labels = labels + " " + df["rep_name"].fillna("").astype(str) + " (" + df["team"].astype(str) + ")"
        fig = go.Figure(go.Bar(x=[html.escape(v) for v in labels], y=df[self.measure.value]))
        fig.update_layout(
            title=f"{MEASURES[self.measure.value]} by {self.level.value}, {self.period.value} ({self.scope.value})",
            template="plotly_white",
            height=420,
            margin=dict(l=10, r=10, t=50, b=10),
        )
        return fig


def performance_explorer(config_path: str = "", warehouse: str = "") -> W.VBox:
    """A widget to browse performance by month, level, scope and measure."""
    return PerformanceExplorer(config_path, warehouse).widget
