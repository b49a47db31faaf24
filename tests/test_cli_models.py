"""Model commands as users run them (a subprocess): train, score, models list / compare."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from salesml import registry
from tests import anonymous_company
from tests.conftest import make_settings
from tests.test_cli import run

METRICS = {"roc_auc", "pr_auc", "brier", "lift_top_decile"}


@pytest.fixture
def project(small_demo, tmp_path):
    """A project folder: a config file with the models inside it, small churn settings and a
    shop whose walk-in sales carry the customer id GUEST, and a copy of the small demo's
    warehouse with a quarter of anonymous lines (tests/anonymous_company.py) named by
    SALESML_WAREHOUSE."""
    company = anonymous_company.build(small_demo, tmp_path)
    (tmp_path / "salesml.toml").write_text(
        '[models]\ndir = "models"\n\n'
        "[churn]\ntrain_cutoffs = 3\nmax_iter = 30\nimportance_repeats = 1\ncalibration_folds = 2\n"
        "min_samples_leaf = 20\nmin_train_examples = 100\nmin_test_examples = 30\n\n"
        '[sources.shop]\nanonymous_customer = "GUEST"\n',
        encoding="utf-8",
    )
    return tmp_path, {"SALESML_WAREHOUSE": str(company.settings.warehouse_path)}, company


def flat(text: str) -> str:
    """Messages as one line (the console wraps long ones)."""
    return " ".join(text.split())


def assert_left_out(got: dict, expected: dict) -> None:
    assert (got["lines"], got["orders"]) == (expected["lines"], expected["orders"]) and expected["lines"] > 100
    assert Decimal(str(got["revenue"])) == expected["revenue"]
    assert Decimal(str(got["total_revenue"])) == expected["total_revenue"]
    assert got["revenue_share_pct"] == pytest.approx(float(expected["revenue"] / expected["total_revenue"] * 100), abs=0.005)


def test_train_score_list_compare(project):
    root, env, company = project
    proc = run("train", "churn", "--format", "json", cwd=root, env_extra=env)
    data = json.loads(proc.stdout)  # only data on stdout
    assert data["version"] == "v0001"
    assert set(data["model"]) == METRICS
    assert set(data["baselines"]) == {"recency", "bgnbd", "logistic"}
    assert data["scorer"]["name"] in {"model", "recency", "bgnbd", "logistic"} and data["scorer"]["why"]
    assert all(set(b) == METRICS for b in data["baselines"].values())
    assert data["cutoffs"]["test"] == ["2026-04-01"] and len(data["cutoffs"]["train"]) == 3
    assert "refitted on all" in data["refit"]
    assert "saved model version v0001" in proc.stderr
    assert (root / "models" / "churn" / "v0001" / "model.skops").is_file()
    # the walk-in / guest lines up to the as-of day were left out, and the run says so
    end = date(2026, 6, 30)
    assert_left_out(data["anonymous"], company.expected(company.happened(None, end)))
    assert data["anonymous"]["note"] in data["notes"] and data["anonymous"]["note"] in flat(proc.stderr)

    proc = run("score", "churn", "--format", "json", cwd=root, env_extra=env)
    scored = json.loads(proc.stdout)
    assert scored["version"] == "v0001" and scored["as_of"] == "2026-06-30"
    assert scored["rows_written"] == scored["customers"] > 100 and scored["rows_replaced"] == 0
    assert 0 <= scored["at_risk"] <= scored["customers"]
    assert_left_out(scored["anonymous"], company.expected(company.happened(end - timedelta(days=365), end)))
    assert scored["anonymous"]["note"] in flat(proc.stderr) and "not in the churn scores" in scored["anonymous"]["note"]
    with duckdb.connect(str(company.settings.warehouse_path), read_only=True) as con:
        ids = {r[0] for r in con.execute("SELECT DISTINCT customer_id FROM churn_scores").fetchall()}
    assert len(ids) == scored["customers"] and not ids & {None, anonymous_company.GUEST}

    # scoring as of a day before the model's labels end is refused: it has seen what happened next
    proc = run("score", "churn", "--as-of", "2026-03-31", cwd=root, env_extra=env, check=False)
    said = flat(proc.stderr)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "trained on labels up to 2026-06-30, after the as-of date 2026-03-31" in said
    assert "salesml train churn --as-of 2026-03-31" in said and "--allow-lookahead" in said
    # a deliberate backfill is allowed, said, and recorded with the scores
    proc = run("score", "churn", "--as-of", "2026-03-31", "--allow-lookahead", "--format", "json", cwd=root, env_extra=env)
    backfill = json.loads(proc.stdout)
    assert backfill["lookahead"] is True and "these scores are a backfill" in flat(proc.stderr)
    with duckdb.connect(str(company.settings.warehouse_path), read_only=True) as con:
        flags = dict(con.execute("SELECT as_of::VARCHAR, bool_and(lookahead) FROM churn_scores GROUP BY ALL").fetchall())
    assert flags == {"2026-03-31": True, "2026-06-30": False}

    # a second version, to compare (its manifest differs in the metrics)
    settings = make_settings(root).with_overrides(models={"dir": str(root / "models")})
    manifest = registry.manifest(settings, "churn", "v0001")
    assert manifest["anonymous"] == data["anonymous"]
    manifest["metrics"]["model"]["roc_auc"] -= 0.1
    registry.save(settings, "churn", {k: v for k, v in manifest.items() if k not in ("kind", "version", "created_at", "created_by", "packages", "files")})
    listed = json.loads(run("models", "list", "--kind", "churn", "--format", "json", cwd=root, env_extra=env).stdout)
    assert [v["version"] for v in listed] == ["v0001", "v0002"]
    assert listed[0]["metric:model.roc_auc"] == data["model"]["roc_auc"]
    assert listed[0]["metric:baselines.bgnbd.roc_auc"] == data["baselines"]["bgnbd"]["roc_auc"]
    compared = json.loads(run("models", "compare", "churn", "v0001", "v0002", "--format", "json", cwd=root, env_extra=env).stdout)
    row = next(r for r in compared if r["name"] == "model.roc_auc")
    assert row["change"] == pytest.approx(-0.1)
    table = run("models", "list", cwd=root, env_extra=env).stdout
    assert "v0002" in table and "model.roc_auc" in table


def test_clear_errors(project):
    root, env, _ = project
    proc = run("score", "churn", cwd=root, env_extra=env, check=False)
    assert proc.returncode == 1 and "no churn model" in proc.stderr and "salesml train churn" in proc.stderr
    proc = run("train", "churn", "--as-of", "31/12/2025", cwd=root, env_extra=env, check=False)
    assert proc.returncode == 1 and "--as-of '31/12/2025' is not a date" in proc.stderr
    proc = run("train", "churn", "--as-of", "2023-12-31", cwd=root, env_extra=env, check=False)
    assert proc.returncode == 1 and "too short for a time-based holdout" in proc.stderr
    assert "Traceback" not in proc.stderr
