"""The demo company generator: file contract, determinism and the structure later models rely on."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pytest

from salesml.demo.generator import generate
from salesml.demo.source import (
    FILE_NAMES,
    OUTCOME_CODES,
    RAW_COLUMNS,
    REGIONS,
    ROLE_CODES,
    STATUS_CODES,
)

END = date(2026, 6, 30)
SEED = 7


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, scale="small", seed=SEED, end_date=END)
    return out


@pytest.fixture(scope="module")
def manifest(demo) -> dict:
    return json.loads((demo / "manifest.json").read_text(encoding="utf-8"))


def _raw(demo: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(demo / FILE_NAMES[table], dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def lines(demo) -> pd.DataFrame:
    df = _raw(demo, "order_lines")
    df["date"] = pd.to_datetime(df["Order Date"], format="%Y-%m-%d")
    for col in ("Qty", "Unit Price", "Net Amount", "Discount", "Unit Cost"):
        df[col] = df[col].astype(float)
    df["Line No"] = df["Line No"].astype(int)
    return df


@pytest.fixture(scope="module")
def sales(lines) -> pd.DataFrame:
    return lines[lines["Status"] != "Returned"]


@pytest.fixture(scope="module")
def net_daily(lines, manifest) -> pd.Series:
    ok = lines[lines["Status"] != "Cancelled"]
    days = pd.date_range(manifest["start_date"], manifest["end_date"])
    return ok.groupby("date")["Net Amount"].sum().reindex(days, fill_value=0.0)


@pytest.fixture(scope="module")
def reps(demo) -> pd.DataFrame:
    df = _raw(demo, "reps")
    df["from"] = pd.to_datetime(df["Valid From"])
    df["to"] = pd.to_datetime(df["Valid To"].replace("", None)).fillna(pd.Timestamp.max.normalize())
    return df


@pytest.fixture(scope="module")
def traits(demo) -> pd.DataFrame:
    df = pd.read_csv(demo / "truth" / "customer_traits.csv", parse_dates=["churn_date", "acquisition_date"])
    df["complaint_q"] = pd.qcut(df["complaint_propensity"].rank(method="first"), 4, labels=False)
    return df


# --------------------------------------------------------------------------- the file contract


def test_files_and_headers_match_the_contract(demo, manifest):
    for table, cols in RAW_COLUMNS.items():
        raw = (demo / FILE_NAMES[table]).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), f"{table}: BOM"
        raw.decode("utf-8")
        header = raw.split(b"\n", 1)[0].decode("utf-8")
        assert header.split(",") == list(cols.values()), table
        assert manifest["rows"][table] == raw.count(b"\n") - 1 > 0, table
    for name in ("customer_traits", "product_traits"):
        assert (demo / "truth" / f"{name}.csv").is_file()
    for rel, info in manifest["files"].items():
        assert hashlib.sha256((demo / rel).read_bytes()).hexdigest() == info["sha256"], rel
    assert manifest["seed"] == SEED and manifest["scale"] == "small"
    assert manifest["end_date"] == END.isoformat() and manifest["start_date"] == "2023-07-01"


def test_codes_and_formats(demo, lines):
    assert set(lines["Status"]) == set(STATUS_CODES)
    assert set(lines["Region"]) <= set(REGIONS.values())
    assert set(_raw(demo, "reps")["Role"]) == set(ROLE_CODES)
    assert set(_raw(demo, "opportunities")["Outcome"]) == set(OUTCOME_CODES)
    assert set(_raw(demo, "customers")["Region"]) == set(REGIONS.values())
    assert (lines["Currency"] == "CNY").all()
    assert lines["Order No"].str.fullmatch(r"(SO|RT)20\d\d\d{6}").all()
    assert lines["Net Amount"].astype(str).str.len().gt(0).all()
    raw = _raw(demo, "order_lines")
    assert raw["Net Amount"].str.fullmatch(r"-?\d+\.\d\d").all()
    assert raw["Discount"].str.fullmatch(r"0\.\d\d").all()
    assert raw["Order Date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert _raw(demo, "customers")["Customer Code"].str.fullmatch(r"C\d{6}").all()
    assert _raw(demo, "products")["Item Code"].str.fullmatch(r"P\d{5}").all()
    assert _raw(demo, "reps")["Employee ID"].str.fullmatch(r"R\d{3}").all()
    assert _raw(demo, "reps")["Team"].str.fullmatch(r"T(0[1-9]|1[0-8])").all()
    assert not lines.duplicated(["Order No", "Line No"]).any()


def test_line_numbers_run_from_one(sales):
    g = sales.groupby("Order No")["Line No"]
    assert (g.min() == 1).all() and (g.max() == g.size()).all()
    assert not sales.duplicated(["Order No", "Item Code"]).any()


def test_deterministic_and_seed_dependent(demo, manifest, tmp_path):
    again = generate(tmp_path / "again", scale="small", seed=SEED, end_date=END)
    assert again["files"] == manifest["files"]
    for table in FILE_NAMES.values():
        assert (tmp_path / "again" / table).read_bytes() == (demo / table).read_bytes(), table
    other = generate(tmp_path / "other", scale="small", seed=SEED + 1, end_date=END)
    assert other["files"]["order_lines.csv"]["sha256"] != manifest["files"]["order_lines.csv"]["sha256"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        generate(tmp_path, scale="huge")
    with pytest.raises(ValueError, match="years"):
        generate(tmp_path, scale="small", years=0)
    with pytest.raises(ValueError, match="years"):
        generate(tmp_path, scale="small", years=float("nan"))
    with pytest.raises(ValueError, match="seed"):
        generate(tmp_path, scale="small", seed=-1)
    assert not list(tmp_path.iterdir())


def test_row_counts_for_small(manifest):
    rows = manifest["rows"]
    assert 17_000 <= rows["order_lines"] <= 23_000
    assert 480 <= rows["customers"] <= 720
    assert rows["products"] == 150
    assert 250 <= rows["opportunities"] <= 350
    assert rows["marketing_spend"] == 36 * 4


# --------------------------------------------------------------------------- dates and the hierarchy


def test_dates_inside_the_window(lines, manifest, demo):
    start, end = pd.Timestamp(manifest["start_date"]), pd.Timestamp(manifest["end_date"])
    assert lines["date"].min() >= start and lines["date"].max() <= end
    assert lines["date"].max() <= pd.Timestamp(date.today())
    tickets = _raw(demo, "tickets")
    assert pd.to_datetime(tickets["Opened"]).max() <= end
    assert pd.to_datetime(tickets["Closed"].replace("", None)).max() <= end
    opps = _raw(demo, "opportunities")
    closed = pd.to_datetime(opps["Closed"].replace("", None))
    assert closed.max() <= end
    open_ = opps["Outcome"] == "Open"
    assert open_.any() and (closed[open_].isna()).all() and (closed[~open_].notna()).all()
    assert (pd.to_datetime(opps.loc[open_, "Expected Close"]) > end).all()


def test_default_end_date_is_yesterday(tmp_path):
    manifest = generate(tmp_path, scale="small", years=0.25)
    assert manifest["end_date"] == (date.today() - timedelta(days=1)).isoformat()
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8")) == manifest


def test_stints_do_not_overlap(reps):
    r = reps.sort_values(["Employee ID", "from"])
    prev_to = r.groupby("Employee ID")["to"].shift()
    assert not (r["from"] <= prev_to).any()
    assert (r["to"] >= r["from"]).all()
    assert (r.groupby("Employee ID")["to"].apply(lambda s: (s == s.max()).sum()) == 1).all()


def test_every_line_has_a_rep_with_a_stint_on_its_date(lines, reps):
    sellers = reps[reps["Role"] == "Sales Rep"]
    sale = lines[lines["Status"] != "Returned"]
    ret = lines[lines["Status"] == "Returned"]
    # a return keeps the salesperson of the sale it reverses: check against the sale's date
    sale_date = sale.set_index(["Order No", "Line No"])["date"]
    ret_date = sale_date.reindex(pd.MultiIndex.from_arrays([ret["Return Of Order"], ret["Return Of Line"].astype(int)]))
    check = pd.concat(
        [sale[["Salesperson", "date", "Region"]], ret[["Salesperson"]].assign(date=ret_date.to_numpy(), Region=ret["Region"])]
    ).reset_index(drop=True)
    m = check.reset_index().merge(sellers, left_on="Salesperson", right_on="Employee ID", suffixes=("", "_rep"))
    covered = m[(m["from"] <= m["date"]) & (m["date"] <= m["to"])]
    assert covered["index"].nunique() == len(check)
    assert (covered["Region"] == covered["Region_rep"]).all()  # the rep worked in the customer's region then
    assert not set(lines["Salesperson"]) & set(reps.loc[reps["Role"] != "Sales Rep", "Employee ID"])


def test_hierarchy_has_moves_hires_and_leavers(reps, manifest):
    start = pd.Timestamp(manifest["start_date"])
    sellers = reps[reps["Role"] == "Sales Rep"]
    multi = sellers.groupby("Employee ID").filter(lambda g: len(g) > 1)
    assert multi["Employee ID"].nunique() >= 2
    assert (multi.groupby("Employee ID")["Team"].nunique() > 1).all()
    assert (multi.groupby("Employee ID")["Region"].nunique() > 1).any()
    assert (multi.groupby("Employee ID")["Region"].nunique() == 1).any()
    firsts = sellers.groupby("Employee ID")["from"].min()
    assert (firsts > start).sum() >= 2  # hires
    lasts = sellers.groupby("Employee ID")["Valid To"].apply(lambda s: (s != "").all())
    assert lasts.sum() >= 2  # leavers
    mgr = reps.set_index("Employee ID")
    for _, row in sellers.iterrows():  # each stint reports to its team's manager
        m = mgr.loc[[row["Manager ID"]]].iloc[0]
        assert m["Role"] == "Team Manager" and m["Team"] == row["Team"]
    assert reps["Team"].nunique() == 18 and reps.loc[reps["Role"] == "Regional Director", "Region"].nunique() == 6


def test_leavers_customers_move_to_a_colleague(lines, reps):
    sellers = reps[reps["Role"] == "Sales Rep"]
    left = sellers.groupby("Employee ID")["to"].max()
    left = left[left < pd.Timestamp.max.normalize()]
    sale = lines[lines["Status"] != "Returned"]
    moved = 0
    for rep, last_day in left.items():
        custs = sale.loc[(sale["Salesperson"] == rep), "Customer Code"].unique()
        after = sale[sale["Customer Code"].isin(custs) & (sale["date"] > last_day)]
        assert not (after["Salesperson"] == rep).any()
        moved += len(after)
    assert moved > 0


def test_owner_is_a_current_rep_of_the_customers_region(demo, reps):
    customers = _raw(demo, "customers")
    current = reps[(reps["Role"] == "Sales Rep") & (reps["Valid To"] == "")].set_index("Employee ID")["Region"]
    assert customers["Account Owner"].isin(current.index).all()
    assert (customers["Account Owner"].map(current) == customers["Region"]).all()


# --------------------------------------------------------------------------- amounts, returns, customers


def test_amounts_are_quantity_times_unit_price(lines):
    assert np.allclose(lines["Net Amount"], np.round(lines["Qty"] * lines["Unit Price"], 2), atol=0.0049)
    sale = lines[lines["Status"] != "Returned"]
    assert (sale["Qty"] > 0).all() and (lines.loc[lines["Status"] == "Returned", "Qty"] < 0).all()
    assert lines["Discount"].between(0, 0.6).all()
    assert (lines["Unit Cost"] > 0).all()


def test_historical_prices_differ_from_todays_list_price(demo, sales):
    products = _raw(demo, "products").set_index("Item Code")["List Price"].astype(float)
    list_now = sales["Item Code"].map(products)
    implied = sales["Unit Price"] / (1 - sales["Discount"])
    old = implied < list_now * 0.985
    assert old.mean() > 0.03  # price increases during the window
    truth = pd.read_csv(demo / "truth" / "product_traits.csv")
    assert 0.2 <= (truth["price_changes"] > 0).mean() <= 0.4


def test_returns(lines, manifest):
    sale = lines[lines["Status"] == "Completed"].set_index(["Order No", "Line No"])
    ret = lines[lines["Status"] == "Returned"]
    assert 0.02 <= len(ret) / len(sale) <= 0.045
    assert ret["Order No"].str.startswith("RT").all() and (ret["Line No"] == 1).all()
    key = pd.MultiIndex.from_arrays([ret["Return Of Order"], ret["Return Of Line"].astype(int)])
    assert key.isin(sale.index).all()
    assert not key.duplicated().any()
    orig = sale.loc[key]
    for col in ("Customer Code", "Item Code", "Unit Price", "Unit Cost", "Salesperson"):
        assert (orig[col].to_numpy() == ret[col].to_numpy()).all(), col
    assert ((-ret["Qty"]).to_numpy() <= orig["Qty"].to_numpy()).all()
    assert (ret["date"].to_numpy() > orig["date"].to_numpy()).all()
    later_month = ret["date"].dt.to_period("M").to_numpy() != orig["date"].dt.to_period("M").to_numpy()
    assert later_month.mean() > 0.15
    assert (lines.loc[lines["Status"] != "Returned", "Return Of Order"] == "").all()


def test_cancelled_orders(lines):
    cancelled = lines.loc[lines["Status"] == "Cancelled", "Order No"].unique()
    assert len(cancelled) > 0
    assert (lines.loc[lines["Order No"].isin(cancelled), "Status"] == "Cancelled").all()
    assert not lines["Return Of Order"].isin(cancelled).any()
    share = len(cancelled) / lines.loc[lines["Status"] != "Returned", "Order No"].nunique()
    assert 0.003 <= share <= 0.025


def test_first_order_date_is_the_first_sale(demo, sales):
    customers = _raw(demo, "customers").set_index("Customer Code")
    first = sales[sales["Status"] == "Completed"].groupby("Customer Code")["Order Date"].min()
    stated = customers["First Order Date"]
    assert (stated.reindex(first.index) == first).all()
    never = stated.index.difference(first.index)
    assert (stated[never] == "").all()
    assert 0 < len(never) < 0.15 * len(customers)


def test_ticket_products_were_bought_by_the_customer(demo, sales):
    tickets = _raw(demo, "tickets")
    bought = set(zip(sales["Customer Code"], sales["Item Code"], strict=True))
    assert all(pair in bought for pair in zip(tickets["Customer Code"], tickets["Item Code"], strict=True))
    csat = pd.to_numeric(tickets["CSAT"].replace("", None))
    assert csat.dropna().between(1, 5).all() and csat.isna().any()


# --------------------------------------------------------------------------- calendar structure


def test_weekdays_sell_more_than_weekends(net_daily):
    weekend = net_daily.index.day_of_week >= 5
    assert net_daily[~weekend].mean() > 1.5 * net_daily[weekend].mean()


def test_spring_festival_dip(net_daily, sales, manifest):
    start, end = pd.Timestamp(manifest["start_date"]), pd.Timestamp(manifest["end_date"])
    hol = holidays.country_holidays("CN", years=range(start.year, end.year + 1), language="en_US")
    n_lines = sales.groupby("date").size().reindex(net_daily.index, fill_value=0)
    ratios, line_ratios = [], []
    for year in range(start.year, end.year + 1):
        days = [d for d, name in hol.items() if "Spring Festival" in name and d.year == year]
        if not days:
            continue
        cny = pd.Timestamp(min(days))
        if cny - pd.Timedelta(days=35) < start or cny + pd.Timedelta(days=49) > end:
            continue
        for series, out in ((net_daily, ratios), (n_lines, line_ratios)):
            week = series[cny - pd.Timedelta(days=1) : cny + pd.Timedelta(days=5)].mean()
            around = pd.concat(
                [
                    series[cny - pd.Timedelta(days=35) : cny - pd.Timedelta(days=8)],
                    series[cny + pd.Timedelta(days=22) : cny + pd.Timedelta(days=49)],
                ]
            ).mean()
            out.append(week / around)
    assert len(ratios) >= 2
    # revenue is lumpy at this scale (one key-account order can fill a week): median over years
    assert np.median(ratios) < 0.5
    assert max(line_ratios) < 0.5


def test_shopping_festivals_are_top_days(sales, manifest):
    start, end = pd.Timestamp(manifest["start_date"]), pd.Timestamp(manifest["end_date"])
    orders = sales.groupby("date")["Order No"].nunique().reindex(pd.date_range(start, end), fill_value=0)
    checked = 0
    for year in range(start.year, end.year + 1):
        for month, day in ((6, 18), (11, 11)):
            peak = pd.Timestamp(year, month, day)
            if not start <= peak <= end:
                continue
            of_year = orders[orders.index.year == year]
            assert (of_year > of_year[peak]).sum() < 5, peak
            checked += 1
    assert checked >= 4


# --------------------------------------------------------------------------- latent structure


def test_complainers_churn_more(traits, lines, manifest):
    end = pd.Timestamp(manifest["end_date"])
    active = traits[~traits["prospect"]]
    churn = active.groupby("complaint_q")["churned"].mean()
    assert 0.2 <= active["churned"].mean() <= 0.45
    assert churn[3] >= 1.5 * churn[0]
    # visible in the data too: no order in the last 90 days
    last = lines[lines["Status"] == "Completed"].groupby("Customer Code")["date"].max()
    last_sale = active["customer_id"].map(last)
    quiet = last_sale.isna() | (last_sale < end - pd.Timedelta(days=90))
    by_q = quiet.groupby(active["complaint_q"]).mean()
    assert by_q[3] > 1.3 * by_q[0]
    # churned customers stop buying at their churn date
    churned = active[active["churned"]]
    assert (churned["customer_id"].map(last).dropna() < churned["churn_date"].loc[churned["customer_id"].map(last).notna()]).all()


def test_complainers_file_more_tickets_with_lower_satisfaction(demo, traits):
    tickets = _raw(demo, "tickets")
    tickets["CSAT"] = pd.to_numeric(tickets["CSAT"].replace("", None))
    q = tickets["Customer Code"].map(traits.set_index("customer_id")["complaint_q"])
    per_customer = tickets.groupby("Customer Code").size().reindex(traits["customer_id"], fill_value=0)
    by_q = per_customer.groupby(traits["complaint_q"].to_numpy()).mean()
    assert by_q[3] > 2 * by_q[0]
    csat = tickets.groupby(q)["CSAT"].mean()
    assert csat[3] < csat[0] - 0.5


def test_intermittent_products_have_many_zero_days(demo, sales, manifest):
    truth = pd.read_csv(demo / "truth" / "product_traits.csv", parse_dates=["launch_date"])
    assert 0.15 <= truth["intermittent"].mean() <= 0.35
    start, end = pd.Timestamp(manifest["start_date"]), pd.Timestamp(manifest["end_date"])
    active_days = (end - truth["launch_date"].clip(lower=start)).dt.days + 1
    days_sold = sales.groupby("Item Code")["date"].nunique().reindex(truth["product_id"], fill_value=0).to_numpy()
    zero_share = 1 - days_sold / active_days.to_numpy()
    inter = truth["intermittent"].to_numpy()
    assert np.median(zero_share[inter]) > 0.95
    assert zero_share[inter].mean() > zero_share[~inter].mean()
    # no sales before launch
    launch = sales["Item Code"].map(truth.set_index("product_id")["launch_date"])
    assert (sales["date"] >= launch).all()


def test_targets_cover_every_active_rep_month(demo, reps, lines, manifest):
    targets = _raw(demo, "targets")
    for col in ("Revenue Target", "Margin Target"):
        targets[col] = targets[col].astype(float)
    assert targets["Month"].max() == f"{END.year}-12"
    assert targets["Month"].min() == manifest["start_date"][:7]
    assert (targets["Revenue Target"] > 0).all() and (targets["Margin Target"] < targets["Revenue Target"]).all()
    sellers = reps[reps["Role"] == "Sales Rep"]
    months = pd.period_range(manifest["start_date"][:7], f"{END.year}-12", freq="M")
    expected = set()
    for _, s in sellers.iterrows():
        lo = max(s["from"], months[0].start_time)
        hi = min(s["to"], months[-1].end_time)
        for p in pd.period_range(lo, hi, freq="M"):
            expected.add((s["Employee ID"], str(p)))
    assert set(zip(targets["Employee ID"], targets["Month"], strict=True)) == expected
    # team and region are the rep's in that month
    last_day = pd.PeriodIndex(targets["Month"], freq="M").end_time.normalize()
    t = targets.assign(last=last_day).merge(sellers, on="Employee ID", suffixes=("", "_rep"))
    cover = t[(t["from"] <= t["last"]) & (t["last"] <= t["to"])]
    assert (cover["Team"] == cover["Team_rep"]).all() and (cover["Region"] == cover["Region_rep"]).all()


def test_attainment_varies_between_reps(demo, lines, manifest):
    targets = _raw(demo, "targets")
    targets["Revenue Target"] = targets["Revenue Target"].astype(float)
    ok = lines[lines["Status"] != "Cancelled"]
    actual = ok.groupby(["Salesperson", ok["date"].dt.strftime("%Y-%m")])["Net Amount"].sum()
    past = targets[targets["Month"] <= manifest["end_date"][:7]].copy()
    past["actual"] = actual.reindex(pd.MultiIndex.from_frame(past[["Employee ID", "Month"]])).fillna(0).to_numpy()
    per_rep = past.groupby("Employee ID")[["actual", "Revenue Target"]].sum()
    per_rep = per_rep[past.groupby("Employee ID").size() >= 6]
    attainment = per_rep["actual"] / per_rep["Revenue Target"]
    assert 0.8 <= attainment.median() <= 1.15
    assert attainment.std() > 0.08
    assert attainment.between(0.5, 1.6).mean() >= 0.8


def test_opportunities_and_inventory(demo, manifest):
    opps = _raw(demo, "opportunities")
    closed = opps[opps["Outcome"] != "Open"]
    assert set(closed["Stage"]) == {"Closed Won", "Closed Lost"}
    assert 0.2 < (closed["Outcome"] == "Won").mean() < 0.7
    cycle = (pd.to_datetime(closed["Closed"]) - pd.to_datetime(closed["Created"])).dt.days
    assert cycle.between(20, 120).all()
    inv = _raw(demo, "inventory")
    assert inv["Snapshot Date"].nunique() == 26 and inv["Warehouse"].nunique() == 3
    assert inv["Snapshot Date"].max() == manifest["end_date"]
    assert inv["Lead Time (days)"].astype(int).between(7, 45).all()
    assert (inv["On Hand"].astype(int) >= 0).all() and (inv["On Order"].astype(int) >= 0).all()
    assert (inv["On Hand"].astype(int) == 0).any()


def test_marketing_spend_drives_acquisitions(demo, traits):
    spend = _raw(demo, "marketing_spend")
    spend["Spend"] = spend["Spend"].astype(float)
    new = traits[~traits["initial_base"]]
    per_channel = spend.groupby("Channel")["Spend"].sum()
    acquired = new.groupby("acquisition_channel").size()
    cac = (per_channel / acquired.reindex(per_channel.index)).dropna()
    assert len(cac) == 4 and cac["Trade Show"] > 2 * cac["Social Media"]
    assert (traits["acquisition_date"] >= pd.Timestamp("2023-07-01")).mean() > 0.4


def test_discount_dependent_customers_buy_in_promotions(demo, sales, traits):
    promos = pd.read_csv(demo / "truth" / "promotions.csv", parse_dates=["first_day", "last_day"])
    category = _raw(demo, "products").set_index("Item Code")["Category"]
    s = sales[sales["Status"] == "Completed"].assign(category=lambda d: d["Item Code"].map(category))
    in_promo = np.zeros(len(s), dtype=bool)
    for p in promos.itertuples():
        in_promo |= ((s["category"] == p.category) & s["date"].between(p.first_day, p.last_day)).to_numpy()
    dd_q = pd.qcut(traits["discount_dependence"].rank(method="first"), 4, labels=False)
    q = s["Customer Code"].map(pd.Series(dd_q.to_numpy(), index=traits["customer_id"])).to_numpy()
    share = pd.Series(in_promo).groupby(q).mean()
    assert share[3] > 1.3 * share[0]
    discount = s["Discount"].groupby(q).mean()
    assert discount[3] > discount[0]
