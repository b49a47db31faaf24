"""Churn: labels and feature groups worked out by hand, leakage, refusals, and the
train -> registry -> score round trip on the small demo."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from salesml import registry
from salesml.config import ChurnSettings, ConfigError, load_settings
from salesml.customers import churn
from salesml.customers import churn_scorers as scorers
from salesml.customers.churn_features import (
    GROUPS,
    UNKNOWN,
    ChurnTables,
    active_customers,
    build_features,
    derive_orders,
    left_out,
    load_tables,
)
from salesml.ingest import ingest_source
from tests import anonymous_company, shop_churn

S = ChurnSettings()  # lookback 365, horizon 90, recent 90
ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"
VENDORED_CDNOW = Path(__file__).parent / "data" / "cdnow" / "CDNOW_sample.txt"
CUTOFF = pd.Timestamp("2024-06-30")
#: small, quick model settings for the tests
FAST = {"train_cutoffs": 3, "max_iter": 30, "importance_repeats": 1, "calibration_folds": 2, "min_samples_leaf": 20,
        "min_train_examples": 100, "min_test_examples": 30}


def line(customer, order, no, day, amount, product="P1", category="X", discount=0.0, rep="R1", kind="sale"):
    return {"customer_id": customer, "order_id": order, "line_no": no, "rep_id": rep, "kind": kind,
            "date": pd.Timestamp(day), "product_id": product, "category": category, "amount": float(amount),
            "discount": discount}


def tables(rows, customers=None, tickets=None) -> ChurnTables:
    lines = pd.DataFrame(rows)
    return ChurnTables(lines=lines, orders=derive_orders(lines), customers=customers, tickets=tickets)


# --------------------------------------------------------------------------- labels


def label_tables() -> ChurnTables:
    return tables([
        line("A", "a1", 1, "2024-01-10", 10), line("A", "a2", 1, "2024-06-01", 10), line("A", "a3", 1, "2024-08-15", 10),
        line("B", "b1", 1, "2024-03-01", 10),                                          # active, never again: churned
        line("C", "c1", 1, "2023-05-01", 10), line("C", "c2", 1, "2024-07-15", 10),    # not active at the cutoff
        line("D", "d1", 1, "2024-06-30", 10), line("D", "d2", 1, "2024-09-28", 10),    # back on the horizon's last day
        line("E", "e1", 1, "2024-06-30", 10), line("E", "e2", 1, "2024-09-29", 10),    # back one day too late
        line("F", "f1", 1, "2024-02-01", 10), line("F", "f1r", 1, "2024-07-10", -10, kind="return"),  # a return is no purchase
        line("G", "g1", 1, "2023-07-01", 10), line("G", "g2", 1, "2024-07-01", 10),    # 366 days before: not active
        line("H", "h1", 1, "2023-07-02", 10), line("H", "h2", 1, "2024-12-31", 10),    # 365 days before: active; churned
    ])


def test_label_by_hand():
    """At 2024-06-30 (lookback 365 days: 2023-07-02 .. 2024-06-30; horizon 2024-07-01 .. 2024-09-28):
    A bought again on 08-15 (0); B never again (1); C and G were not active; D came back on
    09-28, the horizon's last day (0); E on 09-29, a day late (1); F only returned goods (1);
    H bought exactly 365 days before (active) and not in the horizon (1)."""
    y = churn.label(label_tables(), CUTOFF, S)
    assert y.to_dict() == {"A": 0, "B": 1, "D": 0, "E": 1, "F": 1, "H": 1}


def test_label_window_must_fit_in_the_data():
    t = label_tables()
    with pytest.raises(churn.ChurnError, match=r"label window .*2024-10-28.* goes past the data \(last day 2024-09-30\)"):
        churn.label(t, "2024-07-30", S, data_end="2024-09-30")
    assert len(churn.label(t, CUTOFF, S, data_end="2024-09-28")) == 6


def test_cutoffs_are_placed_back_from_the_last_day_and_the_holdout_is_strictly_later():
    plan = churn.plan_cutoffs("2022-01-01", "2024-10-31", S)
    assert plan.to_dict()["test"] == ["2024-08-02"]  # + 90 days = 2024-10-31, the last day
    assert plan.to_dict()["train"][-1] == "2024-05-04"  # + 90 days = 2024-08-02, the holdout cutoff
    assert plan.to_dict()["train"][:2] == ["2023-06-04", "2023-07-04"]  # calendar months back from it
    assert len(plan.train) == S.train_cutoffs
    # refit: the training cutoffs, then monthly on to the holdout's
    assert plan.to_dict()["refit"][-4:] == ["2024-05-04", "2024-06-04", "2024-07-04", "2024-08-02"]
    assert plan.refit[0] == plan.train[0] and len(plan.refit) == 12 + 3


@pytest.mark.parametrize("step", ["month", "week", 10])
@pytest.mark.parametrize(("horizon", "tests", "trains"), [(30, 1, 4), (90, 2, 6), (120, 3, 12), (61, 1, 1)])
def test_training_label_windows_never_overlap_the_holdout(horizon, tests, trains, step):
    s = dataclasses.replace(S, horizon_days=horizon, test_cutoffs=tests, train_cutoffs=trains, cutoff_step=step)
    plan = churn.plan_cutoffs("2021-03-17", "2025-02-14", s)
    h = pd.Timedelta(days=horizon)
    assert len(plan.test) == tests and len(plan.train) == trains
    last_train_label_end = max(plan.train) + h
    first_test_label_start = min(plan.test) + pd.Timedelta(days=1)
    assert last_train_label_end < first_test_label_start  # the test period starts after every training label window
    assert max(plan.test) + h == pd.Timestamp("2025-02-14")  # the holdout's labels end on the last day
    assert set(plan.train) | set(plan.test) <= set(plan.refit) and list(plan.refit) == sorted(set(plan.refit))
    gaps = {(b - a).days for a, b in zip(plan.train, plan.train[1:], strict=False)}
    assert gaps <= ({28, 29, 30, 31} if step == "month" else {7} if step == "week" else {10})


def test_a_nine_month_export_trains_with_the_default_settings():
    """282 days of data (as one real export had): one training and one holdout cutoff fit with
    the defaults (recent 90 + 2 x horizon 90 = 270 days); 269 days do not, and the refusal
    says how many days there are, how many are needed and what to change."""
    plan = churn.plan_cutoffs("2024-01-01", pd.Timestamp("2024-01-01") + pd.Timedelta(days=282), S)
    assert len(plan.test) == 1 and len(plan.train) == 1
    assert plan.train[0] >= pd.Timestamp("2024-01-01") + pd.Timedelta(days=S.recent_days)
    assert churn.min_history_days(S) == 270
    assert len(churn.plan_cutoffs("2024-01-01", pd.Timestamp("2024-01-01") + pd.Timedelta(days=270), S).train) == 1
    with pytest.raises(churn.ChurnError) as e:
        churn.plan_cutoffs("2024-01-01", pd.Timestamp("2024-01-01") + pd.Timedelta(days=269), S)
    assert "269 days" in str(e.value) and "at least 270 days" in str(e.value)
    assert "horizon_days, recent_days or test_cutoffs" in str(e.value)


def test_data_too_short_for_a_holdout_is_refused():
    with pytest.raises(churn.ChurnError, match="too short for a time-based holdout"):
        churn.plan_cutoffs("2024-01-01", "2024-08-31", S)


# --------------------------------------------------------------------------- feature groups by hand


def hand_tables() -> ChurnTables:
    """Customer A: orders on 2023-06-01 (before the lookback), 2024-02-01 (two lines), 2024-05-01
    and 2024-06-20; a return on 2024-06-25; an order after the cutoff. Customer B: one order."""
    rows = [
        line("A", "O1", 1, "2023-06-01", 100, "P1", "X", 0.0, "R1"),
        line("A", "O2", 1, "2024-02-01", 150, "P1", "X", 0.10, "R1"),
        line("A", "O2", 2, "2024-02-01", 50, "P2", "Y", 0.0, "R1"),
        line("A", "O3", 1, "2024-05-01", 100, "P3", "Y", 0.20, "R2"),
        line("A", "O4", 1, "2024-06-20", 50, "P1", "X", 0.0, "R2"),
        line("A", "O2r", 1, "2024-06-25", -30, "P1", "X", 0.10, "R1", kind="return"),
        line("A", "O5", 1, "2024-07-10", 999, "P4", "Z", 0.30, "R3"),
        line("B", "B1", 1, "2024-06-10", 80, "P1", "X", 0.0, "R1"),
    ]
    customers = pd.DataFrame({
        "customer_id": ["A"], "name": ["Acme"], "segment": ["SMB"], "region": ["East"], "acquisition_channel": [None],
        "first_order_date": [pd.Timestamp("2023-01-15")], "owner_rep_id": ["R2"],
    })
    tickets = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A"],
        "opened": pd.to_datetime(["2024-05-15", "2024-06-28", "2023-12-01", "2024-07-02"]),
        "closed": pd.to_datetime(["2024-05-20", "2024-07-05", "2023-12-03", "2024-07-03"]),
        "category": ["Quality"] * 4,
        "satisfaction": [2.0, 5.0, 4.0, 1.0],
    })
    return tables(rows, customers, tickets)


def group(name, t=None, customers=("A", "B")) -> pd.DataFrame:
    return GROUPS[name](t or hand_tables(), CUTOFF, S, pd.Index(list(customers), name="customer_id"))


def test_rfm_by_hand():
    """A: last order 06-20 (10 days); in the lookback O2 200 + O3 100 + O4 50 = 350 in 3 orders, less
    the 30 returned: 320 net; average order 350 / 3. B: 80 twenty days ago."""
    f = group("rfm")
    assert f.loc["A"].to_dict() == pytest.approx({"recency_days": 10, "orders_lookback": 3, "revenue_lookback": 320, "avg_order_value": 350 / 3})
    assert f.loc["B"].to_dict() == pytest.approx({"recency_days": 20, "orders_lookback": 1, "revenue_lookback": 80, "avg_order_value": 80})


def test_trend_by_hand():
    """Recent 90 days (04-01 .. 06-30): O3 100 + O4 50; the 90 before (01-02 .. 04-01): O2 200.
    Spend -25%, orders +100%; 2 recent orders vs a pace of 3 a year = 3 x 90/365 a quarter."""
    f = group("trend").loc["A"]
    assert f.to_dict() == pytest.approx({
        "orders_recent": 2, "orders_prior": 1, "spend_recent": 150, "spend_prior": 200,
        "spend_change": -0.25, "orders_change": 1.0, "recent_vs_pace": 2 / (3 * 90 / 365),
    })
    b = group("trend").loc["B"]
    assert b["orders_recent"] == 1 and math.isnan(b["spend_change"])  # nothing before: no change to speak of


def test_gaps_by_hand():
    """Purchase days 2023-06-01, 2024-02-01, 2024-05-01, 2024-06-20: gaps 245, 90, 50 days."""
    gaps = [245, 90, 50]
    f = group("gaps")
    assert f.loc["A"].to_dict() == pytest.approx({
        "mean_gap_days": np.mean(gaps), "std_gap_days": np.std(gaps, ddof=1), "overdue_ratio": 10 / np.mean(gaps),
    })
    assert f.loc["B"].isna().all()  # one purchase day: no gap yet


def test_pace_by_hand():
    """A: 4 orders in the 395 days since 2023-06-01 (3 in the 365-day lookback), 10 days quiet.
    B: 1 order, 20 days ago: the lifetime pace is measured over at least 30 days."""
    f = group("pace")
    rate = 4 / 395
    assert f.loc["A"].to_dict() == pytest.approx({
        "orders_per_month": rate * 30, "quiet_prob_lookback": math.exp(-3 / 365 * 90),
        "quiet_prob_lifetime": math.exp(-rate * 90), "silence_prob": math.exp(-rate * 10),
    })
    assert f.loc["B", "silence_prob"] == pytest.approx(math.exp(-20 / 30))


def test_tenure_by_hand():
    """A's recorded first order (2023-01-15) is earlier than the first in the data: 532 days.
    B has no customer record: 20 days since the first order in the data."""
    f = group("tenure")
    assert f.loc["A"].to_dict() == {"tenure_days": 532.0, "orders_total": 4.0}
    assert f.loc["B"].to_dict() == {"tenure_days": 20.0, "orders_total": 1.0}
    t = hand_tables()
    no_record = dataclasses.replace(t, customers=None)
    assert group("tenure", no_record).loc["A", "tenure_days"] == 395


def test_returns_by_hand():
    """30 returned of 350 gross in the lookback window, one returned line."""
    f = group("returns")
    assert f.loc["A"].to_dict() == pytest.approx({"return_rate": 30 / 350, "returns_lookback": 1})
    assert f.loc["B"].to_dict() == {"return_rate": 0.0, "returns_lookback": 0.0}


def test_discount_by_hand():
    """Lines (150 at 10%, 50 at 0%, 100 at 20%, 50 at 0%): weighted mean (15 + 20) / 350 = 10%;
    250 of 350 at a discount; the median discount is 5%, so promotional = 10% or more: 250."""
    f = group("discount").loc["A"]
    assert f.to_dict() == pytest.approx({"mean_discount": 0.1, "discount_share": 250 / 350, "promo_share": 250 / 350})


def test_breadth_by_hand():
    f = group("breadth")
    assert f.loc["A"].to_dict() == {"products_lookback": 3.0, "categories_lookback": 2.0}
    assert f.loc["B"].to_dict() == {"products_lookback": 1.0, "categories_lookback": 1.0}


def test_tickets_by_hand():
    """Opened in the last 90 days: 05-15 and 06-28; in the lookback also 2023-12-01. Answered by the
    cutoff: 05-15 (2, low) and 12-01 (4): mean 3; 06-28 is still open (its 5 comes later); 07-02 is
    in the future."""
    f = group("tickets")
    assert f.loc["A"].to_dict() == {"tickets_recent": 2.0, "tickets_lookback": 3.0, "mean_satisfaction": 3.0,
                                    "low_scores_lookback": 1.0, "open_tickets": 1.0}
    b = f.loc["B"]
    assert b["tickets_lookback"] == 0 and math.isnan(b["mean_satisfaction"])


def test_profile_by_hand():
    f = group("profile")
    assert f.loc["A"].to_dict() == {"segment": "SMB", "region": "East", "acquisition_channel": UNKNOWN}
    assert f.loc["B"].to_dict() == {"segment": UNKNOWN, "region": UNKNOWN, "acquisition_channel": UNKNOWN}


def test_owners_by_hand():
    """Lookback lines credited to R1 (O2) and R2 (O3, O4): 2 reps, one switch of rep between orders."""
    f = group("owners")
    assert f.loc["A"].to_dict() == {"reps_lookback": 2.0, "rep_switches": 1.0}
    assert f.loc["B"].to_dict() == {"reps_lookback": 1.0, "rep_switches": 0.0}


def test_calendar_and_active_customers():
    assert group("calendar")["cutoff_month"].tolist() == [6.0, 6.0]
    assert active_customers(hand_tables(), CUTOFF, S).tolist() == ["A", "B"]


def test_missing_side_tables_skip_their_groups_with_a_note():
    t = hand_tables()
    bare = dataclasses.replace(
        t, lines=t.lines.assign(discount=np.nan, category=None), customers=None, tickets=None,
    )
    bare = dataclasses.replace(bare, orders=derive_orders(bare.lines))
    fs = build_features(bare, CUTOFF, S)
    assert set(fs.skipped) == {"discount", "breadth", "tickets", "profile"}
    assert "no tickets loaded" in fs.skipped["tickets"]
    assert "mean_satisfaction" not in fs.X and "recency_days" in fs.X
    assert list(fs.X.index) == ["A", "B"]


# --------------------------------------------------------------------------- leakage


@pytest.fixture(scope="module")
def demo_tables(small_demo) -> ChurnTables:
    with duckdb.connect(str(small_demo.warehouse_path), read_only=True) as con:
        return load_tables(con)


def _after(df: pd.DataFrame, col: str, cutoff) -> pd.Series:
    return df[col] > pd.Timestamp(cutoff)


@pytest.mark.parametrize("cutoff", ["2025-09-30", "2026-01-31"])
def test_features_ignore_everything_after_the_cutoff(demo_tables, cutoff):
    """Altering, adding or deleting what happened after the cutoff (sales, returns, tickets, ticket
    answers) changes no feature and no active customer."""
    t = demo_tables
    before = build_features(t, cutoff, S)
    lines = t.lines.copy()
    late = _after(lines, "date", cutoff)
    assert late.any()
    lines.loc[late, "amount"] *= 7
    lines.loc[late, "discount"] = 0.5
    lines.loc[late, "rep_id"] = "R_NEW"
    extra = lines[late].head(50).assign(order_id=lambda d: d["order_id"] + "-x", customer_id="C_NEW")
    lines = pd.concat([lines[~late | (lines.index % 3 != 0)], extra], ignore_index=True)  # drop some, add some
    tk = t.tickets.copy()
    late_tk = _after(tk, "opened", cutoff) | _after(tk, "closed", cutoff)
    assert late_tk.any()
    tk.loc[late_tk, "satisfaction"] = 1.0  # answers given after the cutoff
    tk.loc[_after(tk, "closed", cutoff), "closed"] += pd.Timedelta(days=30)
    tk = pd.concat([tk, tk[_after(tk, "opened", cutoff)].head(20)], ignore_index=True)  # more future tickets
    altered = ChurnTables(lines=lines, orders=derive_orders(lines), customers=t.customers, tickets=tk)
    after = build_features(altered, cutoff, S)
    pd.testing.assert_frame_equal(before.X, after.X)


def test_features_from_data_loaded_through_the_cutoff_are_the_same(small_demo, demo_tables):
    cutoff = date(2025, 12, 31)
    with duckdb.connect(str(small_demo.warehouse_path), read_only=True) as con:
        cut = load_tables(con, through=cutoff)
    assert cut.last_date <= pd.Timestamp(cutoff)
    pd.testing.assert_frame_equal(build_features(cut, cutoff, S).X, build_features(demo_tables, cutoff, S).X)


# --------------------------------------------------------------------------- metrics and refusals


def test_metrics_and_lift_with_ties():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    # top decile = 1 place; two customers tie for it, one churner: half a hit -> rate 0.5 / 0.2 = 2.5
    assert churn.lift_top_decile(y, [5, 3, 5, 1, 1, 1, 1, 1, 1, 1]) == pytest.approx(2.5)
    m = churn.evaluate(y, [0.9, 0.8, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], [0.9, 0.8, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0 and m["lift_top_decile"] == pytest.approx(5.0)
    assert m["brier"] == pytest.approx((0.01 + 0.04 + 0.01 + 0.04 + 6 * 0.01) / 10)


def examples(ys) -> churn.Examples:
    n = len(ys)
    return churn.Examples(pd.DataFrame({"recency_days": np.arange(n, dtype=float)}), pd.Series(ys),
                          pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)], "cutoff": CUTOFF}), {}, {})


def test_one_class_and_tiny_data_are_refused():
    with pytest.raises(churn.ChurnError, match=r"one class only: all 300 example\(s\) churned"):
        churn.check_examples(examples([1] * 300), "training set", 200, 20, "train")
    with pytest.raises(churn.ChurnError, match=r"one class only: all 300 example\(s\) bought again"):
        churn.check_examples(examples([0] * 300), "training set", 200, 20, "train")
    with pytest.raises(churn.ChurnError, match=r"too little data: the training set has 50 example.*min_train_examples = 200"):
        churn.check_examples(examples([0, 1] * 25), "training set", 200, 20, "train")
    with pytest.raises(churn.ChurnError, match=r"too few examples of a class in the holdout: 3 churner\(s\) and 297"):
        churn.check_examples(examples([1] * 3 + [0] * 297), "holdout", 50, 5, "test")


def test_training_on_too_little_data_is_refused_before_fitting(small_demo, tmp_path):
    s = small_demo.with_overrides(churn={**FAST, "min_train_examples": 10**6}, models={"dir": str(tmp_path / "models")})
    with pytest.raises(churn.ChurnError, match=r"too little data: the training set has [\d,]+ example.*min_train_examples = 1000000"):
        churn.train(s)
    assert registry.list_versions(s, "churn").empty


# --------------------------------------------------------------------------- round trip


@pytest.fixture
def demo_copy(small_demo, tmp_path):
    """The small demo's warehouse copied (this test writes scores and deletes tickets), models in tmp."""
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(small_demo.warehouse_path, wh)
    return small_demo.with_overrides(warehouse={"path": str(wh)}, models={"dir": str(tmp_path / "models")}, churn=FAST)


