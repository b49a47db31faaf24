"""The sales forecast report: recorded figures = the forecast functions' results, privacy of
scope, escaping, degrading without inventory or targets; and the report's pure helpers.
(The arithmetic the report calls, salesml.forecast.summary, is in test_forecast_summary.)"""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from salesml import warehouse
from salesml.config import ForecastSettings, Settings
from salesml.forecast import auto, inventory, landing, reconcile
from salesml.forecast import summary as FS
from salesml.insights import forecast_checks as FC
from salesml.reports import forecast as F
from salesml.reports.lang import Lang
from salesml.reports.runner import render
from salesml.scope import parse_scope
from tests.conftest import TOY, make_settings
from tests.test_reports_performance import EVIL_NAME, without_plotly_js
from tests.test_reports_runner import with_notebooks

#: 9 days before the small demo's quarter ends: the daily forecasts behind the landing are short
AS_OF = "2026-06-21"
#: tiny parameters: two cheap candidates, four weeks, in the test's own process
TINY = {"as_of": AS_OF, "freq": "W", "horizon": 4, "models": "seasonal_naive,theta", "workers": 1}
#: one backtest window and a shorter demand history for the products (the slowest part of a
#: company report on the small demo), as a config file and as the same overrides
TINY_CONFIG = "[forecast]\nwindows = 1\n[inventory]\nhistory_days = 60\n"
TINY_OVERRIDES = {"forecast": {"windows": 1}, "inventory": {"history_days": 60}}
REP_ID = re.compile(r"\bR\d{3}\b")


def _tiny_config(tmp_path) -> str:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_CONFIG, encoding="utf-8")
    return str(path)


def _with_models(s: Settings, models: tuple[str, ...]) -> Settings:
    return s.with_overrides(forecast={"models": models})


# --------------------------------------------------------------------------- rendered reports


@pytest.mark.notebook
def test_company_figures_equal_the_forecast_functions(small_demo, tmp_path):
    """Forecast total (MinT-reconciled), backtest and reorder alerts of the company report,
    recomputed with salesml.forecast; every section is on the page."""
    s = with_notebooks(small_demo)
    params = {**TINY, "models": "seasonal_naive", "config_path": _tiny_config(tmp_path)}
    result = render(s, "sales_forecast", params)
    _opens_with_summary_and_warnings(result, "en", "company")
    f = result.figures
    assert result.html_path.name == "sales_forecast.html" and result.html_path.parent.name == "2026-06"
    assert f["scope"] == "company" and f["models"] == ["seasonal_naive"] and f["reconcile"] == "mint_shrink"
    assert f["forecast_start"] == "2026-06-28" and f["forecast_end"] == "2026-07-19"  # 4 weeks after the last full one
    assert f["month_period"] == "2026-06" and f["quarter_period"] == "2026-Q2"
    assert 0 <= f["month_p_reach_target"] <= 1

    s = _with_models(s.with_overrides(**TINY_OVERRIDES), ("seasonal_naive",))
    fs = s.forecast
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        Y, S, tags = reconcile.hierarchy_panel(con, "W", s, end=AS_OF)
        snapshot = inventory.latest_inventory(con, AS_OF)
    ev = auto.forecast_and_backtest(Y, 4, "W", fs, workers=1, honest=True)  # the report states honest figures
    base, statuses, errors = ev.forecasts, ev.statuses, ev.errors
    assert set(base["unique_id"]) == set(S["unique_id"])  # nothing skipped: nothing to fill
    rec = reconcile.reconcile(base, Y, S, tags, "mint_shrink", freq="W")
    assert f["forecast_total"] == pytest.approx(rec.loc[rec["unique_id"] == "company", "yhat"].sum(), rel=1e-9)
    assert f["series"] == len(statuses) > 50
    assert f["statuses"] == statuses["status"].value_counts().to_dict()
    summary = auto.auto_summary(errors, statuses).set_index("model")["mase"]
    assert f["mase_auto"] == pytest.approx(summary["auto"]) and f["mase_seasonal_naive"] == pytest.approx(summary["seasonal_naive"])
    assert f["auto_beats_seasonal_naive"] is False  # one candidate: auto is the baseline

    assert f["reorder_rows"] == len(snapshot) and 0 < f["reorder_alerts"] <= len(snapshot)  # see test_forecast_reorder
    # the early warnings: the latest complete week against the honest backtest's interval (no extra fit), the reorder alerts
    outside = FC.outside_interval(ev.window_forecasts, Y, fs.level, s.warnings.fc_outside_steps)
    assert set(outside["unique_id"]) <= set(S["unique_id"]) and outside["last"].max() == pd.Timestamp("2026-06-21")
    assert f["warning_outside"] == int(outside["outside"].sum())
    assert f["warning_reorder"] == f["reorder_alerts"]

    page = result.html_path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 4  # company, regions, the month's and the quarter's landings
    for heading in ("Forecast vs actuals", "Backtest", "Reconciliation backtest", "Month 2026-06", "Quarter 2026-Q2", "Reorder alerts",
                    "auto does not beat seasonal naive"):
        assert heading in page
    assert "Traceback" not in page


