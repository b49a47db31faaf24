"""Segments: the default map on synthetic data, the k-means segmenter's conventions, cluster
profiles, the migration matrix (by hand) and `salesml segments`."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from salesml import warehouse
from salesml.config import SegmentSettings
from salesml.customers.rfm import rfm, rfm_from_transactions, with_scores
from salesml.customers.segments import (
    GONE,
    NEW,
    ClusterSegmenter,
    cluster_label,
    cluster_profiles,
    migration,
    migration_matrix,
    segment_summary,
)
from tests import anonymous_company
from tests.test_cli import run

AS_OF = pd.Timestamp("2024-12-31")
#: score level -> recency days, orders, total spend (each level holds 1/5 of the customers)
RECENCY = {1: 400, 2: 200, 3: 100, 4: 30, 5: 3}
ORDERS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
SPEND = {1: 50.0, 2: 200.0, 3: 800.0, 4: 3200.0, 5: 12800.0}


def grid_transactions() -> pd.DataFrame:
    """125 customers, one per (R, F, M) level triple: 25 per level of each measure."""
    rows = []
    for r, days in RECENCY.items():
        for f, n in ORDERS.items():
            for m, spend in SPEND.items():
                cid = f"c{r}{f}{m}"
                for i in range(n):
                    when = AS_OF - pd.Timedelta(days=days + 5 * i)
                    rows.append((cid, f"{cid}-{i}", when, spend / n))
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "date", "amount"])


def test_every_segment_of_the_default_map_is_reachable():
    """Each level of each measure holds 25 of 125 customers, ranks 25(i-1)+1 .. 25i, mean rank
    25i - 12 -> p = (i - 1/2) / 5 -> score i: the scores are the levels, every (R, FM) pair
    occurs, so every segment of the default map has customers."""
    t = rfm_from_transactions(grid_transactions(), AS_OF)
    assert len(t) == 125
    levels = t["customer_id"].str.slice(1).apply(lambda s: tuple(int(c) for c in s))
    assert (t["r_score"] == levels.str[0]).all()
    assert (t["f_score"] == levels.str[1]).all()
    assert (t["m_score"] == levels.str[2]).all()
    assert len(set(zip(t["r_score"], t["fm_score"], strict=True))) == 25
    s = SegmentSettings()
    assert set(t["segment"]) == set(s.segment_names())
    summary = segment_summary(t)
    assert list(summary["segment"]) == list(s.segment_names())
    assert summary["customers"].sum() == 125 and (summary["customers"] > 0).all()
    # Champions = R5 and FM 4-5, i.e. F + M >= 7 (FM rounds half up): 10 of the 25 (F, M) pairs
    assert summary.set_index("segment").loc["Champions", "customers"] == 10
    # New = R5 and FM 1, i.e. F = M = 1: one customer
    assert t.loc[t["segment"] == "New", "customer_id"].tolist() == ["c511"]


def blobs(seed: int = 0, per: int = 50) -> pd.DataFrame:
    """Four well separated groups of customers (recency days, orders, spend)."""
    rng = np.random.default_rng(seed)
    centers = [(5, 30, 50_000), (5, 1, 100), (500, 30, 50_000), (500, 1, 100)]
    parts = []
    for g, (r, f, m) in enumerate(centers):
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"g{g}-{i}" for i in range(per)],
                    "recency_days": np.round(r * np.exp(rng.normal(0, 0.1, per))).astype(int),
                    "frequency": np.maximum(1, np.round(f * np.exp(rng.normal(0, 0.1, per)))).astype(int),
                    "monetary": np.round(m * np.exp(rng.normal(0, 0.1, per)), 2),
                    "group": g,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_cluster_segmenter_follows_scikit_learn_conventions():
    X = blobs()
    est = ClusterSegmenter(k_range=(2, 8), random_state=0)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert est.get_params() == {
        "k_range": (2, 8), "random_state": 0, "n_init": 10, "silhouette_sample": 5000,
        "columns": ("recency_days", "frequency", "monetary"),
    }  # fmt: skip
    assert est.set_params(n_init=5) is est and est.n_init == 5
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    assert est.fit(X) is est
    check_is_fitted(est)
    assert not hasattr(twin, "k_")  # clone: unfitted
    for attr in ("k_", "silhouette_scores_", "labels_", "cluster_centers_", "scaler_", "kmeans_", "n_features_in_"):
        assert hasattr(est, attr), attr
    assert list(est.feature_names_in_) == ["recency_days", "frequency", "monetary"]
    # same random_state, same data -> same labels (also from a plain array)
    again = ClusterSegmenter(random_state=0, n_init=5).fit(X)
    np.testing.assert_array_equal(est.labels_, again.labels_)
    arr = ClusterSegmenter(random_state=0, n_init=5).fit(X[["recency_days", "frequency", "monetary"]].to_numpy())
    np.testing.assert_array_equal(est.labels_, arr.labels_)
    np.testing.assert_array_equal(est.predict(X), est.labels_)
    assert est.transform(X).shape == (len(X), 3)
    # a fixed k
    assert ClusterSegmenter(k_range=(3, 3)).fit(X).k_ == 3
    with pytest.raises(ValueError, match="lacks column"):
        est.predict(X.drop(columns=["monetary"]))
    with pytest.raises(ValueError, match="cannot cluster 2 customers"):
        ClusterSegmenter().fit(X.head(2))
    with pytest.raises(ValueError, match="k_range"):
        ClusterSegmenter(k_range=(1, 3)).fit(X)


def test_k_is_chosen_by_silhouette_on_separated_blobs():
    X = blobs()
    est = ClusterSegmenter(k_range=(2, 8), random_state=0, n_init=5).fit(X)
    assert sorted(est.silhouette_scores_) == list(range(2, 9))
    assert est.k_ == 4 == max(est.silhouette_scores_, key=est.silhouette_scores_.get)
    # each blob is one cluster, numbered from the most valuable: recent, frequent, big spenders first
    by_group = pd.crosstab(X["group"], est.labels_)
    assert (by_group.gt(0).sum(axis=1) == 1).all()
    assert by_group.loc[0, 0] == 50 and by_group.loc[3, 3] == 50
    # centres in original units (days, orders, money), close to the blobs' centres
    c = est.cluster_centers_
    assert list(c.columns) == ["recency_days", "frequency", "monetary"] and len(c) == 4
    assert c.loc[0, "recency_days"] == pytest.approx(5, rel=0.25)
    assert c.loc[0, "frequency"] == pytest.approx(30, rel=0.1)
    assert c.loc[0, "monetary"] == pytest.approx(50_000, rel=0.1)
    assert c.loc[3, "recency_days"] == pytest.approx(500, rel=0.1)


def test_cluster_profiles_and_labels():
    table = with_scores(blobs())
    est = ClusterSegmenter(random_state=0, n_init=5).fit(table)
    p = cluster_profiles(table, est.labels_)
    assert p["customers"].tolist() == [50, 50, 50, 50]
    assert p["share_pct"].sum() == pytest.approx(100) and p["revenue_share_pct"].sum() == pytest.approx(100)
    assert p["revenue"].sum() == pytest.approx(table["monetary"].sum())
    assert p.loc[0, "label"] == "recent, frequent, high spend"
    assert p.loc[3, "label"] == "lapsed, infrequent, low spend"
    assert p.loc[0, "frequency_median"] == table.loc[est.labels_ == 0, "frequency"].median()
    # the words, by hand: >= 3.5 high, <= 2.5 low, between: mid
    assert cluster_label(4, 4, 4) == "recent, frequent, high spend"
    assert cluster_label(3, 3, 3) == "lapsing, occasional, mid spend"
    assert cluster_label(1, 2.5, 3.5) == "lapsed, infrequent, high spend"
    with pytest.raises(ValueError, match="3 labels for 200 customers"):
        cluster_profiles(table, [0, 1, 2])


def test_migration_matrix_by_hand():
    """a: Champions -> Loyal; b: Loyal -> Loyal; c: Lost -> Lost; d: new -> New; e: Lost -> gone."""
    before = pd.DataFrame({"customer_id": ["a", "b", "c", "e"], "segment": ["Champions", "Loyal", "Lost", "Lost"]})
    after = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["Loyal", "Loyal", "Lost", "New"]})
    order = SegmentSettings().segment_names()
    m = migration_matrix(before, after, order)
    assert list(m.index) == [*order, NEW]
    assert list(m.columns) == [*order, GONE]
    assert m.to_numpy().sum() == 5
    assert m.loc["Champions", "Loyal"] == 1 and m.loc["Loyal", "Loyal"] == 1 and m.loc["Lost", "Lost"] == 1
    assert m.loc[NEW, "New"] == 1 and m.loc["Lost", GONE] == 1
    assert m.drop(index=NEW).sum(axis=1).sum() == len(before) and m.drop(columns=GONE).sum().sum() == len(after)
    # nobody gone: no (gone) column; segments outside the order come after it
    m2 = migration_matrix(before.head(3), after.assign(segment=["Loyal", "Loyal", "Lost", "VIP"]), ["Loyal", "Lost"])
    assert list(m2.columns) == ["Loyal", "Lost", "VIP"] and list(m2.index) == ["Loyal", "Lost", "Champions", NEW]
    assert m2.loc[NEW, "VIP"] == 1


def test_migration_on_the_toy_company_by_hand(toy_wh):
    """As of 2024-01-31 (see test_customers_rfm): C1 At risk, C2 Loyal, C3 Potential loyalists;
    as of 2024-02-29: C1 Loyal, C2 Potential loyalists, C3 Lost."""
    with warehouse.connect(toy_wh.warehouse_path, read_only=True) as con:
        m = migration(con, "2024-01-31", "2024-02-29", settings=toy_wh)
        r2 = migration(con, "2024-01-31", "2024-02-29", "rep:R2", toy_wh)
    assert m.loc["At risk", "Loyal"] == 1
    assert m.loc["Loyal", "Potential loyalists"] == 1
    assert m.loc["Potential loyalists", "Lost"] == 1
    assert m.to_numpy().sum() == 3 and m.loc[NEW].sum() == 0
    assert r2.to_numpy().sum() == 1 and r2.loc["Loyal", "Potential loyalists"] == 1  # C2 only


def test_cli_segments(toy_wh):
    """csv / json: one row per customer (the by-hand figures of test_customers_rfm); table: the
    segments; a rep's scope holds only the rep's customers; bad dates fail clearly."""
    wh = {"SALESML_WAREHOUSE": str(toy_wh.warehouse_path)}
    rows = json.loads(run("segments", "--as-of", "2024-02-29", "--format", "json", cwd=toy_wh.root, env_extra=wh).stdout)
    assert [(r["customer_id"], r["frequency"], r["monetary"], r["recency_days"], r["rfm"], r["segment"]) for r in rows] == [
        ("C1", 3, 360.0, 17, "355", "Loyal"),
        ("C2", 2, 250.0, 9, "522", "Potential loyalists"),
        ("C3", 2, 250.0, 18, "122", "Lost"),
    ]
    assert rows[0]["last_purchase"] == "2024-02-12"
    proc = run("segments", "--as-of", "2024-02-29", "--scope", "rep:R1", "--format", "csv", cwd=toy_wh.root, env_extra=wh)
    got = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["customer_id"], r["frequency"], r["monetary"], r["segment"]) for r in got] == [("C1", "2", "350.0", "At risk")]
    table = run("segments", cwd=toy_wh.root, env_extra=wh)  # default: 2024-01-31, the end of the latest complete month
    assert "2024-01-31" in table.stderr and "2024-01-31" in table.stdout
    for name in ("At risk", "Loyal", "Potential loyalists", "Champions"):
        assert name in table.stdout
    bad = run("segments", "--as-of", "2024-02-30", cwd=toy_wh.root, env_extra=wh, check=False)
    assert bad.returncode == 1 and "2024-02-30" in bad.stderr and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- anonymous (walk-in / guest) sales


@pytest.fixture(scope="module")
def guests(small_demo, tmp_path_factory):
    company = anonymous_company.build(small_demo, tmp_path_factory.mktemp("guests"))
    (company.settings.root / "salesml.toml").write_text('[sources.shop]\nanonymous_customer = "GUEST"\n', encoding="utf-8")
    return company


def test_anonymous_lines_change_no_cluster_and_no_migration(guests):
    """Clusters and migration are made of the identified customers only: the same as without
    the anonymous lines."""
    first, second = "2025-12-31", "2026-03-31"
    with (
        warehouse.connect(guests.settings.warehouse_path, read_only=True) as con,
        warehouse.connect(guests.plain.warehouse_path, read_only=True) as plain,
    ):
        m = migration(con, first, second, None, guests.settings)
        pd.testing.assert_frame_equal(m, migration(plain, first, second, None, guests.plain))
        table = rfm(con, second, None, guests.settings)
        plain_table = rfm(plain, second, None, guests.plain)
    assert int(m.to_numpy().sum()) == len(set(table["customer_id"]) | set(rfm_ids(guests.plain, first)))
    seg = ClusterSegmenter(k_range=(2, 4)).fit(table)
    ref = ClusterSegmenter(k_range=(2, 4)).fit(plain_table)
    assert seg.k_ == ref.k_
    np.testing.assert_array_equal(seg.labels_, ref.labels_)
    pd.testing.assert_frame_equal(seg.cluster_centers_, ref.cluster_centers_)


def flat(text: str) -> str:
    """Messages as one line (the console wraps long ones)."""
    return " ".join(text.split())


def rfm_ids(settings, day) -> set[str]:
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        return set(rfm(con, day, None, settings)["customer_id"])


def test_cli_segments_says_what_it_left_out(guests):
    """stderr names the anonymous lines and revenue left out (figures computed from the lines
    written); the customers are the demo's, with no guest among them."""
    wh = {"SALESML_WAREHOUSE": str(guests.settings.warehouse_path)}
    as_of = date(2026, 3, 31)
    proc = run("segments", "--as-of", as_of.isoformat(), "--format", "json", cwd=guests.settings.root, env_extra=wh)
    rows = json.loads(proc.stdout)
    assert {r["customer_id"] for r in rows} == rfm_ids(guests.plain, as_of)
    e = guests.expected(guests.known_by(as_of))
    share = e["revenue"] / e["total_revenue"] * 100
    said = f"{e['lines']:,} anonymous order lines in {e['orders']:,} orders ({e['revenue']:,.2f}, {share:.1f}% of revenue)"
    assert said in flat(proc.stderr) and "not in the segments" in flat(proc.stderr)
    table = run("segments", "--as-of", as_of.isoformat(), cwd=guests.settings.root, env_extra=wh)
    assert said in flat(table.stderr) and said not in flat(table.stdout) and "GUEST" not in table.stdout
    team = run("segments", "--as-of", as_of.isoformat(), "--scope", "team:T03", cwd=guests.settings.root, env_extra=wh)
    t = guests.expected(guests.known_by(as_of, "T03"))
    assert f"{t['lines']:,} anonymous order lines in {t['orders']:,} orders ({t['revenue']:,.2f}" in flat(team.stderr)