def test_train_registry_score_round_trip(demo_copy):
    s = demo_copy.with_overrides(churn={**FAST, "min_auc_gain": -1.0})  # the model scores, whatever its margin
    first = churn.train(s)
    assert first["version"] == "v0001"
    for scorer in (first["model"], first["baselines"]["recency"], first["baselines"]["bgnbd"]):
        assert set(scorer) == {"roc_auc", "pr_auc", "brier", "lift_top_decile"}
        assert all(v is not None and np.isfinite(v) for v in scorer.values())
    assert first["model"]["roc_auc"] > 0.6
    manifest = registry.manifest(s, "churn", "v0001")
    assert manifest["metrics"]["model"] == first["model"]
    assert manifest["cutoffs"]["test"] == ["2026-04-01"]  # data to 2026-06-30: 90 days before the last day
    assert max(manifest["cutoffs"]["train"]) == "2026-01-01"  # its label window ends on the holdout cutoff
    assert manifest["data_window"] == {"first": "2023-07-01", "last": "2026-06-30"}
    assert "tickets_recent" in manifest["features"] and manifest["feature_groups"]["calendar"] == ["cutoff_month"]
    assert manifest["packages"]["scikit-learn"] and manifest["data_hash"]
    assert manifest["importance"] and {"feature", "group", "importance"} <= set(manifest["importance"][0])
    assert "refitted on all" in manifest["refit"]
    gain = manifest["scorer"]["auc_gain"]
    assert manifest["scorer"]["name"] == "model" and gain["low"] <= gain["gain"] <= gain["high"] and gain["resamples"] == 200
    assert gain["gain"] == pytest.approx(first["model"]["roc_auc"] - max(b["roc_auc"] for b in first["baselines"].values()))
    # a model that must beat the best baseline by more than it can: the version scores with that baseline
    strict = s.with_overrides(churn={**FAST, "min_auc_gain": 1.0})
    second = churn.train(strict)
    assert second["version"] == "v0002"  # a new version, never overwritten
    best = max(scorers.BASELINES, key=lambda n: second["baselines"][n]["roc_auc"])
    assert second["scorer"]["name"] == best and "does not beat the best baseline beyond the noise" in second["scorer"]["why"]
    saved, m2 = registry.load_estimator(s, "churn", "v0002")
    assert type(saved) is type(scorers.make_baseline(best)) and m2["scorer"]["name"] == best
    by_baseline, _ = churn.score(s, "v0002")
    X = build_features(churn._read_tables(s), by_baseline["as_of"].iloc[0], churn.feature_settings(s, m2)).X[m2["features"]]
    expected = np.clip(saved.predict_proba(X)[:, 1], *churn.RISK_BOUNDS)  # the baseline, refitted on every cutoff, scores
    assert by_baseline.set_index("customer_id")["risk"].sort_index().to_numpy() == pytest.approx(pd.Series(expected, index=X.index).sort_index().to_numpy())

    scores, used = churn.score(s, "v0001")
    assert used["version"] == "v0001" and len(scores) > 100
    assert scores["risk"].between(0, 1).all() and scores["risk"].is_monotonic_decreasing
    assert (scores["value_at_risk"] <= scores["revenue_lookback"].clip(lower=0) + 0.01).all()
    risky = scores[scores["risk"] >= 0.5]
    assert len(risky) and risky["top_reasons"].str.len().gt(0).mean() > 0.95  # the customers at risk are told why
    written = churn.write_scores(s, scores, scores["as_of"].iloc[0], "v0001")
    again = churn.write_scores(s, scores, scores["as_of"].iloc[0], "v0001")
    assert written["rows"] == len(scores) and again["replaced"] == len(scores)
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM churn_scores WHERE version = 'v0001'").fetchall()[0][0] == len(scores)
        assert con.execute("SELECT count(*) FROM audit_log WHERE command = 'score churn'").fetchall()[0][0] == 2

    with duckdb.connect(str(s.warehouse_path)) as con:
        con.execute("DELETE FROM tickets")
    with pytest.raises(churn.ChurnError, match=r"needs features that cannot be computed.*tickets_recent.*no tickets loaded"):
        churn.score(s, "v0001")


