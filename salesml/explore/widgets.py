"""The workbench's ipywidgets view: filters above, KPI tiles, trend, breakdown, table and tabs below.

:func:`workbench` builds a :class:`WorkbenchView` over a :class:`~salesml.explore.controller.Workbench`
and returns its widget. Every change of a filter goes to the controller once, then the
widgets' values are updated in place: HTML widgets' ``value`` for tiles, tables and
messages, the FigureWidgets' data inside ``batch_update`` (no Output widgets, no
``clear_output``: headless executions of widget notebooks hung on it). An error in a
callback is shown in the message widget and the stale views are cleared; no traceback
reaches the page. CSS classes (``salesml-f-<filter>``, ``salesml-kpis``, ...) are hooks for
the browser test.
"""

from __future__ import annotations

import html
from copy import deepcopy

import ipywidgets as W
import plotly.graph_objects as go

from salesml.errors import SalesmlError
from salesml.explore.controller import COMPARES, GRAINS, MEASURES, Workbench
from salesml.reports.html import TEMPLATE, style
from salesml.reports.lang import add_text

add_text(
    {
        "wb_title": ("Sales workbench", "销售工作台"),
        "wb_intro": ("Filter by dates, region, team, rep, category, product, segment and channel; pick a measure, a grain and "
                     "what to compare with. The tiles, the trend, the breakdown and the table follow; click a bar to drill into "
                     "it and the breadcrumbs to go back. The forecast and customer tabs show the latest stored forecast and churn "
                     "scores for the selection; export writes the table to Excel or CSV.",
                     "按日期、区域、团队、销售代表、品类、产品、客户分群和渠道筛选；选择指标、粒度和对比对象。指标卡、趋势、分解图和表格随之更新；"
                     "点击柱形可下钻，点击导航可返回。预测和客户页签显示所选范围最新保存的预测和流失风险评分；导出可将表格存为 Excel 或 CSV。"),
        "wb_from": ("From", "开始"),
        "wb_to": ("To", "结束"),
        "wb_measure": ("Measure", "指标"),
        "wb_grain": ("Grain", "粒度"),
        "wb_compare": ("Compare", "对比"),
        "wb_compare_none": ("none", "无"),
        "wb_tab_overview": ("Overview", "概览"),
        "wb_tab_forecast": ("Forecast", "预测"),
        "wb_tab_customers": ("Customers", "客户"),
    }
)

#: the charts' look, set once when a chart is made: the controller's figures carry no
#: template, so an update does not pay plotly's template validation (~35 ms a chart)
_LAYOUT = {"template": TEMPLATE, "height": 340, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
           "legend": {"orientation": "h", "y": -0.12}}


