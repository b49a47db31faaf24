"""Rep scorecards against team peers, on a hand-built company whose figures are computed here
in plain Python (``Decimal``, ``statistics``), never with salesml; and one run on the small demo.

The company (period 2024-06; window 2024-01..2024-06; retention base 2023-01..2023-12;
attainment trend 2024-04..2024-06):

* team TA (East): A1, A2, A3, A4; team TB (West): B1, alone.
* A1 discounts deep (10-20 %) and wins 4 of 7 closed opportunities, about as often as the
  team (A2 2 of 4, A3 4 of 6): "discounts deeper than the team for the same win rate".
* A4 has no opportunities at all, no retention base, and one line without a discount.
* A1's old customer C10 buys from A2 in the window (not retained by A1); A2 sold to the
  anonymous GUEST in the base window (not a customer); A3's C7 bought before the base window.
* A house sale without a rep, and a cancelled line, count for no rep.
"""

from __future__ import annotations

import csv
import dataclasses
import statistics
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from salesml import periods, warehouse
from salesml.accounting import performance as perf
from salesml.accounting import scorecard as sc
from salesml.config import ScorecardSettings
from tests.conftest import make_settings

PERIOD = "2024-06"
WINDOW = ("2024-01", "2024-06")
BASE = ("2023-01", "2023-12")
TREND = ["2024-04", "2024-05", "2024-06"]
GUEST = "GUEST"

TEAMS = {"A1": "TA", "A2": "TA", "A3": "TA", "A4": "TA", "B1": "TB"}
REGION = {"TA": "East", "TB": "West"}
CATEGORY = {"P1": "Alpha", "P2": "Beta", "P3": "Gamma"}

# order_id, line_no, order_date, customer_id, product_id, quantity, unit_price, rep_id, discount, status, return_of
LINES = [
    # retention base (2023)
    ("H1", 1, "2023-03-10", "C1", "P1", 1, "100", "A1", "0", "completed", None),
    ("H2", 1, "2023-07-10", "C2", "P1", 1, "100", "A1", "0", "completed", None),
    ("H3", 1, "2023-11-10", "C3", "P1", 1, "100", "A1", "0", "completed", None),
    ("H4", 1, "2023-05-10", "C10", "P1", 1, "100", "A1", "0", "completed", None),
    ("H5", 1, "2023-02-10", "C4", "P1", 1, "100", "A2", "0", "completed", None),
    ("H6", 1, "2023-06-10", "C11", "P1", 1, "100", "A2", "0", "completed", None),
    ("H7", 1, "2023-08-10", GUEST, "P1", 1, "100", "A2", "0", "completed", None),
    ("H8", 1, "2023-09-10", "C6", "P2", 1, "100", "A3", "0", "completed", None),
    ("H9", 1, "2022-12-10", "C7", "P2", 1, "100", "A3", "0", "completed", None),
    ("H10", 1, "2023-10-10", "C12", "P2", 1, "100", "A3", "0", "completed", None),
    ("H11", 1, "2023-04-10", "C9", "P1", 1, "100", "B1", "0", "completed", None),
    # the window before the trend
    ("W1", 1, "2024-03-10", "C10", "P1", 1, "100", "A2", "0", "completed", None),
    ("W2", 1, "2024-02-10", GUEST, "P1", 1, "100", "A2", "0", "completed", None),
    # April and May
    ("T1", 1, "2024-04-10", "C1", "P1", 4, "100", "A1", "0", "completed", None),
    ("T2", 1, "2024-05-10", "C2", "P1", 5, "90", "A1", "0.10", "completed", None),
    ("T3", 1, "2024-04-11", "C4", "P1", 6, "100", "A2", "0", "completed", None),
    ("T4", 1, "2024-05-11", "C4", "P1", 5, "100", "A2", "0", "completed", None),
    # June
    ("A1S1", 1, "2024-06-03", "C1", "P1", 2, "85", "A1", "0.15", "completed", None),
    ("A1S1", 2, "2024-06-03", "C1", "P2", 1, "85", "A1", "0.15", "completed", None),
    ("A1S2", 1, "2024-06-12", "C2", "P1", 1, "80", "A1", "0.20", "completed", None),
    ("A1S3", 1, "2024-06-20", "C3", "P1", 3, "90", "A1", "0.10", "completed", None),
    ("A1R1", 1, "2024-06-25", "C3", "P1", -1, "90", "A1", "0.10", "returned", ("A1S3", 1)),
    ("A2S1", 1, "2024-06-04", "C4", "P1", 2, "95", "A2", "0.05", "completed", None),
    ("A2S2", 1, "2024-06-14", "C5", "P2", 2, "95", "A2", "0.05", "completed", None),
    ("A2S3", 1, "2024-06-21", "C5", "P3", 1, "95", "A2", "0.05", "completed", None),
    ("A3S1", 1, "2024-06-05", "C6", "P2", 5, "94", "A3", "0.06", "completed", None),
    ("A3S2", 1, "2024-06-18", "C7", "P2", 1, "94", "A3", "0.06", "completed", None),
    ("A3C", 1, "2024-06-19", "C7", "P2", 1, "94", "A3", "0.06", "cancelled", None),
    ("A4S1", 1, "2024-06-07", "C8", "P3", 1, "96", "A4", "0.04", "completed", None),
    ("A4S2", 1, "2024-06-08", "C8", "P1", 1, "100", "A4", None, "completed", None),
    ("B1S1", 1, "2024-06-10", "C9", "P1", 10, "90", "B1", "0.10", "completed", None),
    ("X1", 1, "2024-06-09", "C1", "P1", 1, "100", None, "0", "completed", None),
]

