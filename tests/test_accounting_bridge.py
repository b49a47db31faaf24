"""The revenue bridge: parts that add up to the change, to the cent, on real-looking exports.

The ERP export in GBK (linked and unlinked returns, reps on every line) and the shop export
(guest checkouts under the anonymous id ``GUEST``, cancellations, no reps) of
tests/data/exports are loaded through their documented mappings; every expected part is
computed here from the files with ``csv``, ``Decimal`` and ``Fraction`` (the definitions of
the module's docstring, written out again), never with salesml.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pandas as pd
import pytest

from salesml import warehouse
from salesml.accounting import bridge
from salesml.accounting.performance import scope_summary
from salesml.periods import latest_complete_period
from salesml.scope import ScopeError
from tests.test_ingest_exports import Line, ledger_month, load

CENT = Decimal("0.01")
PARTS = ["new_customers", "lost_customers", "price", "volume", "mix", "returns"]


def dec(v) -> Decimal:
    return Decimal(f"{float(v):.2f}")


def to_cents(f: Fraction) -> Decimal:
    return (Decimal(f.numerator) / Decimal(f.denominator)).quantize(CENT, ROUND_HALF_UP)


def expected(lines: list[Line], month_of: Callable[[Line], str], base: set[str], current: set[str],
             group_of: Callable[[Line], str], anonymous: set[str]) -> dict[str, dict[str, Decimal]]:
    """The bridge per group, written out from the export's lines."""
    side = {m: "base" for m in base} | {m: "current" for m in current}
    # a line of no amount (the shop's sub-cent PADS) has no ledger entry, so no units either
    rows = [(ln, side[month_of(ln)]) for ln in lines if ln.status != "cancelled" and ln.amount and month_of(ln) in side]
    buyers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ln, s in rows:
        if ln.status == "completed" and ln.customer and ln.customer not in anonymous:
            buyers[(group_of(ln), ln.customer)].add(s)
    out: dict[str, dict] = defaultdict(lambda: defaultdict(Fraction))
    retained: dict[str, dict[str, dict[str, Fraction]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Fraction)))
    for ln, s in rows:
        g = out[group_of(ln)]
        amount = Fraction(ln.amount)
        g["base_revenue" if s == "base" else "revenue"] += amount
        if ln.status != "completed":
            g["returns"] += amount if s == "current" else -amount
            continue
        seen = {"base", "current"} if not ln.customer or ln.customer in anonymous else buyers[(group_of(ln), ln.customer)]
        if seen == {"base", "current"}:
            p = retained[group_of(ln)][ln.product]
            p["S" + s] += amount
            p["Q" + s] += Fraction(ln.quantity)
        elif s == "current":
            g["new_customers"] += amount
        else:
            g["lost_customers"] -= amount
    result = {}
    for name, g in out.items():
        price = at_base = Fraction(0)
        qa = qb = sa = Fraction(0)
        for p in retained[name].values():
            unit = p["Sbase"] / p["Qbase"] if p["Qbase"] else p["Scurrent"] / p["Qcurrent"] if p["Qcurrent"] else Fraction(0)
            price += p["Scurrent"] - p["Qcurrent"] * unit
            at_base += p["Qcurrent"] * unit
            qa, qb, sa = qa + p["Qbase"], qb + p["Qcurrent"], sa + p["Sbase"]
        avg = sa / qa if qa else Fraction(0)
        g["price"], g["volume"], g["mix"] = price, qb * avg - sa, at_base - qb * avg
        result[name] = {k: to_cents(v) for k, v in g.items()} | {"change": to_cents(g["revenue"] - g["base_revenue"])}
    return result


def check(actual: pd.DataFrame, key: str | None, want: dict[str, dict[str, Decimal]]) -> None:
    assert len(actual) == len(want)
    for _, row in actual.iterrows():
        w = want[row[key] if key else "company"]
        got = {c: dec(row[c]) for c in ["base_revenue", *PARTS, "revenue", "change"]}
        # the parts add up to the change exactly, and the change is the revenue's
        assert got["base_revenue"] + sum(got[p] for p in PARTS) == got["revenue"]
        assert got["revenue"] - got["base_revenue"] == got["change"] == w["change"]
        for c in ("base_revenue", "revenue", "new_customers", "lost_customers", "returns"):
            assert got[c] == w.get(c, Decimal(0)), (c, row.to_dict())
        for c in ("price", "volume"):  # each rounded to the cent from the same exact figure
            assert abs(got[c] - w.get(c, Decimal(0))) <= CENT, (c, row.to_dict())
        assert abs(got["mix"] - w.get("mix", Decimal(0))) <= 3 * CENT  # carries the parts' rounding


@pytest.fixture(scope="module")
def erp(tmp_path_factory):
    return load("erp_gbk", tmp_path_factory.mktemp("erp"))


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return load("shop_export", tmp_path_factory.mktemp("shop"))


def _bridge(loaded, period, compare, by="company", scope=None):
    s = loaded.settings
    with warehouse.open(s, read_only=True) as con:
        return bridge.revenue_bridge(con, period, compare, by, scope, s.performance, s.anonymous_customer_ids)


@pytest.mark.parametrize("period,by", [("2024-02", "company"), ("2024-03", "company"), ("2024-02", "rep"), ("2024-03", "rep")])
def test_erp_bridge_month_on_month_adds_up_and_matches_the_file(erp, period, by):
    exp = erp.export
    base, cur = bridge.stretches(period, "previous")
    want = expected(exp.loaded, ledger_month(exp), set(base), set(cur),
                    (lambda ln: ln.raw["业务员"]) if by == "rep" else (lambda ln: "company"), set())
    got = _bridge(erp, period, "previous", by)
    check(got, "rep_id" if by == "rep" else None, want)
    # linked returns counted in the sale's month, unlinked ones in their own: the same change as perf
    with warehouse.open(erp.settings, read_only=True) as con:
        a, b = (scope_summary(con, p, None, erp.settings.performance)["revenue"].iloc[0] for p in (base[0], cur[0]))
    assert dec(got["change"].sum()) == dec(b) - dec(a)