@pytest.mark.notebook
def test_rep_report_holds_nothing_of_anyone_else_and_its_landing_is_the_functions(small_demo):
    s = with_notebooks(small_demo)
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        me = con.execute(
            "SELECT rep_id FROM ledger WHERE rep_id IS NOT NULL AND credit_date BETWEEN DATE '2026-05-01' AND ? "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            [AS_OF],
        ).fetchall()[0][0]
        reps = con.execute("SELECT DISTINCT rep_id, name FROM reps").df()
    scope = f"rep:{me}"
    result = render(s, "sales_forecast", {**TINY, "scope": scope})
    f = result.figures
    assert result.html_path.name == f"sales_forecast_rep-{me}.html"
    assert f["reorder_alerts"] is None  # inventory is company-wide

    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    assert me in page and "Plotly.newPlot" in page
    assert "reorder alerts are in the company report" in page
    others = reps[reps["rep_id"] != me]
    for rep_id, name in others.itertuples(index=False):
        assert not re.search(rf"\b{re.escape(rep_id)}\b", page), f"{rep_id} leaked into {me}'s report"
        assert not name or name not in page, f"{name} leaked into {me}'s report"
    assert set(REP_ID.findall(page)) == {me}

    s = _with_models(s, ("seasonal_naive", "theta"))
    fs = s.forecast
    window = landing.open_period("quarter", AS_OF)
    start = F.daily_history_start(date.fromisoformat(AS_OF), window.remaining_days, fs)  # see test_daily_models_and_history
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        Y, S, tags = reconcile.hierarchy_panel(con, "W", s, scope, end=AS_OF)
        Yd, Sd, tags_d = reconcile.hierarchy_panel(con, "D", s, scope, end=AS_OF, start=start.isoformat())
    assert len(tags["rep"]) == 1  # one team all along: the rep is one node
    base, _, _ = auto.forecast_panel(Y, 4, "W", fs, workers=1)
    weekly = reconcile.reconcile(base, Y, S, tags, fs.reconcile, freq="W")
    assert f["forecast_total"] == pytest.approx(base["yhat"].sum(), rel=1e-9)  # one node: nothing to reconcile
    daily, _, _ = auto.forecast_panel(Yd, window.remaining_days, "D", fs, workers=1)
    daily_rec = reconcile.reconcile(daily, Yd, Sd, tags_d, fs.reconcile, freq="D")
    daily_rec, scaled = FS.align_daily(daily_rec, weekly, "W")
    assert scaled == 1  # AS_OF is a Sunday: the week to 2026-06-28 is forecast at both frequencies
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        for kind in ("month", "quarter"):
            row = landing.landing_for_period(con, daily_rec, kind, AS_OF, s, scope).iloc[0]
            assert f[f"{kind}_period"] == row["period"]
            assert f[f"{kind}_landing"] == pytest.approx(row["landing"], rel=1e-9)
            assert f[f"{kind}_target"] == pytest.approx(row["target"]) and row["target"] > 0
            assert f[f"{kind}_p_reach_target"] == pytest.approx(row["p_reach_target"], rel=1e-6)