def test_churn_settings_are_checked(tmp_path, no_config):
    cfg = tmp_path / "salesml.toml"
    for text, message in [
        ('[churn]\ncalibration = "platt"\n', "churn.calibration must be one of isotonic, sigmoid"),
        ("[churn]\nhorizon_days = 0\n", "churn.horizon_days must be 1 or more"),
        ("[churn]\nat_risk_threshold = 1.5\n", "churn.at_risk_threshold must be between 0 and 1"),
        ("[churn]\nhorizon = 90\n", "unknown setting 'churn.horizon'; did you mean 'horizon_days'"),
        ('[churn]\ncutoff_step = "fortnight"\n', 'churn.cutoff_step must be "month", "week" or a whole number of days'),
        ("[churn]\ncutoff_step = 0\n", "churn.cutoff_step must be"),
    ]:
        cfg.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_settings(cfg)
    cfg.write_text("[churn]\ncutoff_step = 14\n", encoding="utf-8")
    assert load_settings(cfg).churn.cutoff_step == 14


class RecencyAndTickets:
    """A stand-in model: risk rises with the days since the last purchase and with recent tickets."""

    def predict_proba(self, X):
        p = np.clip(X["recency_days"].to_numpy() / 100 + 0.2 * X["tickets_recent"].to_numpy(), 0, 1)
        return np.c_[1 - p, p]