# rep_id, period, target_revenue
TARGETS = [
    ("A1", "2024-04", 500), ("A1", "2024-05", 500), ("A1", "2024-06", 500),
    ("A2", "2024-04", 500), ("A2", "2024-05", 500), ("A2", "2024-06", 500),
    ("A3", "2024-06", 400),
    ("A4", "2024-04", 200), ("A4", "2024-06", 200),
    ("B1", "2024-06", 1000),
]

# opp_id, rep_id, created_date, closed_date, stage, outcome
OPPS = [
    ("O1", "A1", "2024-01-01", "2024-01-11", "Closed Won", "won"),
    ("O2", "A1", "2024-02-01", "2024-02-21", "Closed Won", "won"),
    ("O3", "A1", "2024-03-01", "2024-03-31", "Closed Won", "won"),
    ("O4", "A1", "2024-04-01", "2024-05-11", "Closed Won", "won"),
    ("O5", "A1", "2024-02-01", "2024-03-01", "Closed Lost", "lost"),
    ("O6", "A1", "2024-03-01", "2024-04-01", "Closed Lost", "lost"),
    ("O7", "A1", "2024-05-01", "2024-06-01", "Closed Lost", "lost"),
    ("O8", "A1", "2023-10-01", "2023-12-20", "Closed Won", "won"),  # closed before the window
    ("O9", "A2", "2024-01-10", "2024-01-30", "Closed Won", "won"),
    ("O10", "A2", "2024-02-10", "2024-04-10", "Closed Won", "won"),
    ("O11", "A2", "2024-03-10", "2024-04-10", "Closed Lost", "lost"),
    ("O12", "A2", "2024-04-10", "2024-05-10", "Closed Lost", "lost"),
    ("O13", "A2", "2024-05-10", None, "Proposal", "open"),
    ("O14", "A3", "2024-01-05", "2024-01-15", "Closed Won", "won"),
    ("O15", "A3", "2024-02-05", "2024-02-19", "Closed Won", "won"),
    ("O16", "A3", "2024-03-05", "2024-03-23", "Closed Won", "won"),
    ("O17", "A3", "2024-04-05", "2024-05-05", "Closed Lost", "lost"),
    ("O18", "A3", "2024-04-06", "2024-05-06", "Closed Lost", None),  # the stage decides
    ("O19", "A3", "2024-05-20", "2024-05-10", "Closed Won", "won"),  # closed before created: no cycle
    ("O20", "B1", "2024-02-01", "2024-03-02", "Closed Won", "won"),
    ("O21", "B1", "2024-02-01", "2024-03-02", "Closed Lost", "lost"),
]

#: small samples are enough in this company
SETTINGS = ScorecardSettings(min_closed_opportunities=2, min_won_opportunities=1)