@pytest.mark.notebook
def test_without_inventory_or_targets_the_sections_say_so_and_names_are_escaped(tmp_path):
    """The toy company (no inventory, no targets; a rep named like a script) renders with notes."""
    s = with_notebooks(make_settings(tmp_path))
    evil = tmp_path / "evil"
    evil.mkdir()
    tables = ("reps", "products", "customers", "order_lines")  # no targets, no inventory
    for t in tables[1:]:
        (evil / f"{t}.csv").write_bytes((TOY / f"{t}.csv").read_bytes())
    (evil / "reps.csv").write_text(
        (TOY / "reps.csv").read_text(encoding="utf-8").replace("Alice", EVIL_NAME.replace('"', '""').join('""')),
        encoding="utf-8",
    )
    from salesml.ingest import canonical_source, ingest_source

    ingest_source(s, "evil", canonical_source({t: evil / f"{t}.csv" for t in tables}))
    result = render(s, "sales_forecast", {"models": "seasonal_naive", "workers": 1})
    f = result.figures
    assert f["as_of"] == "2024-02-20"  # the toy's last day with sales, a Tuesday
    assert "the week ending 2024-02-25 is partial (data through 2024-02-20)" in without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    assert f["reorder_alerts"] is None
    assert f["month_p_reach_target"] is None and f["month_target"] is None and f["month_landing"] > 0
    assert f["statuses"].get("skipped", 0) + f["statuses"].get("fallback", 0) == f["series"]  # far too short to choose
    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    assert "no inventory loaded: reorder alerts skipped" in page
    assert "no target for the period: no probability" in page
    assert "without a forecast counted as 0" in page  # a rep with a single day of sales was skipped
    assert EVIL_NAME not in page and "&lt;script&gt;alert(" in page
    assert "Traceback" not in page


