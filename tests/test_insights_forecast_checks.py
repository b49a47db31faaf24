"""Early warnings of the forecast report: actuals outside the backtest's interval, reorder
alerts soonest to run out first, the node least likely to reach target. Expected figures are
worked out by hand (``statistics.NormalDist`` for the interval of a sum)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from salesml.insights import forecast_checks as FC

WEEKS = pd.date_range("2026-01-04", periods=6, freq="W-SUN")  # W0..W5, Sundays
Z80 = NormalDist().inv_cdf(0.9)


def _history(values: dict[str, list[float]], weeks=WEEKS) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": weeks[: len(v)], "y": v}) for uid, v in values.items()], ignore_index=True)


def _windows(rows: list[tuple]) -> pd.DataFrame:
    """(uid, week index, window, yhat, lo, hi) -> window forecasts (model theta)."""
    return pd.DataFrame([{"unique_id": u, "ds": WEEKS[i], "yhat": f, "lo": lo, "hi": hi, "model": "theta", "window": w}
                         for u, i, w, f, lo, hi in rows])


def test_the_latest_complete_step_against_the_interval_of_the_window_that_forecast_it():
    # windows: 1 forecast W2-W3 from the data up to W1, 2 forecast W4-W5 from the data up to W3
    history = _history({"a": [100, 100, 100, 100, 100, 70], "b": [100] * 5 + [110], "c": [100] * 5 + [150],
                        "none": [100] * 6, "flat": [5] * 6})
    rows = []
    for uid in ("a", "b", "c"):
        rows += [(uid, 2, 1, 100, 80, 120), (uid, 3, 1, 100, 80, 120), (uid, 4, 2, 100, 80, 120), (uid, 5, 2, 100, 80, 120)]
    rows += [("a", 5, 1, 1, 0, 1)]  # an older window's forecast of the same step: not the latest, ignored
    rows += [("none", 5, 2, 100, np.nan, np.nan), ("flat", 5, 2, 5, 5, 5)]
    wf = _windows(rows)
    wf = pd.concat([wf, _windows([("a", 5, 2, 100, 80, 120)]).assign(ds=WEEKS[5] + pd.Timedelta(weeks=1))])  # after the history
    before = wf.copy()
    out = FC.outside_interval(wf, history, 80, steps=1)
    pd.testing.assert_frame_equal(wf, before)  # pure
    assert out.columns.tolist() == FC.OUTSIDE_COLUMNS
    got = out.set_index("unique_id")
    assert out["unique_id"].tolist() == ["c", "a", "b", "flat", "none"]  # outside first, furthest beyond its bound first
    sigma = 40 / (2 * Z80)
    a = got.loc["a"]
    assert (a["side"], a["outside"], a["actual"], a["forecast"], a["lo"], a["hi"]) == ("below", True, 70, 100, 80, 120)
    assert a["beyond"] == 10 and a["distance"] == pytest.approx(10 / sigma) and a["error_pct"] == pytest.approx(-30)
    assert a["window"] == 2 and a["cutoff"] == WEEKS[3] and a["first"] == a["last"] == WEEKS[5] and a["ahead"] == 2 and a["steps"] == 1
    assert (got.loc["c", "side"], got.loc["c", "beyond"]) == ("above", 30)
    assert (got.loc["b", "side"], got.loc["b", "outside"], got.loc["b", "beyond"]) == ("", False, 0)
    for uid in ("none", "flat"):  # no interval, or one of zero width: not checked
        assert not got.loc[uid, "outside"] and math.isnan(got.loc[uid, "sigma"])


def test_several_steps_are_summed_and_their_interval_is_the_sum_s_taken_as_independent():
    history = _history({"a": [100, 100, 100, 100, 100, 70], "gap": [100, 100, 100, 100, 100, 70]})
    history = history[~((history["unique_id"] == "gap") & (history["ds"] == WEEKS[4]))]  # a step the panel would fill with 0
    wf = _windows([(u, i, 2, 100, 80, 120) for u in ("a", "gap") for i in (4, 5)])
    out = FC.outside_interval(wf, history, 80, steps=2).set_index("unique_id")
    a = out.loc["a"]
    # alone, W4 (100) is inside and W5 (70) outside; summed, 170 against 200 ± z·√2·σ
    sigma = math.sqrt(2) * 40 / (2 * Z80)
    lo, hi = 200 - Z80 * sigma, 200 + Z80 * sigma
    assert (a["actual"], a["forecast"], a["steps"]) == (170, 200, 2)
    assert a["lo"] == pytest.approx(lo) and a["hi"] == pytest.approx(hi) and lo == pytest.approx(171.716, abs=1e-3)
    assert a["side"] == "below" and a["beyond"] == pytest.approx(lo - 170) and a["first"] == WEEKS[4]
    assert out.loc["gap", "actual"] == 70  # the missing week counts 0
    # more steps than the window holds: the window's steps
    assert FC.outside_interval(wf, history, 80, steps=5).set_index("unique_id").loc["a", "steps"] == 2
    assert FC.outside_interval(None, history, 80).empty and FC.outside_interval(wf.iloc[:0], history, 80).empty


def test_counts_say_how_many_a_right_interval_would_miss_by_chance():
    checked = pd.DataFrame({
        "unique_id": ["r1", "r2", "r3", "t1", "x"],
        "sigma": [1.0, 1.0, 1.0, 1.0, np.nan],
        "side": ["below", "above", "", "", ""],
        "outside": [True, True, False, False, False],
    })
    counts = FC.outside_counts(checked, 80, lambda u: {"r": "rep", "t": "team"}.get(u[0])).set_index("level")
    assert counts.loc["rep", ["checked", "outside", "below", "above"]].tolist() == [3, 2, 1, 1]
    assert counts.loc["rep", "expected"] == pytest.approx(0.6)
    assert counts.loc["rep", "p_value"] == pytest.approx(3 * 0.2**2 * 0.8 + 0.2**3)  # P(2 or 3 of 3 miss)
    assert counts.loc["team", "outside"] == 0 and counts.loc["team", "p_value"] == pytest.approx(1.0)
    assert None not in counts.index  # the unchecked series is not counted
    assert FC.outside_counts(checked, 80)["level"].tolist() == ["all"]


def test_reorder_warnings_soonest_to_run_out_first():
    alerts = pd.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4"], "warehouse": ["A", "A", "B", "A"],
        "days_of_cover": [12.0, 0.0, 3.0, 0.0], "lead_time_days": [10, 14, 5, 7], "shortfall": [5.0, 20.0, 9.0, 40.0],
    })
    out = FC.reorder_warnings(alerts)
    assert out["product_id"].tolist() == ["P4", "P2", "P3", "P1"]  # out of stock (largest shortfall first), then 3 days
    assert out["before_lead_time"].tolist() == [True, True, True, False]
    assert FC.reorder_warnings(alerts.iloc[:0]).empty


def test_least_likely_to_reach_target():
    rows = pd.DataFrame({"unique_id": ["c", "r1", "r2", "r3"], "p_reach_target": [0.2, 0.6, 0.1, np.nan],
                         "gap_to_target": [5.0, -1.0, 3.0, 9.0]})
    assert FC.least_likely(rows, ["r1", "r2", "r3"])["unique_id"] == "r2"
    assert FC.least_likely(rows, ["r3"]) == {}