class WorkbenchView:
    """The widgets of one workbench and their callbacks (testable without a browser)."""

    def __init__(self, wb: Workbench):
        self.wb = wb
        self._syncing = False
        L, sel = wb.L, wb.selection
        self.start = W.DatePicker(value=sel.start, description=L.t("wb_from"))
        self.end = W.DatePicker(value=sel.end, description=L.t("wb_to"))
        self.region = W.Dropdown(description=L.label("region"))
        self.team = W.Dropdown(description=L.label("team"))
        self.rep = W.Dropdown(description=L.label("rep_id"))
        self.category = W.Dropdown(description=L.label("category"))
        self.product = W.Combobox(description=L.label("product_id"), placeholder=L.t("wb_any"), ensure_option=True)
        self.segment = W.Dropdown(description=L.label("segment"))
        self.channel = W.Dropdown(description=L.label("channel"))
        self.measure = W.Dropdown(options=[(wb.label(m), m) for m in MEASURES], value=sel.measure, description=L.t("wb_measure"))
        self.grain = W.ToggleButtons(options=[(L.t(f"wb_grain_{g}"), g) for g in GRAINS], value=sel.grain, description=L.t("wb_grain"))
        self.compare = W.Dropdown(options=[(L.t("wb_compare_none"), "none")] + [(L.t(f"wb_compare_{c}"), c) for c in COMPARES if c != "none"],
                                  value=sel.compare, description=L.t("wb_compare"))
        self.filters = {"start": self.start, "end": self.end, "region": self.region, "team": self.team, "rep": self.rep,
                        "category": self.category, "product": self.product, "segment": self.segment, "channel": self.channel,
                        "measure": self.measure, "grain": self.grain, "compare": self.compare}
        for name, w in self.filters.items():
            w.add_class(f"salesml-f-{name}")
        self.message = W.HTML().add_class("salesml-message")
        self.kpis = W.HTML().add_class("salesml-kpis")
        self.trend = go.FigureWidget(go.Figure(go.Scatter(x=[], y=[]), layout=_LAYOUT))
        self.trend.add_scatter(x=[], y=[], mode="lines", line={"dash": "dash"})
        self.trend.add_class("salesml-trend")
        self.breakdown = go.FigureWidget(go.Figure(go.Bar(x=[], y=[]), layout=_LAYOUT))
        self.breakdown.add_class("salesml-breakdown")
        self.breakdown.data[0].on_click(self._on_bar)
        self.table = W.HTML().add_class("salesml-table")
        self.crumbs = W.HBox().add_class("salesml-crumbs")
        self.export_xlsx = W.Button(description="Excel", icon="download")
        self.export_csv = W.Button(description="CSV", icon="download")
        self.export_note = W.HTML()
        self.export_xlsx.on_click(lambda _b: self._export("xlsx"))
        self.export_csv.on_click(lambda _b: self._export("csv"))
        self.export = W.HBox([self.export_xlsx, self.export_csv, self.export_note]).add_class("salesml-export")
        # the band's edges, the forecast and the target: traces updated in place (see _keep_state)
        self.forecast_fig = go.FigureWidget(go.Figure([go.Scatter(x=[], y=[], visible=False) for _ in range(4)], layout=_LAYOUT))
        self.forecast_note = W.HTML()
        self.customers = W.HTML()
        overview = W.VBox([self.kpis, self.trend, self.breakdown, self.crumbs, self.table, self.export])
        self.tabs = W.Tab(children=[overview, W.VBox([self.forecast_note, self.forecast_fig]), self.customers])
        for i, tab in enumerate(("overview", "forecast", "customers")):
            self.tabs.set_title(i, L.t(f"wb_tab_{tab}"))
        self.tabs.add_class("salesml-tabs")
        self.tabs.observe(lambda _c: self._guard(self._render_tab), names="selected_index")
        for name, w in self.filters.items():
            w.observe(lambda change, n=name: self._changed(n, change["new"]), names="value")
        box = W.VBox([W.HBox([self.start, self.end]), W.HBox([self.region, self.team, self.rep]),
                      W.HBox([self.category, self.product]), W.HBox([self.segment, self.channel]),
                      W.HBox([self.measure, self.compare]), self.grain])
        head = W.HTML(f"<h2>{html.escape(L.t('wb_title'))}</h2><p class='salesml-note'>{html.escape(L.t('wb_intro'))}</p>")
        self.widget = W.VBox([W.HTML(style().html), head, box, self.message, self.tabs])
        self._guard(self.render)

    # ------------------------------------------------------------------ callbacks

    def _guard(self, fn) -> None:
        """Run a callback; a salesml error shows in the message and clears the views."""
        try:
            fn()
        except (SalesmlError, ValueError) as e:
            self.show_error(str(e))

    def show_error(self, text: str) -> None:
        self.message.value = f"<span style='color:#cf222e'>{html.escape(text)}</span>"
        self.kpis.value = ""
        self.table.value = ""
        with self.trend.batch_update():
            for t in self.trend.data:
                t.x, t.y = [], []
        with self.breakdown.batch_update():
            self.breakdown.data[0].x, self.breakdown.data[0].y = [], []
        _keep_state(self.trend, self.breakdown)

    def _changed(self, name: str, value) -> None:
        if self._syncing:
            return
        if name == "product":
            value = self._products.get(value, "") if value else ""
        self._guard(lambda: (self.wb.set(**{name: value}), self.render()))

    def _on_bar(self, _trace, points, _selector) -> None:
        if not points.point_inds:
            return
        member = self._bar_members[points.point_inds[0]]
        self._guard(lambda: (self.wb.drill(member), self.render()))

    def _back(self, to: int) -> None:
        self._guard(lambda: (self.wb.back(to), self.render()))

    def _export(self, fmt: str) -> None:
        try:
            path = self.wb.export(fmt)
        except SalesmlError as e:
            self.export_note.value = f"<span style='color:#cf222e'>{html.escape(str(e))}</span>"
        else:
            self.export_note.value = f"<span class='salesml-note'>{html.escape(str(path))}</span>"

    # ------------------------------------------------------------------ rendering

    def _sync_filters(self) -> None:
        """The filters' options and values from the controller (without firing callbacks)."""
        self._syncing = True
        try:
            sel, opts = self.wb.selection, self.wb.filter_options()
            for name in ("region", "team", "rep", "category", "segment", "channel"):
                w = self.filters[name]
                if list(w.options) != opts[name]:
                    w.options = opts[name]
                w.value = getattr(sel, name)
            self._products = {label: value for label, value in opts["product"] if value}
            self.product.options = list(self._products)
            self.product.value = sel.product
            for name in ("start", "end", "measure", "grain", "compare"):
                self.filters[name].value = getattr(sel, name)
        finally:
            self._syncing = False

    def render(self) -> None:
        wb = self.wb
        self._sync_filters()
        self.message.value = ""
        self.kpis.value = wb.kpis_html()
        trend = wb.trend_figure()
        with self.trend.batch_update():
            while len(self.trend.data) < len(trend.data):
                self.trend.add_scatter(x=[], y=[])
            for i, t in enumerate(self.trend.data):
                src = trend.data[i] if i < len(trend.data) else None
                t.x = src.x if src else []
                t.y = src.y if src else []
                t.name = src.name if src else ""
                t.visible = src is not None
                if src is not None:
                    t.line = src.line
                    t.mode = src.mode
            self.trend.layout.title = trend.layout.title
            # plotly names months in English: a Chinese page shows them as numbers
            self.trend.layout.xaxis.tickformat = None if wb.L.code == "en" else "%Y-%m" if wb.selection.grain == "month" else "%m-%d"
        bars = wb.breakdown()
        fig = wb.breakdown_figure()
        self._bar_members = list(bars["member"])
        with self.breakdown.batch_update():
            self.breakdown.data[0].x = fig.data[0].x
            self.breakdown.data[0].y = fig.data[0].y
            self.breakdown.data[0].marker = fig.data[0].marker
            self.breakdown.layout.title = fig.layout.title
        self.table.value = wb.table_html()
        buttons = []
        for i, label in enumerate(wb.crumbs):
            b = W.Button(description=label, layout=W.Layout(width="auto"), disabled=i == len(wb.crumbs) - 1)
            b.on_click(lambda _b, to=i: self._back(to))
            buttons.append(b)
        self.crumbs.children = buttons
        self._render_tab()
        _keep_state(self.trend, self.breakdown)

    def _render_tab(self) -> None:
        """The forecast or customer tab, when it is the one shown."""
        wb = self.wb
        if self.tabs.selected_index == 1:
            self.forecast_note.value = html.escape(wb.forecast_note())
            fig = wb.forecast_figure()
            with self.forecast_fig.batch_update():
                for i, t in enumerate(self.forecast_fig.data):
                    if i < len(fig.data):
                        t.update({k: v for k, v in fig.data[i].to_plotly_json().items() if k != "type"}, visible=True)
                    else:
                        t.update(x=[], y=[], visible=False)
                self.forecast_fig.layout.title = fig.layout.title
            _keep_state(self.forecast_fig)
        elif self.tabs.selected_index == 2:
            self.customers.value = wb.customers_html()


def _keep_state(*figures: go.FigureWidget) -> None:
    """Make a chart's synced state its current figure. A FigureWidget sends each update to the
    page as a change (restyle, relayout), and takes its whole figure into its state only when
    it is displayed on its own; inside a box, a page that opens after an update (Voilà's
    first render, a notebook reopened) would draw the chart as it was made: empty."""
    for fig in figures:
        fig._widget_layout = deepcopy(fig._layout_obj._props)
        fig._widget_data = deepcopy(fig._data)


def workbench(config_path: str = "", warehouse: str = "", scope: str = "company", lang: str = "en") -> W.Widget:
    """The workbench of a scope as a widget ("" config = salesml.toml / $SALESML_CONFIG; ""
    warehouse = the config's / $SALESML_WAREHOUSE). An error opening it is shown as a message."""
    try:
        return WorkbenchView(Workbench.from_paths(config_path, warehouse, scope, lang)).widget
    except SalesmlError as e:
        return W.HTML(f"<span style='color:#cf222e'>{html.escape(str(e))}</span>").add_class("salesml-message")