def test_reasons_are_the_groups_that_raise_the_risk_in_plain_words():
    """A's risk (10 days, 2 recent tickets: 0.1 + 0.4 = the at-risk threshold) falls to 0.1
    with typical tickets (none) and to 0.4 with a typical recency (0 days): tickets first,
    then recency. B (20 days, no tickets: risk 0.2) is below the threshold: no reasons. The
    calendar group is never a reason."""
    t = hand_tables()
    fs = build_features(t, CUTOFF, S)
    reference = {c: (0.0 if c != "mean_satisfaction" else 4.0) for c in fs.X.columns if c not in ("segment", "region", "acquisition_channel")}
    reference.update(segment="SMB", region="East", acquisition_channel=UNKNOWN)
    groups = {"rfm": ["recency_days", "orders_lookback", "revenue_lookback", "avg_order_value"], "tickets": fs.groups["tickets"],
              "calendar": ["cutoff_month"]}
    why = churn.reasons(RecencyAndTickets(), fs.X, groups, reference, S)
    assert why[0] == [
        "2 tickets last quarter, 1 low satisfaction score this year, mean satisfaction 3.0/5, 1 ticket still open",
        "3 orders (320) in the last year, the last one 10 days ago",
    ]
    assert why[1] == []
    contrib = churn.contributions(RecencyAndTickets(), fs.X, groups, reference)
    assert "calendar" not in contrib  # the date is nobody's reason
    assert contrib.loc["A"].to_dict() == pytest.approx({"rfm": 0.1, "tickets": 0.4})


