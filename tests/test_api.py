"""The Python API (``import salesml as sm; wh = sm.open()``): each method against figures
worked out from the toy company's CSV files with csv and Decimal, scope, errors, and the
forecasts on the small demo."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

import pandas as pd
import pytest

import salesml as sm
from salesml import warehouse
from salesml.errors import SalesmlError
from tests.conftest import TOY, write_config


def toy_revenue_by_rep_month() -> dict[tuple[str, str], Decimal]:
    """Net revenue per (month, rep) straight from the file: a sale counts in its month, a
    return in the month of the sale it reverses, cancelled lines not at all; no rep = (unassigned)."""
    with open(TOY / "order_lines.csv", newline="", encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    month_of = {(r["order_id"], r["line_no"]): r["order_date"][:7] for r in lines}
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in lines:
        if r["status"] == "cancelled":
            continue
        month = month_of[(r["return_of_order_id"], r["return_of_line_no"])] if r["return_of_order_id"] else r["order_date"][:7]
        out[(month, r["rep_id"] or "(unassigned)")] += Decimal(r["amount"])
    return out


@pytest.fixture
def wh(toy_wh, no_config):
    return sm.open(warehouse=toy_wh.warehouse_path)


def test_import_stays_light_and_exports_the_api():
    code = "import sys, salesml; print('pandas' in sys.modules, 'duckdb' in sys.modules, 'open' in dir(salesml))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]
    from salesml import api

    assert sm.open is api.open and sm.Warehouse is api.Warehouse
    with pytest.raises(AttributeError, match="no attribute 'opne'"):
        sm.opne  # noqa: B018


def test_open_reads_the_config_file(toy_wh, no_config):
    (no_config / "salesml.toml").write_text(f"[warehouse]\npath = {json.dumps(str(toy_wh.warehouse_path))}\n", encoding="utf-8")
    wh = sm.open()
    assert wh.path == toy_wh.warehouse_path and str(wh.path) in repr(wh)
    assert wh.latest_period() == "2024-01"


def test_perf_is_the_files_revenue(wh):
    expected = toy_revenue_by_rep_month()
    for month in ("2024-01", "2024-02"):
        df = wh.perf(month, by="rep")
        got: dict[str, Decimal] = defaultdict(Decimal)
        for r in df.itertuples():  # a rep who changed teams in the month has a row per team
            got[r.rep_id] += Decimal(str(round(r.revenue, 2)))
        assert got == {rep: v for (m, rep), v in expected.items() if m == month}
        assert {"commission", "plan"} <= set(df.columns)  # per rep, as `salesml perf`
    company = wh.perf("2024-02", by="company")
    assert Decimal(str(round(company["revenue"].iloc[0], 2))) == sum(v for (m, _), v in expected.items() if m == "2024-02")
    assert wh.perf(by="team")["period"].unique().tolist() == ["2024-01"]  # default: the latest complete month


def test_scope_keeps_to_its_people(wh):
    reps = set(wh.perf("2024-02", by="rep", scope="team:T2")["rep_id"])
    assert reps and reps <= {"R2", "R3"}
    kpis = wh.kpis("2024-02", scope="rep:R3").set_index("kpi")
    r3 = toy_revenue_by_rep_month()[("2024-02", "R3")]
    assert Decimal(str(round(kpis.loc["revenue", "value"], 2))) == r3


def test_bridge_adds_up_to_the_change(wh):
    b = wh.bridge("2024-02", compare="previous").iloc[0]
    parts = ("new_customers", "lost_customers", "price", "volume", "mix", "returns")
    total = Decimal(str(b["base_revenue"])) + sum(Decimal(str(b[p])) for p in parts)
    assert total == Decimal(str(b["revenue"]))
    rev = toy_revenue_by_rep_month()
    assert Decimal(str(b["revenue"])) == sum(v for (m, _), v in rev.items() if m == "2024-02")
    assert Decimal(str(b["base_revenue"])) == sum(v for (m, _), v in rev.items() if m == "2024-01")


def test_segments_and_their_summary(wh):
    table = wh.segments("2024-02-29")
    assert sorted(table["customer_id"]) == ["C1", "C2", "C3"]
    assert table.set_index("customer_id").loc["C1", "last_purchase"] == pd.Timestamp("2024-02-12")
    summary = wh.segments("2024-02-29", summary=True)
    assert summary["customers"].sum() == 3
    with pytest.raises(SalesmlError, match="as-of date"):
        wh.segments("29/02/2024")


def test_churn_scores_read_by_scope(toy, no_config):
    wh = sm.open(warehouse=toy.warehouse_path)
    assert wh.churn_scores().empty  # never scored
    with warehouse.connect(toy.warehouse_path) as con:
        for cid, owner, risk, version in [("C1", "R1", 0.8, "v0001"), ("C2", "R2", 0.3, "v0001"), ("C3", "R3", 0.6, "v0001"),
                                          ("C1", "R1", 0.1, "v0000")]:
            con.execute("INSERT INTO churn_scores (customer_id, as_of, version, risk, value_at_risk, owner_rep_id, scored_at) "
                        "VALUES (?, DATE '2024-02-29', ?, ?, ?, ?, now())", [cid, version, risk, risk * 100, owner])
    every = wh.churn_scores()
    assert list(every["customer_id"]) == ["C1", "C3", "C2"] and set(every["version"]) == {"v0001"}  # riskiest value first, newest version
    assert every.set_index("customer_id").loc["C1", "customer_name"] == "One Ltd"
    assert list(wh.churn_scores(min_risk=0.5)["customer_id"]) == ["C1", "C3"]
    # customers by their owner's current team: R2 moved from T1 to T2
    assert list(wh.churn_scores(scope="team:T1")["customer_id"]) == ["C1"]
    assert sorted(wh.churn_scores(scope="team:T2")["customer_id"]) == ["C2", "C3"]
    assert list(wh.churn_scores(version="v0000")["risk"]) == [0.1]


def test_sql_reads_and_refuses_writes(wh):
    df = wh.sql("SELECT sum(amount) AS revenue FROM ledger WHERE period = ?", ["2024-01"])
    assert Decimal(str(df["revenue"].iloc[0])) == sum(v for (m, _), v in toy_revenue_by_rep_month().items() if m == "2024-01")
    with pytest.raises(warehouse.ReadOnlyError):
        wh.sql("DELETE FROM ledger")


def test_clear_errors(toy_wh, no_config):
    with pytest.raises(SalesmlError, match="no warehouse at .*salesml demo"):
        sm.open(warehouse=no_config / "missing.duckdb")
    wh = sm.open(warehouse=toy_wh.warehouse_path)
    with pytest.raises(SalesmlError, match="2024-13"):
        wh.perf("2024-13")
    with pytest.raises(SalesmlError, match="scope"):
        wh.perf("2024-01", scope="tribe:X")


@pytest.fixture(scope="module")
def demo_wh(small_demo, tmp_path_factory):
    cfg = write_config(tmp_path_factory.mktemp("api"), small_demo.warehouse_path)
    return sm.open(cfg)


def test_forecast_and_backtest(demo_wh):
    last = demo_wh.sql("SELECT max(period) AS p FROM ledger")["p"].iloc[0]  # the demo ends on a month's last day
    fc = demo_wh.forecast("region", "M", 3)
    assert list(fc.columns) == ["unique_id", "ds", "yhat", "lo", "hi", "model"]
    assert fc["ds"].min() > pd.Timestamp(f"{last}-01") and (fc.groupby("unique_id").size() == 3).all()
    assert (fc["yhat"] >= 0).all() and (fc["lo"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["hi"]).all()
    run = demo_wh.forecast("company", "M", 2, model="seasonal_naive", details=True)
    assert set(run.statuses["status"]) == {"fitted"} and len(run.forecasts) == 2
    chose = demo_wh.backtest("company", "M", windows=2, horizon=2, details=True)
    summary = chose.summary
    assert {"auto", "seasonal_naive"} <= set(summary["model"]) and (summary["mase"] > 0).all()
    # what the choice gave in each window, per series and per window
    mine = chose.errors[chose.errors["model"] == "auto"]
    assert mine["chosen"].notna().all() and set(mine["chosen"]) <= set(demo_wh.settings.forecast.models)
    assert chose.windows["chosen"].tolist() == mine.sort_values("window")["chosen"].tolist()  # one series: its pick
    bt = demo_wh.backtest("company", "M", windows=2, horizon=2, model="seasonal_naive", details=True)
    assert len(bt.windows) == 2 and (bt.windows["first"] <= bt.windows["last"]).all()
    assert set(bt.windows["chosen"]) == {"seasonal_naive"}
    with pytest.raises(SalesmlError, match="--level must be one of"):
        demo_wh.forecast("galaxy")


def test_perf_of_a_year_is_its_months_together(wh):
    year = wh.perf("2024", by="company")
    rev = toy_revenue_by_rep_month()
    assert Decimal(str(round(year["revenue"].iloc[0], 2))) == sum(rev.values())
    assert "commission" not in wh.perf("2024", by="rep").columns  # commissions are monthly