def _write(path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    from salesml.accounting.ledger import ensure_posted
    from salesml.ingest import canonical_source, ingest_source

    root = tmp_path_factory.mktemp("scorecard")
    s = make_settings(root)
    files = {
        "reps": _write(root / "reps.csv", ["rep_id", "name", "role", "team", "region", "valid_from"],
                       [(r, f"Rep {r}", "rep", t, REGION[t], "2022-01-01") for r, t in TEAMS.items()]),
        "products": _write(root / "products.csv", ["product_id", "name", "category", "unit_cost", "list_price"],
                           [(p, p, c, 50, 100) for p, c in CATEGORY.items()]),
        "customers": _write(root / "customers.csv", ["customer_id", "name"],
                            [(f"C{i}", f"Customer {i}") for i in range(1, 13)] + [(GUEST, "Guest")]),
        "order_lines": _write(
            root / "order_lines.csv",
            ["order_id", "line_no", "order_date", "customer_id", "product_id", "quantity", "unit_price", "amount",
             "rep_id", "discount", "currency", "status", "return_of_order_id", "return_of_line_no", "region"],
            [(o, n, d, c, p, q, u, Decimal(u) * q, r or "", "" if disc is None else disc, "CNY", st,
              ret[0] if ret else "", ret[1] if ret else "", REGION[TEAMS[r]] if r else "East")
             for o, n, d, c, p, q, u, r, disc, st, ret in LINES],
        ),
        "targets": _write(root / "targets.csv", ["rep_id", "team", "region", "period", "target_revenue"],
                          [(r, TEAMS[r], REGION[TEAMS[r]], p, t) for r, p, t in TARGETS]),
        "opportunities": _write(
            root / "opportunities.csv",
            ["opp_id", "customer_id", "rep_id", "created_date", "stage", "closed_date", "amount", "outcome"],
            [(o, "C1", r, c, st, cl or "", 1000, out or "") for o, r, c, cl, st, out in OPPS],
        ),
    }
    src = dataclasses.replace(canonical_source(files), anonymous_customer=GUEST)
    results = ingest_source(s, "toy", src)
    ensure_posted(s)
    with warehouse.open(s, read_only=True) as con:
        loaded = dict(con.execute("SELECT 'lines', count(*) FROM order_lines UNION ALL "
                                  "SELECT 'opps', count(*) FROM opportunities").fetchall())
    assert loaded == {"lines": len(LINES), "opps": len(OPPS)}, results
    return s


@pytest.fixture
def con(company):
    with warehouse.open(company, read_only=True) as c:
        yield c


# --------------------------------------------------------------------------- expected, by hand


def _month(d: str) -> str:
    return d[:7]


def _amount(line) -> Decimal:
    return Decimal(line[6]) * line[5]


def expected_figures(rep: str) -> dict:
    """The rep's figures from LINES / OPPS / TARGETS (see salesml.accounting.scorecard)."""
    sales = [ln for ln in LINES if ln[7] == rep and ln[9] == "completed" and _month(ln[2]) == PERIOD]
    returns = [ln for ln in LINES if ln[7] == rep and ln[9] == "returned" and _month(ln[2]) == PERIOD]
    gross = sum((_amount(ln) for ln in sales), Decimal(0))
    ret = -sum((_amount(ln) for ln in returns), Decimal(0))
    orders = len({ln[0] for ln in sales})
    with_disc = [ln for ln in sales if ln[8] is not None]
    disc_base = sum((_amount(ln) for ln in with_disc), Decimal(0))
    by_cat: dict[str, Decimal] = {}
    for ln in sales:
        by_cat[CATEGORY[ln[4]]] = by_cat.get(CATEGORY[ln[4]], Decimal(0)) + _amount(ln)
    top = sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))[0] if by_cat else None
    closed = [o for o in OPPS if o[1] == rep and o[3] and WINDOW[0] <= _month(o[3]) <= WINDOW[1] and o[4].startswith("Closed")]
    won = [o for o in closed if o[4] == "Closed Won"]
    cycles = [(date.fromisoformat(o[3]) - date.fromisoformat(o[2])).days for o in won if o[3] >= o[2]]

    def customers(first, last):
        return {ln[3] for ln in LINES if ln[7] == rep and ln[9] == "completed" and ln[3] != GUEST
                and first <= _month(ln[2]) <= last}

    base = customers(*BASE)
    kept = base & customers(*WINDOW)
    targets = {p: t for r, p, t in TARGETS if r == rep}

    def revenue(month):
        return sum((_amount(ln) for ln in LINES if ln[7] == rep and ln[9] in ("completed", "returned") and _month(ln[2]) == month),
                   Decimal(0))

    att = {p: float(revenue(p) / targets[p] * 100) if p in targets else None for p in TREND}
    points = [(i, att[p]) for i, p in enumerate(TREND) if att[p] is not None]
    slope = statistics.linear_regression(*zip(*points, strict=True)).slope if len(points) >= 2 else None
    return {
        "gross_sales": float(gross),
        "returns": float(ret),
        "orders": orders,
        "aov": float(gross / orders) if orders else None,
        "return_rate_pct": float(ret / gross * 100) if gross else None,
        "discount_pct": float(sum((_amount(ln) * Decimal(ln[8]) for ln in with_disc), Decimal(0)) / disc_base * 100) if disc_base else None,
        "top_category": top[0] if top else None,
        "top_category_share_pct": float(top[1] / gross * 100) if top else None,
        "categories": len(by_cat),
        "opps_won": len(won),
        "opps_lost": len(closed) - len(won),
        "win_rate_pct": len(won) / len(closed) * 100 if closed else None,
        "sales_cycle_days": float(statistics.median(cycles)) if cycles else None,
        "customers_base": len(base),
        "customers_retained": len(kept),
        "retention_pct": len(kept) / len(base) * 100 if base else None,
        "attainment_pct_m2": att[TREND[0]],
        "attainment_pct_m1": att[TREND[1]],
        "attainment_pct": att[TREND[2]],
        "attainment_slope": slope,
    }