class Quirky:
    """A stand-in model that takes any departure from the typical customer as risk, in either
    direction (as a tree can on a few odd customers): the reasons must not follow it there."""

    def predict_proba(self, X):
        p = (0.2 + 0.5 * np.tanh(np.abs(X["spend_change"].fillna(0).to_numpy()))
             + 0.3 * np.tanh(np.abs(np.log(X["overdue_ratio"].fillna(1).to_numpy())))
             + 0.3 * (X["silence_prob"].to_numpy() < 0.1))
        return np.c_[1 - np.clip(p, 0, 1), np.clip(p, 0, 1)]


def test_reasons_agree_with_the_risk_and_never_claim_certainty():
    """Customers whose figures point each way, scored by a model that counts both ways as
    risk: spend up 474% and "no purchase for 20 days, usually every 350" are never reasons to
    leave; spend down and an overdue silence are; a customer below the threshold gets none;
    a tiny chance is "under 1%", never "0%"."""
    X = pd.DataFrame({
        "spend_recent": [5740.0, 500.0, 100.0, 1000.0], "spend_prior": [1000.0, 1000.0, 100.0, 1000.0],
        "orders_recent": [6.0, 1.0, 1.0, 2.0], "orders_prior": [2.0, 2.0, 1.0, 2.0],
        "spend_change": [4.74, -0.5, 0.0, 0.0], "orders_change": [2.0, -0.5, 0.0, 0.0], "recent_vs_pace": [1.0] * 4,
        "mean_gap_days": [350.0, 30.0, 30.0, 40.0], "std_gap_days": [10.0] * 4, "overdue_ratio": [20 / 350, 3.0, 1.0, 1.0],
        "orders_per_month": [0.1, 1.0, 1.0, 0.75], "quiet_prob_lookback": [0.5] * 4, "quiet_prob_lifetime": [0.5] * 4,
        "silence_prob": [0.5, 0.5, 0.5, 0.0001], "recency_days": [20.0, 90.0, 30.0, 300.0],
    }, index=pd.Index(["up", "down", "calm", "silent"], name="customer_id"))
    reference = {c: float(X[c].median()) for c in X.columns}
    reference.update(spend_change=0.0, overdue_ratio=1.0, silence_prob=0.5)
    groups = {"trend": ["spend_recent", "spend_prior", "orders_recent", "orders_prior", "spend_change", "orders_change", "recent_vs_pace"],
              "gaps": ["mean_gap_days", "std_gap_days", "overdue_ratio"],
              "pace": ["orders_per_month", "quiet_prob_lookback", "quiet_prob_lifetime", "silence_prob"]}
    risk = Quirky().predict_proba(X)[:, 1]
    assert min(risk[0], risk[1], risk[3]) >= S.at_risk_threshold > risk[2]
    contrib = churn.contributions(Quirky(), X, groups, reference)
    assert contrib.loc["up", "trend"] > 0.2 and contrib.loc["up", "gaps"] > 0.2  # the model does blame them
    why = dict(zip(X.index, churn.reasons(Quirky(), X, groups, reference, S), strict=True))
    assert why["up"] == []  # spend up and a purchase well within the usual gap argue the other way
    assert why["down"] == ["no purchase for 90 days, usually every 30 days", "spend down 50% vs the quarter before (1,000 → 500; orders 2 → 1)"]
    assert why["calm"] == []  # below the at-risk threshold
    assert why["silent"] == ["a silence this long is unusual at their pace (an order every 40 days; under 1% chance)"]
    assert not any("0%" in w and "100%" not in w and "under" not in w for ws in why.values() for w in ws if "chance" in w)


