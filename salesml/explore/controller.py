"""The workbench's state and figures, without widgets: :class:`Workbench`.

A :class:`Workbench` holds a :class:`Selection` (date range, row filters, measure, grain,
comparison) for one scope and answers with plotly figures, HTML tables formatted like the
reports (:mod:`salesml.reports.lang`, :func:`salesml.reports.html.view`) and the plain
DataFrame behind the table, for export.

Reads: when it opens, the scope's ledger entries are copied into an in-memory DuckDB (the
warehouse is opened read-only for that and closed again, so an open workbench never blocks
a writer), with the filter options, the targets and the latest stored forecast. A change of
the row filters (dates, region, team, rep, category, product, segment, channel) then costs
one query on that copy (:func:`salesml.explore.query.aggregate`), kept in a small cache by
the filters; a change of measure, grain or comparison is worked out from the cached frame
in pandas with no query (``queries`` counts them). The customer tab reads the warehouse
(segments, churn scores) when asked for.

Measures (as ``salesml perf`` defines them, on the same ledger): revenue (net), margin
(revenue - cost where a cost is known), orders (distinct orders with a sale), customers
(distinct identified customers with a sale), AOV (revenue / orders) and return rate
(returns / gross sales). A bar of the breakdown counts the orders and customers of its
member; a customer who buys in two members counts in both, so bars of counts may add up to
more than the total.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go

from salesml import registry, warehouse
from salesml.accounting.performance import main_currency
from salesml.config import EXPLORE_COMPARES, EXPLORE_GRAINS, Settings, notebook_settings
from salesml.customers.rfm import rfm
from salesml.customers.scores import stored_scores
from salesml.errors import SalesmlError
from salesml.explore import query as q
from salesml.forecast import KIND as FORECAST_KIND
from salesml.io.export import export_frame
from salesml.reports.html import COLORS, cards, esc, note, view
from salesml.reports.lang import Lang, add_columns, add_text
from salesml.scope import Scope, check_scope, parse_scope

#: measures: key -> (column kind for formatting)
MEASURES = ("revenue", "margin", "orders", "customers", "aov", "return_rate")
GRAINS = EXPLORE_GRAINS
COMPARES = EXPLORE_COMPARES
#: the hierarchy from the widest to the narrowest
LEVELS = ("company", "region", "team", "rep")

add_columns({"member": ("text", "Member", "成员"), "risk": ("ratio", "Churn risk", "流失风险"),
             "owner_rep_id": ("text", "Owner", "负责人"), "owner_name": ("text", "Owner's name", "负责人姓名")})
add_text(
    {
        "wb_measure_revenue": ("Revenue (net)", "净收入"),
        "wb_measure_margin": ("Gross margin", "毛利"),
        "wb_measure_orders": ("Orders", "订单数"),
        "wb_measure_customers": ("Customers", "客户数"),
        "wb_measure_aov": ("Average order", "客单价"),
        "wb_measure_return_rate": ("Return rate", "退货率"),
        "wb_compare_previous": ("previous period", "上期"),
        "wb_compare_last_year": ("last year", "去年同期"),
        "wb_compare_target": ("target", "目标"),
        "wb_compare_forecast": ("forecast", "预测"),
        "wb_vs": ("{delta} vs {what}", "较{what} {delta}"),
        "wb_attainment": ("{pct} of target", "目标达成 {pct}"),
        "wb_all": ("All", "全部"),
        "wb_any": ("all", "全部"),
        "wb_others": ("others ({n})", "其他（{n}）"),
        "wb_no_target": ("targets are set for revenue of regions, teams and reps: no target for this selection",
                         "目标只针对区域、团队和销售代表的收入：此选择没有目标"),
        "wb_no_forecast": ("no forecast stored: make one with `salesml train forecast`",
                           "没有已存的预测：用 `salesml train forecast` 生成"),
        "wb_forecast_other_level": ("the latest forecast (version {version}) is by {level}: it does not cover this selection; "
                                    "make one that does with `salesml train forecast --level LEVEL`",
                                    "最新预测（版本 {version}）按{level}：不覆盖此选择；用 `salesml train forecast --level LEVEL` 生成"),
        "wb_forecast_revenue": ("forecasts are of revenue", "预测仅针对收入"),
        "wb_forecast_title": ("Forecast vs target (version {version}, {level}% interval)", "预测与目标（版本 {version}，{level}% 区间）"),
        "wb_actual": ("actual", "实际"),
        "wb_interval": ("interval", "区间"),
        "wb_no_churn": ("no churn scores stored: make them with `salesml score churn`",
                        "没有已存的流失评分：用 `salesml score churn` 生成"),
        "wb_churn_title": ("Customers at risk of churning (scored as of {as_of})", "有流失风险的客户（评分日 {as_of}）"),
        "wb_segments_title": ("Segments of the selection's customers as of {day}", "所选客户的分群（截至 {day}）"),
        "wb_no_customers": ("no customers with a sale in this selection", "此选择内没有有销售的客户"),
        "wb_by": ("{measure} by {dimension}", "{measure}（按{dimension}）"),
        "wb_trend": ("{measure} per {grain}", "{measure}（每{grain}）"),
        "wb_grain_day": ("day", "日"),
        "wb_grain_week": ("week", "周"),
        "wb_grain_month": ("month", "月"),
        "wb_no_data": ("no sales in this selection", "此选择内没有销售"),
    }
)


class ExploreError(SalesmlError, ValueError):
    """The workbench cannot do what was asked (a date, a filter value, a measure); the message says why."""


@dataclass(frozen=True)
class Selection:
    """What the workbench shows: the row filters ("" = all), measure, grain and comparison."""

    start: date
    end: date
    region: str = ""
    team: str = ""
    rep: str = ""
    category: str = ""
    product: str = ""
    segment: str = ""
    channel: str = ""
    measure: str = "revenue"
    grain: str = "month"
    compare: str = "previous"

    @property
    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in q.FILTERS}

    @property
    def row_key(self) -> tuple:
        """What the query depends on (dates and row filters; the breakdown follows from them)."""
        return (self.start, self.end, *(getattr(self, n) for n in q.FILTERS))


@dataclass(frozen=True)
class Options:
    """The filter values offered, all within the scope."""

    hierarchy: pd.DataFrame  # region, team, rep, rep_name
    products: pd.DataFrame  # category, product, product_name
    segments: tuple[str, ...]
    channels: tuple[str, ...]


def _measure(frame: pd.DataFrame, measure: str) -> pd.Series:
    """A measure from the sums of a frame (one row per key); NaN where it has no value."""
    if frame.empty:
        return pd.Series(dtype=float)
    if measure in ("revenue", "margin", "orders", "customers"):
        return frame[measure].astype(float)
    if measure == "aov":
        return frame["revenue"] / frame["orders"].where(frame["orders"] > 0)
    return frame["returns"] / frame["gross_sales"].where(frame["gross_sales"] > 0)


class Workbench:
    """Filter state, figures and tables of the workbench for one ``scope`` (see the module docs).

    ``queries`` counts the queries run on the entries (one per new row selection);
    ``warehouse_reads`` the times the warehouse was opened."""

    def __init__(self, settings: Settings, scope: str | Scope = "company", lang: str = "en"):
        self.settings = settings
        self.explore = settings.explore
        self.scope = parse_scope(scope)
        self.queries = 0
        self.warehouse_reads = 0
        self._cache: OrderedDict[tuple, dict] = OrderedDict()
        self._rfm: dict[date, pd.DataFrame] = {}
        self._crumbs: list[tuple[str, Selection]] = []
        perf = settings.performance
        with self._read() as con:
            check_scope(con, self.scope)
            arrow = q.entries(con, self.scope, perf, settings.anonymous_customer_ids)
            hierarchy = q.hierarchy(con, self.scope, perf)
            first, last = q.day_range(con)
            self.targets = q.targets(con, self.scope, perf)
            currency = main_currency(con)
        self.L = Lang(lang, currency, settings.report.zh_wan_units)
        self._mem = duckdb.connect(":memory:", config={"threads": max(1, settings.warehouse.threads or 2)})
        self._mem.register("_arrow", arrow)
        self._mem.execute(f"CREATE TABLE {q.ENTRIES} AS SELECT * FROM _arrow")
        self._mem.unregister("_arrow")
        products = self._mem.execute(
            f"SELECT DISTINCT category, product FROM {q.ENTRIES} ORDER BY 1, 2").df()
        self.options = Options(
            hierarchy=hierarchy,
            products=products,
            segments=tuple(r[0] for r in self._mem.execute(f"SELECT DISTINCT segment FROM {q.ENTRIES} ORDER BY 1").fetchall()),
            channels=tuple(r[0] for r in self._mem.execute(f"SELECT DISTINCT channel FROM {q.ENTRIES} ORDER BY 1").fetchall()),
        )
        self.first_day, self.last_day = first, last
        self.forecast, self.forecast_manifest = self._load_forecast()
        end = self._default_end(last)
        start = _months_back(end, self.explore.default_months)
        if first is not None:
            start = max(start, first)
        self.selection = Selection(start, end, grain=self.explore.default_grain, compare=self.explore.default_compare)
        self._crumbs = [(self.L.t("wb_all"), self.selection)]

    @classmethod
    def from_paths(cls, config_path: str = "", warehouse_path: str = "", scope: str = "company", lang: str = "en") -> Workbench:
        """The workbench of a notebook's parameters: "" = salesml.toml / $SALESML_CONFIG and its warehouse."""
        return cls(notebook_settings(config_path, warehouse_path), scope, lang)

    # ------------------------------------------------------------------ reading

    def _read(self):
        self.warehouse_reads += 1
        return warehouse.open(self.settings, read_only=True)

    def close(self) -> None:
        self._mem.close()

    def _default_end(self, last: date | None) -> date:
        if last is None:
            return date.today()
        nxt = last + timedelta(days=1)
        return last if nxt.month != last.month else last.replace(day=1) - timedelta(days=1)

    def _load_forecast(self) -> tuple[pd.DataFrame, dict]:
        """The latest stored forecast's rows within the scope (none when there is no forecast, or
        it is by a level wider than the scope: a team must not see its region's figures)."""
        try:
            folder = registry.resolve(self.settings, FORECAST_KIND)
            manifest = registry.manifest(self.settings, FORECAST_KIND, folder.name)
            df = pd.read_csv(folder / "forecast.csv", dtype={"unique_id": str}, parse_dates=["ds"])
        except (registry.RegistryError, OSError, ValueError):
            return pd.DataFrame(columns=["unique_id", "ds", "yhat", "lo", "hi"]), {}
        manifest = {**manifest, "version": folder.name}
        level = manifest.get("level", "")
        h = self.options.hierarchy
        allowed = {"region": set(h["region"]), "team": set(h["team"]), "rep": set(h["rep"])}
        if level in ("company", "category", "product"):
            keep = self.scope.level == "company"
            return (df if keep else df.iloc[0:0]), manifest
        if level not in allowed or LEVELS.index(level) < LEVELS.index(self.scope.level):
            return df.iloc[0:0], manifest
        return df[df["unique_id"].isin(allowed[level])].reset_index(drop=True), manifest

    # ------------------------------------------------------------------ state

    def filter_options(self, sel: Selection | None = None) -> dict[str, list[tuple[str, str]]]:
        """The (label, value) pairs offered for each filter, narrowed by the filters above it
        (a region narrows teams and reps, a team the reps, a category the products); the first
        of each is ("all", "")."""
        sel = sel or self.selection
        h = self.options.hierarchy
        if sel.region:
            h = h[h["region"] == sel.region]
        teams = h
        if sel.team:
            h = h[h["team"] == sel.team]
        p = self.options.products
        if sel.category:
            p = p[p["category"] == sel.category]
        first = [(self.L.t("wb_any"), "")]
        reps = h.drop_duplicates("rep")
        return {
            "region": first + [(v, v) for v in sorted(set(self.options.hierarchy["region"]))],
            "team": first + [(v, v) for v in sorted(set(teams["team"]))],
            "rep": first + [(f"{r} {n}" if isinstance(n, str) and n else r, r) for r, n in zip(reps["rep"], reps["rep_name"], strict=True)],
            "category": first + [(v, v) for v in sorted(set(self.options.products["category"]))],
            "product": first + [(v, v) for v in sorted(set(p["product"]))],
            "segment": first + [(v, v) for v in self.options.segments],
            "channel": first + [(v, v) for v in self.options.channels],
        }

    def set(self, **changes) -> Selection:
        """Change the selection (dates as ``date`` or ISO text, filters as values or "" for all,
        measure, grain, compare); filters that no longer fit a wider one are cleared (a team
        outside the new region). Raises :class:`ExploreError` for values that are not offered."""
        sel = self.selection
        for key in ("start", "end"):
            if key in changes and changes[key] is not None and not isinstance(changes[key], date):
                try:
                    changes[key] = date.fromisoformat(str(changes[key]))
                except ValueError:
                    raise ExploreError(f"{key}: {changes[key]!r} is not a date (YYYY-MM-DD)") from None
        unknown = set(changes) - {f.name for f in dataclasses.fields(Selection)}
        if unknown:
            raise ExploreError(f"no such setting: {', '.join(sorted(unknown))}")
        changes = {k: ("" if v is None and k in q.FILTERS else v) for k, v in changes.items()}
        new = dataclasses.replace(sel, **changes)
        if new.start is None or new.end is None or new.start > new.end:
            raise ExploreError(f"the date range {new.start} .. {new.end} is empty: the start must be on or before the end")
        if new.measure not in MEASURES:
            raise ExploreError(f"measure must be one of {', '.join(MEASURES)}, got {new.measure!r}")
        if new.grain not in GRAINS:
            raise ExploreError(f"grain must be one of {', '.join(GRAINS)}, got {new.grain!r}")
        if new.compare not in COMPARES:
            raise ExploreError(f"compare must be one of {', '.join(COMPARES)}, got {new.compare!r}")
        # narrow: a filter that the wider ones exclude is cleared
        for name in ("team", "rep", "product"):
            offered = {v for _, v in self.filter_options(new)[name]}
            if getattr(new, name) not in offered:
                if name in changes:
                    raise ExploreError(f"{name} {getattr(new, name)!r} is not offered in this selection")
                new = dataclasses.replace(new, **{name: ""})
        for name in ("region", "category", "segment", "channel"):
            if getattr(new, name) and getattr(new, name) not in {v for _, v in self.filter_options(new)[name]}:
                raise ExploreError(f"{name} {getattr(new, name)!r} is not offered in this selection")
        self.selection = new
        if any(k in q.FILTERS for k in changes):  # a filter chosen by hand starts a new trail
            self._crumbs = [(self.L.t("wb_all"), dataclasses.replace(new, **{n: "" for n in q.FILTERS}))]
            if any(new.filters.values()):
                self._crumbs.append((self._crumb_label(new), new))
        return new

    def _crumb_label(self, sel: Selection) -> str:
        return " · ".join(v for v in sel.filters.values() if v)

    @property
    def dimension(self) -> str:
        """The breakdown's dimension: the first of the drill path (below the scope) not filtered."""
        sel = self.selection
        path = [d for d in q.DRILL_PATH if d not in LEVELS or LEVELS.index(d) > LEVELS.index(self.scope.level)]
        for d in path:
            if not getattr(sel, d):
                return d
        return path[-1]

    def drill(self, member: str) -> Selection:
        """Filter to a member of the breakdown (a click on its bar) and remember the way back."""
        dim = self.dimension
        if member not in self.members("cur").index or getattr(self.selection, dim) == member:
            return self.selection  # "others", or a member already filtered to
        before = list(self._crumbs)
        sel = self.set(**{dim: member})
        self._crumbs = before + [(member, sel)]
        return sel

    def back(self, to: int | None = None) -> Selection:
        """Back to crumb ``to`` (0 = all), or one step back; measure, grain and compare stay."""
        if len(self._crumbs) <= 1:
            return self.selection
        to = len(self._crumbs) - 2 if to is None else max(0, min(to, len(self._crumbs) - 1))
        target = self._crumbs[to][1]
        self._crumbs = self._crumbs[: to + 1]
        cur = self.selection
        self.selection = dataclasses.replace(target, start=cur.start, end=cur.end, measure=cur.measure, grain=cur.grain,
                                             compare=cur.compare)
        return self.selection

    @property
    def crumbs(self) -> list[str]:
        return [label for label, _ in self._crumbs]

    # ------------------------------------------------------------------ data

    def data(self) -> dict[str, pd.DataFrame]:
        """The selection's frames (cached by its row filters): ``(w, part)`` -> frame of sums."""
        sel = self.selection
        key = (*sel.row_key, self.dimension)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        raw = q.aggregate(self._mem, q.Windows(sel.start, sel.end), sel.filters, self.dimension)
        self.queries += 1
        frames = _frames(raw)
        self._cache[key] = frames
        while len(self._cache) > self.explore.cache_size:
            self._cache.popitem(last=False)
        return frames

    def series(self, window: str = "cur", grain: str | None = None) -> pd.DataFrame:
        """Sums per grain bucket (``key``: the day, the week's Monday, the month's first day)."""
        grain = grain or self.selection.grain
        return self.data().get((window, grain), _EMPTY)

    def members(self, window: str = "cur") -> pd.DataFrame:
        return self.data().get((window, "member"), _EMPTY)

    def totals(self, window: str = "cur") -> pd.Series:
        t = self.data().get((window, "total"), _EMPTY)
        return t.iloc[0] if len(t) else pd.Series({c: (0.0 if c != "margin" else math.nan) for c in _SUMS})

    # ------------------------------------------------------------------ views

    def label(self, measure: str | None = None) -> str:
        return self.L.t(f"wb_measure_{measure or self.selection.measure}")

    def _fmt(self, measure: str, v) -> str:
        L = self.L
        if measure in ("revenue", "margin", "aov"):
            return L.money(v)
        if measure in ("orders", "customers"):
            return L.count(v)
        return L.ratio(v)

    def kpis(self) -> list[dict]:
        """One tile per measure: its value and how it compares (the comparison chosen)."""
        sel = self.selection
        cur = self.totals("cur").to_frame().T
        cmp = None
        if sel.compare in ("previous", "last_year"):
            cmp = self.totals("prev" if sel.compare == "previous" or ("ly", "total") not in self.data() else "ly").to_frame().T
        target = self.target_total() if sel.compare == "target" else None
        tiles = []
        for m in MEASURES:
            v = _measure(cur, m).iloc[0]
            item = {"label": self.label(m), "value": self._fmt(m, v), "measure": m, "raw": None if pd.isna(v) else float(v)}
            if cmp is not None:
                c = _measure(cmp, m).iloc[0]
                if not pd.isna(c) and c and not pd.isna(v):
                    delta = (v - c) / abs(c) if m != "return_rate" else v - c
                    item["sub"] = self.L.t("wb_vs", delta=self.L.ratio(delta, signed=True), what=self.L.t(f"wb_compare_{sel.compare}"))
                    item["trend"] = 1 if delta > 0 else -1 if delta < 0 else 0
                    if m == "return_rate":
                        item["trend"] = -item["trend"]
            elif target is not None and m == "revenue" and target > 0 and not pd.isna(v):
                item["sub"] = self.L.t("wb_attainment", pct=self.L.ratio(v / target))
                item["trend"] = 1 if v >= target else -1
            tiles.append(item)
        return tiles

    def kpis_html(self) -> str:
        return cards(self.kpis()).html

    def trend_figure(self) -> go.Figure:
        """The measure per grain bucket, with the comparison chosen (dashed)."""
        sel = self.selection
        cur = self.series("cur")
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=list(cur.index), y=_clean(_measure(cur, sel.measure)), name=self.label(), mode="lines+markers",
                                 line={"color": COLORS["revenue"]}))
        if sel.compare in ("previous", "last_year"):
            w = "prev" if sel.compare == "previous" or ("ly", sel.grain) not in self.data() else "ly"
            other = self.series(w).reindex(cur.index)
            fig.add_trace(go.Scatter(x=list(cur.index), y=_clean(_measure(other, sel.measure)), name=self.L.t(f"wb_compare_{sel.compare}"),
                                     mode="lines", line={"color": COLORS["target"], "dash": "dash"}))
        elif sel.compare == "target" and sel.measure == "revenue":
            t = self.target_series(sel.grain).reindex(cur.index)
            fig.add_trace(go.Scatter(x=list(cur.index), y=_clean(t), name=self.L.t("wb_compare_target"), mode="lines",
                                     line={"color": COLORS["target"], "dash": "dash"}))
        elif sel.compare == "forecast" and sel.measure == "revenue":
            f = self.forecast_rows()
            if len(f):
                fb = _bucket(f.set_index("ds")[["yhat"]], sel.grain)
                fig.add_trace(go.Scatter(x=list(fb.index), y=_clean(fb["yhat"]), name=self.L.t("wb_compare_forecast"), mode="lines",
                                         line={"color": COLORS["forecast"], "dash": "dot"}))
        grain = self.L.t(f"wb_grain_{sel.grain}")
        fig.update_layout(title=self.L.t("wb_trend", measure=self.label(), grain=grain), height=340,
                          margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"})
        return fig

    def breakdown(self) -> pd.DataFrame:
        """The top ``[explore] top_n`` members by the measure and one "others" row: ``member``,
        ``value``, ``is_other``."""
        m = self.members("cur")
        if m.empty:
            return pd.DataFrame({"member": pd.Series(dtype=object), "value": pd.Series(dtype=float), "is_other": pd.Series(dtype=bool)})
        v = _measure(m, self.selection.measure)
        order = v.fillna(-math.inf).sort_values(ascending=False, kind="stable").index
        n = self.explore.top_n
        top, rest = list(order[:n]), list(order[n:])
        out = pd.DataFrame({"member": top, "value": v.loc[top].to_numpy(), "is_other": False})
        if rest:
            others = m.loc[rest].sum(numeric_only=True).to_frame().T
            others["margin"] = m.loc[rest, "margin"].sum(min_count=1)
            out.loc[len(out)] = [self.L.t("wb_others", n=len(rest)), _measure(others, self.selection.measure).iloc[0], True]
        return out

    def breakdown_figure(self) -> go.Figure:
        b = self.breakdown()
        dim_label = self.L.label(self.dimension if self.dimension != "rep" else "rep_id")
        fig = go.Figure(go.Bar(x=[html.escape(str(x)) for x in b["member"]], y=_clean(b["value"]),
                               marker={"color": [COLORS["target"] if o else COLORS["revenue"] for o in b["is_other"]]},
                               customdata=list(b["member"])))
        fig.update_layout(title=self.L.t("wb_by", measure=self.label(), dimension=dim_label), height=340,
                          margin={"l": 10, "r": 10, "t": 40, "b": 10})
        return fig

    def table(self) -> pd.DataFrame:
        """The drill-down table as data: one row per member of the breakdown, every measure,
        the share of revenue; sorted by the measure chosen (for export: exact values)."""
        m = self.members("cur")
        dim = self.dimension
        if m.empty:
            return pd.DataFrame(columns=[dim, *MEASURES, "margin_pct", "share_pct"])
        df = pd.DataFrame({dim: m.index})
        if dim == "rep":
            names = self.options.hierarchy.drop_duplicates("rep").set_index("rep")["rep_name"]
            df["rep_name"] = df[dim].map(names)
        for meas in MEASURES:
            df[meas] = _measure(m, meas).to_numpy()
        costed = m["revenue_with_cost"].where(m["revenue_with_cost"] != 0)
        df["margin_pct"] = (m["margin"] / costed * 100).to_numpy()
        total = m["revenue"].sum()
        df["share_pct"] = (m["revenue"] / total * 100).to_numpy() if total else math.nan
        df = df.sort_values(self.selection.measure, ascending=False, na_position="last", kind="stable").reset_index(drop=True)
        return df.rename(columns={"rep": "rep_id"})

    def table_html(self) -> str:
        df = self.table()
        return view(df, self.L, top=self.explore.top_n * 2).html

    # ------------------------------------------------------------------ targets and forecast

    def _target_node(self) -> tuple[str, str | None] | None:
        """Whose target applies to the selection (None: products, segments or channels are filtered)."""
        sel = self.selection
        if sel.category or sel.product or sel.segment or sel.channel:
            return None
        for level in ("rep", "team", "region"):
            if getattr(sel, level):
                return level, getattr(sel, level)
        return (self.scope.level, self.scope.value)

    def target_months(self) -> pd.Series:
        """Monthly revenue target of the selection (period -> amount); empty when none applies."""
        node = self._target_node()
        t = self.targets
        if node is None or t.empty:
            return pd.Series(dtype=float)
        return _node_target(t, *node)

    def target_days(self) -> pd.Series:
        """The target spread evenly over the days of its months, within the range."""
        months = self.target_months()
        sel = self.selection
        days = pd.date_range(sel.start, sel.end, freq="D")
        if months.empty:
            return pd.Series(dtype=float)
        per = days.strftime("%Y-%m").map(months.to_dict())
        return pd.Series(per.astype(float) / days.days_in_month, index=days.strftime("%Y-%m-%d")).dropna()

    def target_total(self) -> float | None:
        d = self.target_days()
        return float(d.sum()) if len(d) else None

    def target_series(self, grain: str) -> pd.Series:
        d = self.target_days()
        if d.empty:
            return d
        return _bucket(d.to_frame("t").set_axis(pd.to_datetime(d.index)), grain)["t"]

    def forecast_rows(self) -> pd.DataFrame:
        """The stored forecast of the selection (``ds, yhat, lo, hi``): its series, or the sum of
        the series inside it; empty when the forecast does not cover the selection."""
        f = self.forecast
        level = self.forecast_manifest.get("level", "")
        sel = self.selection
        if f.empty:
            return f.iloc[0:0]
        if level in ("category", "product"):
            if any(getattr(sel, n) for n in ("region", "team", "rep", "segment", "channel")):
                return f.iloc[0:0]
            if level == "product" and sel.product:
                rows = f[f["unique_id"] == sel.product]
            elif level == "product" and sel.category:
                prods = set(self.options.products.loc[self.options.products["category"] == sel.category, "product"])
                rows = f[f["unique_id"].isin(prods)]
            elif level == "category" and not sel.product:
                rows = f[f["unique_id"] == sel.category] if sel.category else f
            else:
                return f.iloc[0:0]
        else:
            if sel.category or sel.product or sel.segment or sel.channel:
                return f.iloc[0:0]
            h = self.options.hierarchy
            node = next(((lv, getattr(sel, lv)) for lv in ("rep", "team", "region") if getattr(sel, lv)), None)
            if node is not None and LEVELS.index(node[0]) > LEVELS.index(level):
                return f.iloc[0:0]
            if level == "company":
                rows = f
            else:
                inside = h if node is None else h[h[node[0]] == node[1]]
                rows = f[f["unique_id"].isin(set(inside[level]))]
        if rows.empty:
            return rows
        return rows.groupby("ds", as_index=False)[["yhat", "lo", "hi"]].sum()

    def forecast_note(self) -> str:
        if not self.forecast_manifest:
            return self.L.t("wb_no_forecast")
        if self.forecast_rows().empty:
            return self.L.t("wb_forecast_other_level", version=self.forecast_manifest.get("version", ""),
                            level=self.forecast_manifest.get("level", ""))
        return ""

    def forecast_figure(self) -> go.Figure:
        """Recent daily revenue, the forecast with its interval, and the target over the same days."""
        f = self.forecast_rows()
        fig = go.Figure()
        level = self.settings.forecast.level
        version = self.forecast_manifest.get("version", "")
        if len(f):
            x = list(f["ds"].dt.strftime("%Y-%m-%d"))
            fig.add_trace(go.Scatter(x=x, y=_clean(f["hi"]), mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=x, y=_clean(f["lo"]), mode="lines", line={"width": 0}, fill="tonexty",
                                     fillcolor="rgba(130,80,223,0.2)", name=self.L.t("wb_interval")))
            fig.add_trace(go.Scatter(x=x, y=_clean(f["yhat"]), mode="lines", line={"color": COLORS["forecast"]},
                                     name=self.L.t("wb_compare_forecast")))
            months = self.target_months()
            if len(months):
                ds = f["ds"]
                t = ds.dt.strftime("%Y-%m").map(months.to_dict()).astype(float) / ds.dt.days_in_month
                fig.add_trace(go.Scatter(x=x, y=_clean(t), mode="lines", line={"color": COLORS["target"], "dash": "dash"},
                                         name=self.L.t("wb_compare_target")))
        fig.update_layout(title=self.L.t("wb_forecast_title", version=version, level=level), height=340,
                          margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"})
        return fig

    def forecast_table(self) -> pd.DataFrame:
        f = self.forecast_rows()
        if f.empty:
            return pd.DataFrame(columns=["ds", "yhat", "lo", "hi"])
        return f

    # ------------------------------------------------------------------ customers

    def customers(self) -> tuple[pd.DataFrame, pd.DataFrame, str]:
        """The customer tab's data: segments of the selection's customers (as of the range's
        end), the churn-risk list of those customers and a note ("" when both are there)."""
        sel = self.selection
        ids = set(q.selection_customers(self._mem, q.Windows(sel.start, sel.end), sel.filters))
        self.queries += 1
        day = sel.end
        if day not in self._rfm:
            with self._read() as con:
                self._rfm[day] = rfm(con, day, self.scope, self.settings)
                if self._churn is None:
                    self._churn = stored_scores(con, self.scope, min_risk=self.settings.churn.at_risk_threshold)
        r = self._rfm[day]
        r = r[r["customer_id"].isin(ids)]
        seg = (r.groupby("segment", as_index=False).agg(customers=("customer_id", "size"), revenue=("monetary", "sum"))
               .sort_values("revenue", ascending=False, kind="stable").reset_index(drop=True))
        total = seg["revenue"].sum()
        seg["share_pct"] = seg["revenue"] / total * 100 if total else math.nan
        churn = self._churn if self._churn is not None else pd.DataFrame(columns=["customer_id"])
        churn = churn[churn["customer_id"].isin(ids)].head(self.explore.churn_rows)
        msg = ""
        if self._churn is None or self._churn.empty:
            msg = self.L.t("wb_no_churn")
        elif not ids:
            msg = self.L.t("wb_no_customers")
        return seg, churn, msg

    _churn: pd.DataFrame | None = None

    def customers_html(self) -> str:
        seg, churn, msg = self.customers()
        L = self.L
        parts = [f"<h4>{esc(L.t('wb_segments_title', day=L.date(self.selection.end)))}</h4>",
                 view(seg, L, columns=["segment", "customers", "revenue", "share_pct"]).html]
        if len(churn):
            as_of = L.date(churn["as_of"].iloc[0])
            cols = ["customer_id", "customer_name", "owner_rep_id", "owner_name", "risk", "value_at_risk"]
            parts += [f"<h4>{esc(L.t('wb_churn_title', as_of=as_of))}</h4>", view(churn, L, columns=cols).html]
        if msg:
            parts.append(note(msg).html)
        return "".join(parts)

    # ------------------------------------------------------------------ export

    def export(self, fmt: str = "xlsx", folder: str | Path | None = None) -> Path:
        """Write the current table (exact values) to Excel or CSV through the safe exports; the path written."""
        if fmt not in ("xlsx", "csv"):
            raise ExploreError(f"export format must be xlsx or csv, got {fmt!r}")
        sel = self.selection
        folder = Path(folder) if folder else self.settings.path(self.explore.export_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"explore-{self.scope.slug}-{sel.start:%Y%m%d}-{sel.end:%Y%m%d}-{self.dimension}.{fmt}"
        return export_frame(self.table(), folder / name)


_SUMS = ["gross_sales", "returns", "revenue", "margin", "revenue_with_cost", "orders", "customers"]
_EMPTY = pd.DataFrame(columns=_SUMS, dtype=float)


def _months_back(end: date, months: int) -> date:
    """The first day of the ``months`` months ending with ``end``'s month."""
    y, m = end.year, end.month - months + 1
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def _clean(values) -> list:
    """Numbers for a chart: NaN and infinities as gaps (None)."""
    return [None if v is None or (isinstance(v, float) and not math.isfinite(v)) or pd.isna(v) else float(v) for v in values]


def _bucket(df: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Rows indexed by day summed into the grain's buckets (index: ISO date of the bucket's first day)."""
    idx = pd.DatetimeIndex(df.index)
    if grain == "day":
        keys = idx
    elif grain == "week":
        keys = idx - pd.to_timedelta(idx.weekday, unit="D")
    else:
        keys = idx.to_period("M").to_timestamp()
    out = df.groupby(keys.strftime("%Y-%m-%d")).sum(min_count=1)
    return out


def _frames(raw: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """The long result of :func:`salesml.explore.query.aggregate` as frames of sums per window
    and grain (day, week, month), member and total."""
    out: dict[tuple[str, str], pd.DataFrame] = {}
    sums = ["gross_sales", "returns", "revenue", "margin", "revenue_with_cost"]
    for w, part in raw.groupby("w", sort=False):
        def counts(name: str, p=part) -> pd.Series:
            c = p[p["part"] == name]
            return pd.Series(c["n"].to_numpy(dtype=float), index=c["key"].to_numpy())

        day = part[part["part"] == "day"].set_index("key")[sums].sort_index()
        day["orders"] = counts("o_day").reindex(day.index).fillna(0)
        day["customers"] = counts("c_day").reindex(day.index).fillna(0)
        out[(w, "day")] = day
        for grain in ("week", "month"):
            g = _bucket(day[sums + ["orders"]], grain)
            g["margin"] = _bucket(day[["margin"]], grain)["margin"]
            g["customers"] = counts(f"c_{grain}").reindex(g.index).fillna(0)
            out[(w, grain)] = g
        mem = part[part["part"] == "member"].set_index("key")[sums]
        mem["orders"] = counts("o_member").reindex(mem.index).fillna(0)
        mem["customers"] = counts("c_member").reindex(mem.index).fillna(0)
        out[(w, "member")] = mem
        total = day[sums + ["orders"]].sum().to_frame().T
        total["margin"] = day["margin"].sum(min_count=1)
        c = counts("c_total")
        total["customers"] = float(c.iloc[0]) if len(c) else 0.0
        out[(w, "total")] = total
    return out


def _node_target(t: pd.DataFrame, level: str, value: str | None) -> pd.Series:
    """Monthly target of a company / region / team / rep: its own rows where it has them, else
    the sum of its members' (as ``salesml perf`` does)."""
    reps = t[t["level"] == "rep"]
    if level == "rep":
        return reps[reps["rep"] == value].groupby("period")["target_revenue"].sum()

    def team_target(rows_reps: pd.DataFrame, own: pd.DataFrame) -> pd.Series:
        summed = rows_reps.groupby(["period", "team"])["target_revenue"].sum()
        mine = own.groupby(["period", "team"])["target_revenue"].sum()
        return mine.combine_first(summed)

    teams_own = t[t["level"] == "team"]
    if level == "team":
        tt = team_target(reps[reps["team"] == value], teams_own[teams_own["team"] == value])
        return tt.groupby(level="period").sum()
    regions_own = t[t["level"] == "region"]
    tt = team_target(reps, teams_own).reset_index()
    region_of = pd.concat([reps[["team", "region"]], teams_own[["team", "region"]]]).drop_duplicates("team").set_index("team")["region"]
    tt["region"] = tt["team"].map(region_of)
    by_region = tt.groupby(["period", "region"])["target_revenue"].sum()
    by_region = regions_own.groupby(["period", "region"])["target_revenue"].sum().combine_first(by_region)
    if level == "region":
        by_region = by_region[by_region.index.get_level_values("region") == value]
    return by_region.groupby(level="period").sum()