def expected_peer_median(rep: str, column: str, s: ScorecardSettings = SETTINGS):
    def usable(r):
        f = expected_figures(r)
        if f[column] is None:
            return False
        if column == "win_rate_pct":
            return f["opps_won"] + f["opps_lost"] >= s.min_closed_opportunities
        if column == "sales_cycle_days":
            return f["opps_won"] >= s.min_won_opportunities
        return True

    values = [expected_figures(r)[column] for r, t in TEAMS.items() if t == TEAMS[rep] and r != rep and usable(r)]
    return statistics.median(values) if len(values) >= s.min_peers else None


def check(actual, expected):
    if expected is None:
        assert pd.isna(actual), actual
    elif isinstance(expected, str):
        assert actual == expected
    else:
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------- tests


@pytest.fixture
def card(con):
    return sc.scorecard(con, PERIOD, "company", SETTINGS, anonymous=(GUEST,))


def test_every_rep_s_figures_match_the_hand_computation(card):
    assert sorted(card["rep_id"]) == sorted(TEAMS)  # the house sale (no rep) is nobody's row
    for rep in TEAMS:
        row = card.set_index("rep_id").loc[rep]
        assert row["team"] == TEAMS[rep] and row["region"] == REGION[TEAMS[rep]]
        for column, value in expected_figures(rep).items():
            check(row[column], value)


def test_a_few_figures_worked_out_on_paper(card):
    a1 = card.set_index("rep_id").loc["A1"]
    assert a1["gross_sales"] == 605  # 170 + 85 + 80 + 270
    assert a1["discount_pct"] == pytest.approx(81.25 / 605 * 100)  # (25.5 + 12.75 + 16 + 27) / 605
    assert a1["win_rate_pct"] == pytest.approx(400 / 7)  # O8 closed before the window
    assert a1["sales_cycle_days"] == 25  # 10, 20, 30, 40
    assert (a1["customers_base"], a1["customers_retained"]) == (4, 3)  # C10 went to A2
    assert a1["attainment_pct"] == pytest.approx(103.0)  # (605 - 90) / 500
    a2 = card.set_index("rep_id").loc["A2"]
    assert a2["customers_base"] == 2  # C4, C11: not the GUEST
    a3 = card.set_index("rep_id").loc["A3"]
    assert (a3["opps_won"], a3["opps_lost"]) == (4, 2)  # O18 lost by its stage
    assert a3["sales_cycle_days"] == 14  # O19 (closed before created) left out
    assert a3["orders"] == 2  # the cancelled line left out


def test_peer_medians_leave_the_rep_out(card):
    for rep in TEAMS:
        row = card.set_index("rep_id").loc[rep]
        for m in sc.MEASURES:
            check(row[f"peer_{m.column}"], expected_peer_median(rep, m.column))
    a1 = card.set_index("rep_id").loc["A1"]
    assert a1["peers"] == 3
    assert a1["peer_discount_pct"] == pytest.approx(5.0)  # median of A2 5, A3 6, A4 4
    assert a1["diff_discount_pct"] == pytest.approx(81.25 / 605 * 100 - 5.0)  # points
    assert a1["diff_aov"] == pytest.approx((605 / 3) / statistics.median([475 / 3, 564 / 2, 196 / 2]))  # a ratio