# --------------------------------------------------------------------------- anonymous (walk-in / guest) sales


@pytest.fixture(scope="module")
def guests(small_demo, tmp_path_factory):
    return anonymous_company.build(small_demo, tmp_path_factory.mktemp("guests"))


def test_anonymous_lines_are_in_no_churn_table_label_or_feature(guests, demo_tables):
    """With a quarter of anonymous lines (NULL and GUEST; GUEST also has a customers row and a
    ticket) the churn tables are the demo's, so are the active customers, the labels and the
    features at every cutoff."""
    ids = guests.settings.anonymous_customer_ids
    assert ids == (anonymous_company.GUEST,)
    with duckdb.connect(str(guests.settings.warehouse_path), read_only=True) as con:
        t = load_tables(con, anonymous=ids)
        naive = load_tables(con)
    for name in ("lines", "orders", "customers", "tickets"):
        pd.testing.assert_frame_equal(getattr(t, name), getattr(demo_tables, name), obj=name)
    assert anonymous_company.GUEST in set(naive.orders["customer_id"])  # a guest code nobody named is a customer
    assert naive.lines["customer_id"].notna().all()  # lines without a customer never were
    cutoffs = [pd.Timestamp("2025-06-30"), pd.Timestamp("2025-12-31")]
    ex, ref = churn.dataset(t, cutoffs, S), churn.dataset(demo_tables, cutoffs, S)
    pd.testing.assert_frame_equal(ex.X, ref.X)
    pd.testing.assert_series_equal(ex.y, ref.y)
    pd.testing.assert_frame_equal(ex.meta, ref.meta)


