"""The churn_risk report: rendered from a stored model, figures = the registry's, rep scope holds only the rep's customers,
walk-in / guest sales are never scored and the page says how many there were."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from salesml import registry
from salesml.config import load_settings
from salesml.customers import churn
from salesml.reports.runner import ReportError, render
from tests import anonymous_company
from tests.test_reports_runner import with_notebooks

FAST = {"train_cutoffs": 3, "max_iter": 30, "importance_repeats": 1, "calibration_folds": 2, "min_samples_leaf": 20,
        "min_train_examples": 100, "min_test_examples": 30}


@pytest.fixture(scope="module")
def guests(small_demo, tmp_path_factory):
    """A copy of the small demo with a quarter of anonymous lines (tests/anonymous_company.py)."""
    return anonymous_company.build(small_demo, tmp_path_factory.mktemp("churn_report"))


@pytest.fixture(scope="module")
def trained(guests):
    """The small demo with walk-in / guest sales and one churn model version in its registry."""
    root = guests.settings.root
    # the report notebook reads its settings (the models' folder, the guest id) from the config file
    churn_toml = "\n".join(f"{k} = {v}" for k, v in FAST.items())
    (root / "salesml.toml").write_text(
        f'[warehouse]\npath = "warehouse.duckdb"\n\n[models]\ndir = "models"\n\n[churn]\n{churn_toml}\n\n'
        '[sources.shop]\nanonymous_customer = "GUEST"\n',
        encoding="utf-8",
    )
    s = with_notebooks(load_settings(root / "salesml.toml"))
    churn.train(s)
    return s


def customer_ids(page: str) -> set[str]:
    return set(re.findall(r"\bC\d{6}\b", page))


@pytest.mark.notebook
def test_report_shows_the_registry_metrics_and_charts(trained, guests):
    result = render(trained, "churn_risk", {"as_of": "2026-06-30"})
    manifest = registry.manifest(trained, "churn")
    f = result.figures
    assert f["model_version"] == manifest["version"] == "v0001"
    metrics = manifest["metrics"]
    for m in ("roc_auc", "pr_auc", "brier", "lift_top_decile"):
        assert f[m] == metrics["model"][m]
        assert f[f"recency_{m}"] == metrics["baselines"]["recency"][m]
        assert f[f"bgnbd_{m}"] == metrics["baselines"]["bgnbd"][m]
    assert f["customers_scored"] > 100 and 0 < f["at_risk"] <= f["customers_scored"]
    page = result.html_path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 4  # ROC, lift, reliability, drivers
    assert "Follow-up list" in page and "Holdout: model vs baselines" in page
    assert "ChurnRiskReport(" not in page
    # walk-in / guest sales of the lookback window (365 days to the as-of day) are not scored, and it says so
    end = date(2026, 6, 30)
    e = guests.expected(guests.happened(end - timedelta(days=365), end))
    assert (f["anonymous_lines"], f["anonymous_orders"]) == (e["lines"], e["orders"]) and e["lines"] > 100
    assert Decimal(str(f["anonymous_revenue"])) == e["revenue"]
    assert f"{e['lines']:,} anonymous order lines in {e['orders']:,} orders (¥{e['revenue']:,.2f}" in page
    assert "are not in the churn scores" in page


@pytest.mark.notebook
def test_a_reps_report_holds_only_their_customers(trained, guests):
    scores, _ = churn.score(trained, as_of="2026-06-30")
    risky = scores[scores["risk"] >= trained.churn.at_risk_threshold]
    rep = risky["owner_rep_id"].value_counts().index[0]
    with duckdb.connect(str(trained.warehouse_path), read_only=True) as con:
        own = {r[0] for r in con.execute("SELECT customer_id FROM customers WHERE owner_rep_id = ?", [rep]).fetchall()}
    result = render(trained, "churn_risk", {"as_of": "2026-06-30", "scope": f"rep:{rep}"})
    page = result.html_path.read_text(encoding="utf-8")
    shown = customer_ids(page)
    assert shown and shown <= own  # their at-risk customers, and nobody else's
    assert set(risky.loc[risky["owner_rep_id"] == rep, "customer_id"]) <= shown
    assert result.figures["customers_scored"] == int((scores["owner_rep_id"] == rep).sum())
    others = set(scores["customer_id"]) - own
    assert not others & shown
    assert not set(scores["customer_id"]) & {None, anonymous_company.GUEST}  # GUEST has an owner, but is nobody
    # the walk-in sales credited to the rep in the lookback window
    end = date(2026, 6, 30)
    e = guests.expected(guests.happened(end - timedelta(days=365), end, rep=rep))
    assert result.figures["anonymous_lines"] == e["lines"] and Decimal(str(result.figures["anonymous_revenue"])) == e["revenue"]
    if e["lines"]:
        assert "of the sales credited to this scope" in page


@pytest.mark.notebook
def test_without_a_model_the_report_says_so(trained, tmp_path):
    shutil.copy(trained.warehouse_path, tmp_path / "warehouse.duckdb")
    (tmp_path / "salesml.toml").write_text('[warehouse]\npath = "warehouse.duckdb"\n\n[models]\ndir = "no_models"\n', encoding="utf-8")
    s = with_notebooks(load_settings(tmp_path / "salesml.toml"))
    result = render(s, "churn_risk", {"as_of": "2026-06-30"})
    page = result.html_path.read_text(encoding="utf-8")
    assert "No churn model to score with" in page and "salesml train churn" in page
    assert result.figures["model_version"] is None
    assert not customer_ids(page)


@pytest.mark.notebook
def test_a_report_before_the_models_labels_end_is_refused_unless_a_backfill(trained):
    """The model's labels end on 2026-06-30: a report as of 2026-03-31 would show scores from a
    model that has seen the next three months. It is refused with both dates and the command
    that trains an honest model; allow_lookahead renders it and says so on the page."""
    with pytest.raises(ReportError) as e:
        render(trained, "churn_risk", {"as_of": "2026-03-31"})
    said = " ".join(str(e.value).split())
    assert "trained on labels up to 2026-06-30, after the as-of date 2026-03-31" in said
    assert "salesml train churn --as-of 2026-03-31" in said and "Traceback" not in said
    result = render(trained, "churn_risk", {"as_of": "2026-03-31", "allow_lookahead": "true"})
    page = result.html_path.read_text(encoding="utf-8")
    assert result.figures["lookahead"] is True and "Lookahead: this model was trained on labels up to 2026-06-30" in page
    manifest = registry.manifest(trained, "churn")
    assert result.figures["scorer"] == manifest["scorer"]["name"]
    assert result.figures["logistic_roc_auc"] == manifest["metrics"]["baselines"]["logistic"]["roc_auc"]
    assert manifest["scorer"]["why"] in " ".join(page.split())