def test_a_rep_with_no_opportunities_has_no_win_rate_and_no_invented_zero(card):
    a4 = card.set_index("rep_id").loc["A4"]
    assert (a4["opps_won"], a4["opps_lost"]) == (0, 0)  # true counts
    for column in ("win_rate_pct", "sales_cycle_days", "diff_win_rate_pct", "diff_sales_cycle_days", "retention_pct"):
        assert pd.isna(a4[column]), column
    assert not pd.isna(a4["peer_win_rate_pct"])  # the team's median is still known
    found = sc.findings(card, SETTINGS)
    assert not set(found.loc[found["rep_id"] == "A4", "measure"]) & {"win_rate", "sales_cycle", "retention"}


def test_a_rep_alone_in_the_team_has_no_peers_and_no_findings(card):
    b1 = card.set_index("rep_id").loc["B1"]
    assert b1["peers"] == 0
    assert all(pd.isna(b1[f"peer_{m.column}"]) for m in sc.MEASURES)
    assert "B1" not in set(sc.findings(card, SETTINGS)["rep_id"])


def test_deeper_discount_for_the_same_win_rate_is_one_paired_gap(card):
    found = sc.findings(card, SETTINGS)
    assert list(found.columns) == sc.FINDING_COLUMNS
    assert set(found["code"]) <= set(sc.CODES)
    a1 = found[(found["rep_id"] == "A1") & (found["measure"] == "discount")]
    assert len(a1) == 1
    f = a1.iloc[0]
    assert f["code"] == "discount_deeper_same_win_rate" and f["direction"] == "gap" and f["pair"] == "win_rate"
    assert f["difference"] == pytest.approx(81.25 / 605 * 100 - 5.0) and f["difference_unit"] == "points"
    assert f["magnitude"] == pytest.approx(f["difference"] / SETTINGS.discount_points)
    team_win = statistics.median([50.0, 400 / 6])  # A2 2 of 4, A3 4 of 6
    assert f["pair_value"] == pytest.approx(400 / 7) and f["pair_peer_value"] == pytest.approx(team_win)
    assert abs(f["pair_difference"]) <= SETTINGS.same_win_rate_points
    # with a stricter "same", it is a plain discount gap
    strict = dataclasses.replace(SETTINGS, same_win_rate_points=1.0)
    plain = sc.findings(card, strict)
    plain_a1 = plain[(plain["rep_id"] == "A1") & (plain["measure"] == "discount")].iloc[0]
    assert plain_a1["code"] == "discount_above_team" and pd.isna(plain_a1["pair"])
    # and the others: A3 wins more often, with a shorter cycle; A2 less often
    codes = set(zip(found["rep_id"], found["code"], found["direction"], strict=True))
    assert ("A3", "win_rate_above_team", "strength") in codes
    assert ("A3", "sales_cycle_below_team", "strength") in codes
    assert ("A2", "win_rate_below_team", "gap") in codes
    assert (found["magnitude"] >= 1).all()


def test_thresholds_decide_what_is_mentioned(card):
    lax = sc.findings(card, SETTINGS)
    strict = sc.findings(card, dataclasses.replace(SETTINGS, discount_points=50.0, win_rate_points=90.0, same_win_rate_points=3.0))
    assert "discount" in set(lax["measure"]) and "discount" not in set(strict["measure"])
    assert "win_rate" not in set(strict["measure"])


def test_small_samples_are_not_compared(con):
    # by default a win rate needs 5 closed opportunities: only A1 (7) and A3 (6) qualify
    card = sc.scorecard(con, PERIOD, "team:TA", anonymous=(GUEST,)).set_index("rep_id")
    # A2 (4 closed) keeps the figure but is not compared...
    assert card.loc["A2", "win_rate_pct"] == 50 and pd.isna(card.loc["A2", "diff_win_rate_pct"])
    assert card.loc["A2", "peer_win_rate_pct"] == pytest.approx(statistics.median([400 / 7, 400 / 6]))
    # ...nor counted in a median: A1 and A3 have one peer with a win rate each, too few
    assert pd.isna(card.loc["A1", "peer_win_rate_pct"]) and pd.isna(card.loc["A3", "peer_win_rate_pct"])