@pytest.mark.parametrize(("since", "through", "team"), [(None, "2026-06-30", None), ("2025-06-30", "2026-06-30", None),
                                                        ("2025-06-30", "2026-06-30", "T03"), (None, "2024-12-31", "T03")])
def test_churn_counts_what_it_leaves_out(guests, since, through, team):
    """The anonymous lines that happened in (since, through] (returns on the day they came back),
    credited to the team: as written."""
    with duckdb.connect(str(guests.settings.warehouse_path), read_only=True) as con:
        lo = left_out(con, through, since, f"team:{team}" if team else None, guests.settings.anonymous_customer_ids)
    e = guests.expected(guests.happened(date.fromisoformat(since) if since else None, date.fromisoformat(through), team))
    assert (lo.lines, lo.orders) == (e["lines"], e["orders"]) and e["lines"] > 50
    assert Decimal(str(lo.revenue)) == e["revenue"] and Decimal(str(lo.total_revenue)) == e["total_revenue"]
    # the same through the settings (a short read-only connection)
    assert churn.left_out(guests.settings, through, since, f"team:{team}" if team else None) == lo


# --------------------------------------------------------------------------- a real-looking shop export


def test_a_nine_month_shop_export_trains_with_the_defaults_and_scores_honestly(tmp_path):
    """A shop's 9-month export (tests/shop_churn.py: guest checkouts, credit notes, ids written
    as floats) loads through its mapping and trains churn with the default settings: one
    training cutoff and one holdout, the guest lines left out and counted (computed here with
    Decimal), every scorer measured, and a version that scores with the model only if it beats
    the best baseline beyond the noise (on this Pareto/NBD-like shop it does not: BG/NBD)."""
    shop = shop_churn.write(tmp_path / "data", customers=1000, months=9)
    (tmp_path / "salesml.toml").write_text('[warehouse]\npath = "wh.duckdb"\n[models]\ndir = "models"\n'
                                           + shop_churn.MAPPING.format(files=json.dumps(str(tmp_path / "data" / "*.csv"))), encoding="utf-8")
    s = load_settings(tmp_path / "salesml.toml")
    assert s.churn == ChurnSettings()  # the defaults
    [loaded] = ingest_source(s, "shop", s.sources["shop"])
    assert (loaded.rows_read, loaded.rows_loaded, loaded.rows_quarantined) == (len(shop.lines), len(shop.lines), 0)
    assert Decimal(str(loaded.revenue_loaded)) == sum((ln[3] for ln in shop.lines), Decimal("0"))
    assert (shop.last - shop.first).days + 1 == 274 and sum(ln[4] for ln in shop.lines) > 50  # credit notes

    result = churn.train(s)
    plan = result["cutoffs"]
    assert plan["test"] == [str(shop.last - pd.Timedelta(days=90).to_pytimedelta())] and len(plan["train"]) == 1
    expected = shop.anonymous(shop.last)
    got = result["anonymous"]
    assert (got["lines"], got["orders"]) == (expected["lines"], expected["orders"]) and expected["lines"] > 1000
    assert Decimal(str(got["revenue"])) == expected["revenue"]
    for m in (result["model"], *result["baselines"].values()):
        assert 0.5 < m["roc_auc"] < 1 and 0 < m["brier"] < 0.25
    scorer, gain = result["scorer"], result["scorer"]["auc_gain"]
    assert scorer["name"] == ("model" if gain["low"] > 0 else scorer["against"]) == "bgnbd"
    assert all("bgnbd_boundary_penalizer" in n for n in result["notes"] if "ended on the boundary" in n)
    scores, _ = churn.score(s)
    assert len(scores) > 300 and not scores["lookahead"].any() and scores["risk"].between(0.001, 0.999).all()
    assert shop_churn.GUEST not in set(scores["customer_id"])