def test_erp_bridge_has_every_part_at_work(erp):
    """The fixture is not a trivial case: each part is non-zero somewhere."""
    got = pd.concat([_bridge(erp, p, "previous", "rep") for p in ("2024-02", "2024-03")])
    for part in PARTS:
        assert (got[part].abs() > 0).any(), part


def test_shop_guests_count_as_retained_walk_in_sales(shop):
    exp = shop.export
    anonymous = set(shop.settings.anonymous_customer_ids)
    assert "GUEST" in anonymous
    lines = [ln if ln.customer else Line(**{**ln.__dict__, "customer": "GUEST"}) for ln in exp.loaded]
    for period in ("2011-01", "2011-02", "2011-03"):
        base, cur = bridge.stretches(period, "previous")
        want = expected(lines, ledger_month(exp), set(base), set(cur), lambda ln: "company", anonymous)
        check(_bridge(shop, period, "previous"), None, want)


def test_ytd_and_last_year_stretches():
    assert bridge.stretches("2026-03", "ytd") == (["2025-01", "2025-02", "2025-03"], ["2026-01", "2026-02", "2026-03"])
    assert bridge.stretches("2026-01", "last_year") == (["2025-01"], ["2026-01"])
    assert bridge.stretches("2026-01", "previous") == (["2025-12"], ["2026-01"])
    with pytest.raises(ValueError, match="compare must be one of"):
        bridge.stretches("2026-01", "last_week")


def test_erp_ytd_bridge_adds_up(erp):
    exp = erp.export
    base, cur = bridge.stretches("2024-03", "ytd")
    # no sales a year earlier: everything is new customers
    got = _bridge(erp, "2024-03", "ytd")
    want = expected(exp.loaded, ledger_month(exp), set(base), set(cur), lambda ln: "company", set())
    check(got, None, want)
    assert got["current"].iloc[0] == "2024-01..2024-03" and got["base_revenue"].iloc[0] == 0


def test_a_reps_bridge_is_their_row_of_the_company_and_nothing_else(small_demo):
    def run(by, scope=None):
        with warehouse.open(small_demo, read_only=True) as con:
            period = latest_complete_period(con)
            return bridge.revenue_bridge(con, period, "previous", by, scope, small_demo.performance, small_demo.anonymous_customer_ids)

    all_reps = run("rep")
    rep = all_reps["rep_id"].iloc[0]
    mine = run("rep", f"rep:{rep}")
    assert mine["rep_id"].tolist() == [rep]
    pd.testing.assert_frame_equal(mine, all_reps.iloc[[0]].reset_index(drop=True))
    alone = run("company", f"rep:{rep}")
    assert dec(alone["change"].iloc[0]) == dec(mine["change"].iloc[0])
    assert dec(all_reps["change"].sum()) == dec(run("company")["change"].iloc[0])
    with pytest.raises(ScopeError, match="narrower"):
        run("team", f"rep:{rep}")


def test_category_bridge_sums_to_the_company(erp):
    cats = _bridge(erp, "2024-02", "previous", "category")
    company = _bridge(erp, "2024-02", "previous")
    assert dec(cats["change"].sum()) == dec(company["change"].iloc[0])
    assert dec(cats["returns"].sum()) == dec(company["returns"].iloc[0])


def test_decompose_by_hand_and_leaves_its_input_alone():
    # one retained customer: product A 10 units at 5 -> 12 units at 6 (price +12, volume, mix);
    # product B new to them: 2 units at 50; a new customer buys 30; a lost one had bought 20;
    # returns -7 then -4
    lines = pd.DataFrame(
        [
            ("g", "base", "retained", "A", Decimal("50.00"), 10.0),
            ("g", "current", "retained", "A", Decimal("72.00"), 12.0),
            ("g", "current", "retained", "B", Decimal("100.00"), 2.0),
            ("g", "current", "new", None, Decimal("30.00"), 1.0),
            ("g", "base", "lost", None, Decimal("20.00"), 1.0),
            ("g", "base", "other", None, Decimal("-7.00"), -1.0),
            ("g", "current", "other", None, Decimal("-4.00"), -1.0),
        ],
        columns=["group", "side", "status", "product_id", "amount", "quantity"],
    )
    before = lines.copy()
    row = bridge.decompose(lines).iloc[0]
    pd.testing.assert_frame_equal(lines, before)
    assert row["base_revenue"] == 63 and row["revenue"] == 198 and row["change"] == 135
    assert (row["new_customers"], row["lost_customers"], row["returns"]) == (30, -20, 3)
    # price: A 72 - 12*5 = 12; B priced at its own current unit value: 0
    assert row["price"] == 12
    # volume: (14 - 10) units at the base average 5 = 20; mix: 12*5 + 2*50 - 14*5 = 90
    assert row["volume"] == 20 and row["mix"] == 90
    assert sum(row[p] for p in PARTS) == row["change"]


def test_bridge_rejects_an_unknown_level(erp):
    with warehouse.open(erp.settings, read_only=True) as con, pytest.raises(ValueError, match="by must be one of"):
        bridge.bridge_lines(con, ["2024-01"], ["2024-02"], by="brand")