def test_a_rep_scope_returns_only_the_rep_with_the_team_s_medians(con, card):
    mine = sc.scorecard(con, PERIOD, "rep:A1", SETTINGS, anonymous=(GUEST,))
    assert list(mine["rep_id"]) == ["A1"]
    expected = card[card["rep_id"] == "A1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, expected)
    # nothing of the other reps: no other id anywhere, no column of their figures
    others = {"A2", "A3", "A4", "B1"}
    assert not others & set(mine.astype(str).to_numpy().ravel())
    assert not others & set(sc.findings(mine, SETTINGS)["rep_id"])
    team = sc.scorecard(con, PERIOD, "team:TA", SETTINGS, anonymous=(GUEST,))
    assert sorted(team["rep_id"]) == ["A1", "A2", "A3", "A4"]
    assert list(sc.scorecard(con, PERIOD, "team:TB", SETTINGS)["rep_id"]) == ["B1"]
    assert list(sc.scorecard(con, PERIOD, "region:West", SETTINGS)["rep_id"]) == ["B1"]


def test_pure_functions_do_not_change_their_input(card):
    rows = card[[c for c in card.columns if not c.startswith(("peer_", "diff_")) and c != "peers"]]
    before_rows, before_card = rows.copy(deep=True), card.copy(deep=True)
    again = sc.against_peers(rows, SETTINGS)
    sc.findings(card, SETTINGS)
    pd.testing.assert_frame_equal(rows, before_rows)
    pd.testing.assert_frame_equal(card, before_card)
    pd.testing.assert_frame_equal(again, card, check_like=True)
    pd.testing.assert_frame_equal(sc.against_peers(card, SETTINGS), card)  # compared again: the same


def test_findings_of_an_empty_scorecard_are_an_empty_typed_frame(card):
    none = sc.findings(card.iloc[0:0], SETTINGS)
    assert none.empty and list(none.columns) == sc.FINDING_COLUMNS
    assert none["magnitude"].dtype == "float64"
    with pytest.raises(ValueError, match="peer comparison"):
        sc.findings(card[["rep_id", "team"]], SETTINGS)


def test_missing_tables_degrade_with_a_note(tmp_path):
    from tests.conftest import load_toy

    s = make_settings(tmp_path)
    load_toy(s)  # no opportunities
    with warehouse.open(s, read_only=True) as c:
        card = sc.scorecard(c, "2024-02")
    assert card["win_rate_pct"].isna().all() and card["opps_won"].isna().all()
    assert "no opportunities loaded: win rate and sales cycle skipped" in card.attrs["notes"]
    assert set(card["rep_id"]) == {"R1", "R2", "R3"}


def test_small_demo_is_sane_and_agrees_with_performance(small_demo):
    with warehouse.open(small_demo, read_only=True) as c:
        period = periods.latest_complete_period(c)
        card = sc.scorecard(c, period, anonymous=small_demo.anonymous_customer_ids)
        reps = perf.performance(c, period, "rep")
    assert len(card) > 3 and card["rep_id"].is_unique
    reps = reps[reps["rep_id"] != "(unassigned)"]
    gross = reps.groupby("rep_id")["gross_sales"].sum()
    assert set(card["rep_id"]) == set(gross.index)
    mine = card.set_index("rep_id")["gross_sales"]
    pd.testing.assert_series_equal(mine.sort_index(), gross.astype(float).sort_index(), check_names=False, atol=0.005)
    for column in ("win_rate_pct", "return_rate_pct", "retention_pct", "top_category_share_pct", "discount_pct"):
        values = card[column].dropna()
        assert len(values) and values.between(0, 100).all(), column
    assert card["discount_pct"].dropna().lt(60).all()  # a fraction x 100, not a percent x 100
    sold = card[card["gross_sales"] > 0]
    assert (sold["aov"] > 0).all() and (sold["categories"] >= 1).all()
    assert (card["sales_cycle_days"].dropna() >= 0).all()
    assert card["peers"].ge(0).all() and card["peer_aov"].notna().any()
    found = sc.findings(card, small_demo.scorecard)
    assert set(found["code"]) <= set(sc.CODES) and set(found["direction"]) <= {"strength", "gap"}
    assert (found["magnitude"] >= 1).all()


def test_settings_are_checked_at_load(tmp_path, no_config):
    from salesml.config import ConfigError, load_settings

    cfg = tmp_path / "salesml.toml"
    cfg.write_text("[scorecard]\nwindow_months = 12\naov_ratio = 1.5\n", encoding="utf-8")
    s = load_settings(cfg).scorecard
    assert (s.window_months, s.aov_ratio, s.discount_points) == (12, 1.5, 3.0)
    for bad, message in (("aov_ratio = 0.8", "above 1"), ("same_win_rate_points = 6.0", "below win_rate_points"),
                         ("trend_months = 1", "2 or more"), ("discount_point = 3.0", "did you mean 'discount_points'")):
        cfg.write_text(f"[scorecard]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_settings(cfg)