def test_cdnow_loads_through_its_example_mapping(tmp_path):
    """examples/cdnow.toml: the real CDNOW sample (no header, whitespace-separated, dates as
    19970101) loads every row but the 21 exact repeats, to the cent (summed here with csv and
    Decimal), one purchase per customer and day."""
    data = CDNOW if CDNOW.is_file() else VENDORED_CDNOW
    text = (ROOT / "examples" / "cdnow.toml").read_text(encoding="utf-8")
    text = text.replace('"../../shared/data/cdnow/CDNOW_sample.txt"', json.dumps(str(data)))
    text = text.replace('path = "../data/cdnow.duckdb"', 'path = "wh.duckdb"').replace('dir = "../data/models/cdnow"', 'dir = "models"')
    cfg = tmp_path / "cdnow.toml"
    cfg.write_text(text, encoding="utf-8")
    rows = [line.split() for line in data.read_text(encoding="ascii").splitlines() if line.strip()]
    seen, repeats = set(), 0
    for r in rows:
        repeats += tuple(r) in seen
        seen.add(tuple(r))
    s = load_settings(cfg)
    [loaded] = ingest_source(s, "cdnow", s.sources["cdnow"])
    assert (loaded.rows_read, loaded.rows_loaded, loaded.rows_quarantined) == (len(rows), len(rows) - repeats, repeats) == (6919, 6898, 21)
    assert Decimal(str(loaded.revenue_read)) == sum((Decimal(r[4]) for r in rows), Decimal("0"))
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        first, last, customers = con.execute("SELECT min(order_date), max(order_date), count(DISTINCT customer_id) FROM order_lines").fetchall()[0]
    assert (str(first), str(last), customers) == ("1997-01-01", "1998-06-30", 2357)