@pytest.mark.notebook
@pytest.mark.parametrize("lang,scope", [("zh", "company"), ("zh", "rep")])
def test_the_page_opens_with_its_summary_and_warnings_in_either_language(small_demo, tmp_path, lang, scope):
    """The parameters of the tests above (their forecasts are read from the cache), in Chinese:
    the English company page is the one of ``test_company_figures_equal_the_forecast_functions``."""
    s = with_notebooks(small_demo)
    if scope == "rep":
        with warehouse.connect(s.warehouse_path, read_only=True) as con:
            scope = "rep:" + con.execute(
                "SELECT rep_id FROM ledger WHERE rep_id IS NOT NULL AND credit_date BETWEEN DATE '2026-05-01' AND ? "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1", [AS_OF]).fetchall()[0][0]
        params = {**TINY, "scope": scope}
    else:
        params = {**TINY, "models": "seasonal_naive", "config_path": _tiny_config(tmp_path)}
    result = render(s, "sales_forecast", {**params, "lang": lang})
    _opens_with_summary_and_warnings(result, lang, scope)


def _opens_with_summary_and_warnings(result, lang: str, scope: str) -> None:
    """The page opens with 3-6 sentences linked to their sections and the early warnings, all
    in its language."""
    f = result.figures
    assert f["lang"] == lang and f["untranslated"] == []
    assert 3 <= len(f["summary"]) <= 6 and len(f["actions"]) <= 5
    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    order = ["summary", "warnings", "figures", "forecast", "backtest", "landing", "reorder"]
    assert [page.index(f'id="{a}"') for a in order] == sorted(page.index(f'id="{a}"') for a in order)
    box = page[page.index('class="salesml-summary"'):page.index('id="warnings"')]
    links = re.findall(r'href="#([\w-]+)"', box)
    assert len(links) >= len(f["summary"]) and all(f'id="{a}"' in page for a in links)  # every sentence links to its section
    assert "00:00:00" not in page and "Traceback" not in page
    if scope != "company":
        assert f["warning_reorder"] == 0 and "Plotly.newPlot" in page
    if lang == "zh":
        assert result.html_path.name.endswith("_zh.html")
        assert "摘要" in page and "风险预警" in page and "诚实回测" in page
        for english in (">Summary<", ">Early warnings<", ">Forecast vs actuals<", ">Backtest<", ">Landing<", ">Reorder alerts<",
                        ">Model<", ">Expected landing<", ">Days of cover<", "Not checked", "auto beats", "forecast (reconciled)"):
            assert english not in page, english
    else:
        assert ">Summary<" in page and ">Early warnings<" in page and "Not checked: " in page
        assert "In the honest backtest" in f["summary"][2] and "seasonal naive" in f["summary"][2]


# --------------------------------------------------------------------------- pure helpers


def test_notes_of_lower_layers_are_translated_by_pattern():
    zh, en = Lang("zh"), Lang("en")
    note = "the week ending 2024-02-25 is partial (data through 2024-02-20): left out of the history; forecasts start with 2024-03-03"
    assert F.note_text(note, en) == note
    assert F.note_text(note, zh) == "2024-02-25 这周不完整（数据截至 2024-02-20）：不计入历史；预测从 2024-03-03 开始"
    assert F.note_text("2 node(s) without a forecast counted as 0, without an interval; no target for the period: no probability", zh) == (
        "2 个节点没有预测，按 0 计且无区间；本期没有目标：无概率")
    pooled = ("pooled choice for the 12 series with candidates ets, theta: theta, mean MASE 0.812, intervals ×1.30 to cover 80% of "
              "the backtest (its own best: ets, MASE 0.790); intermittent (40% zero steps)")
    assert F.note_text(pooled, zh) == ("同类 12 个序列合并选择（候选 ets, theta）：theta，平均 MASE 0.812，区间 ×1.30 以覆盖回测的 80%"
                                       "（其自身最优：ets，MASE 0.790）；间歇序列（40% 期为零）")
    # a pick kept from the level above, or from one window earlier, says so in either language
    kept = ("pooled choice for the 6 series with candidates ets, prophet: prophet, mean MASE 0.650, the level above's pick (this "
            "level's own, ets, scored 0.620: not more than 10% better)")
    assert F.note_text(kept, zh) == "同类 6 个序列合并选择（候选 ets, prophet）：prophet，平均 MASE 0.650，沿用上一层的选择（本层自身最优 ets，MASE 0.620：好不到 10%）"
    earlier = ("pooled choice for the 132 series with candidates ets, tsb: ets, mean MASE 0.834, its pick one window earlier (its "
               "best now, tsb, scored 0.832: not more than 5% better)")
    assert F.note_text(earlier, zh) == "同类 132 个序列合并选择（候选 ets, tsb）：ets，平均 MASE 0.834，沿用前一个窗口的选择（当前最优 tsb，MASE 0.832：好不到 5%）"
    assert F.note_text("something new", zh) == "something new"  # shown as it is
    assert F.note_text(np.nan, zh) == ""



def test_parameters_are_checked():
    assert F.parse_models("", ("ets",)) == ("ets",)
    assert F.parse_models(" theta, seasonal_naive,theta ", ("ets",)) == ("theta", "seasonal_naive")
    with pytest.raises(F.ForecastReportError, match="unknown model.*arima.*known: seasonal_naive"):
        F.parse_models("theta,arima", ("ets",))
    assert F.check_freq("w") == "W"
    with pytest.raises(F.ForecastReportError, match="freq must be one of D, W, M"):
        F.check_freq("Q")
    fs = ForecastSettings()
    assert F.resolve_horizon(0, "W", fs) == fs.horizon_w and F.resolve_horizon(5, "D", fs) == 5
    with pytest.raises(F.ForecastReportError, match="horizon"):
        F.resolve_horizon(-1, "W", fs)
    assert F.parse_day("2026-06-30") == date(2026, 6, 30)
    with pytest.raises(F.ForecastReportError, match="YYYY-MM-DD"):
        F.parse_day("30/06/2026")


def test_daily_models_and_history():
    assert F.cheap_models(("seasonal_naive", "ets", "theta", "prophet")) == ("seasonal_naive", "theta")
    assert F.cheap_models(("ets", "prophet")) == ("seasonal_naive",)  # nothing cheap: the baseline
    fs = ForecastSettings(windows=3, min_obs_d=56)
    start = F.daily_history_start(date(2026, 6, 21), 9, fs)
    assert (date(2026, 6, 21) - start).days + 1 == 2 * 3 * 9 + 56  # honest windows, each with its own choice
    start = F.daily_history_start(date(2026, 6, 21), 9, dataclasses.replace(fs, selection_windows=5))
    assert (date(2026, 6, 21) - start).days + 1 == (3 + 5) * 9 + 56  # a choice on 5 windows reaches further back


def test_complete_base_fills_nodes_without_a_forecast():
    dates = pd.date_range("2026-07-05", periods=2, freq="W-SUN")
    base = pd.DataFrame({"unique_id": "a", "ds": dates, "yhat": [1.0, 2.0], "lo": [0.5, 1.0], "hi": [2.0, 3.0], "model": "theta"})
    out, filled = reconcile.complete_base(base, ["a", "b"], dates)
    assert filled == ["b"]
    b = out[out["unique_id"] == "b"]
    assert b["yhat"].tolist() == [0.0, 0.0] and b["lo"].isna().all() and b["model"].eq("none").all()
    assert out[out["unique_id"] == "a"]["yhat"].tolist() == [1.0, 2.0]


def test_top_children_and_labels():
    company, east = "company", reconcile.node_id("region", "East China")
    t1, t2 = reconcile.node_id("team", "East China", "T1"), reconcile.node_id("team", "East China", "T2")
    r1 = reconcile.node_id("rep", "East China", "T1", "R1")
    r1b = reconcile.node_id("rep", "East China", "T2", "R1")
    tags = {"company": np.array([company]), "region": np.array([east]), "team": np.array([t1, t2]), "rep": np.array([r1, r1b])}
    assert F.top_and_children(tags, parse_scope("company")) == ([company], [east])
    assert F.top_and_children(tags, parse_scope("region:East China")) == ([east], [t1, t2])
    assert F.top_and_children({"rep": np.array([r1])}, parse_scope("rep:R1")) == ([r1], [])
    assert F.top_and_children({"rep": np.array([r1, r1b])}, parse_scope("rep:R1")) == ([r1, r1b], [r1, r1b])
    labels = F.node_labels([company, east, t1, r1, r1b, "region/a/b"], {"R1": "Alice"}, {"East China": "华东"})
    assert labels == {
        company: "Company", east: "East China · 华东", t1: "T1", r1: "R1 Alice (T1)", r1b: "R1 Alice (T2)",
        "region/a/b": "region/a/b",  # a name holding "/": shown as it is
    }


def test_backtest_summary_and_verdict():
    def rows(uid, model, mase):
        return {"unique_id": uid, "model": model, "window": 1, "mase": mase, "smape": 10.0, "wape": 10.0, "bias": 0.0,
                "coverage": 80.0, "actual": 100.0, "forecast": 100.0, "abs_error": 10.0, "abs_actual": 100.0, "error": None}

    team = reconcile.node_id("team", "E", "T1")
    errors = pd.DataFrame([rows("company", "seasonal_naive", 1.0), rows("company", "theta", 0.5),
                           rows(team, "seasonal_naive", 0.8), rows(team, "theta", 0.9)])
    statuses = pd.DataFrame({"unique_id": ["company", team], "status": "fitted", "model": ["theta", "seasonal_naive"]})
    summary = FS.backtest_summary(errors, statuses)
    first = summary[summary["level"] == "all"]
    assert first["model"].tolist() == ["auto", "seasonal_naive", "theta"]
    assert first["mase"].tolist() == pytest.approx([0.65, 0.9, 0.7])
    assert summary["level"].unique().tolist() == ["all", "company", "team"]
    assert F.verdict(summary)[:2] == ("auto beats seasonal naive: MASE 0.650 vs 0.900", True)
    worse = summary.assign(mase=np.where(summary["model"] == "auto", 2.0, summary["mase"]))
    assert F.verdict(worse)[1] is False and "does not beat" in F.verdict(worse)[0]
    assert F.verdict(FS.backtest_summary(errors.iloc[:0], statuses))[1] is None
    assert FS.status_counts(pd.DataFrame({"status": ["fitted", "skipped", "fitted"]})) == {"skipped": 1, "fitted": 2}


def test_forecast_reorder_is_the_inventory_functions_on_the_product_models():
    """Only the snapshot's products are forecast, over the longest lead time (a missing one
    is the default), with the product-level candidates."""
    s = Settings().with_overrides(forecast={"models": ("ets", "prophet"), "product_models": ("seasonal_naive", "theta"), "windows": 1},
                                  inventory={"default_lead_time_days": 9})
    days = pd.date_range("2026-03-01", periods=70, freq="D")
    rng = np.random.default_rng(0)
    demand = pd.concat(
        [pd.DataFrame({"unique_id": p, "ds": days, "y": rng.poisson(lam, len(days)).astype(float)}) for p, lam in (("P1", 5), ("P2", 2), ("P3", 9))]
    )
    snapshot = pd.DataFrame(
        {"product_id": ["P1", "P1", "P2"], "warehouse": ["A", "B", "A"], "snapshot_date": pd.Timestamp("2026-05-09"),
         "on_hand": [3.0, 40.0, 1.0], "on_order": [0.0, 0.0, 2.0], "lead_time_days": pd.array([4, 6, pd.NA], dtype="Int64")}
    )
    r = F.forecast_reorder(snapshot, demand, s, workers=1)
    assert r.horizon == 9 and r.models == ("seasonal_naive", "theta")
    assert set(r.statuses["unique_id"]) == {"P1", "P2"}  # P3 holds no stock: not forecast
    fs = dataclasses.replace(s.forecast, models=("seasonal_naive", "theta"))
    fc, _, _ = auto.forecast_panel(demand[demand["unique_id"] != "P3"], 9, "D", fs, workers=1)
    expected = inventory.reorder_table(snapshot, fc, s.inventory, level=fs.level)
    pd.testing.assert_frame_equal(r.table, expected)
    assert len(r.alerts) == int(expected["alert"].sum()) >= 1


def test_a_failing_reconciliation_falls_back_and_says_so(monkeypatch):
    calls = []
    real = reconcile.reconcile

    def flaky(base, Y, S, tags, method, **kw):
        calls.append(method)
        if method != "bottom_up":
            raise reconcile.HierarchyError(f"{method} reconciliation failed: ill-conditioned; try another method (bottom_up always works)")
        return real(base, Y, S, tags, method, **kw)

    bottom = pd.DataFrame({"region": "E", "team": "T1", "rep": ["R1", "R2"], "ds": pd.Timestamp("2026-06-28"), "y": [1.0, 2.0]})
    Y, S, tags = reconcile.build_hierarchy(bottom)
    base = pd.DataFrame({"unique_id": S["unique_id"], "ds": pd.Timestamp("2026-07-05"), "yhat": 1.0, "lo": 0.0, "hi": 2.0})
    monkeypatch.setattr(reconcile, "reconcile", flaky)
    out, method, note = reconcile.reconcile_or_fallback(base, Y, S, tags, "mint_shrink", "W")
    assert calls == ["mint_shrink", "mint_ols", "bottom_up"] and method == "bottom_up"
    assert note == "mint_shrink reconciliation failed: ill-conditioned; mint_ols reconciliation failed: ill-conditioned: bottom_up used instead"
    assert out.loc[out["unique_id"] == "company", "yhat"].iloc[0] == 2.0  # the two reps
