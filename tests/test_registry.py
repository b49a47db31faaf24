"""Model registry: versions with manifests, safe loading, listing and comparing."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from salesml import registry
from tests.conftest import make_settings


def fitted():
    return LogisticRegression(random_state=0).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def test_versions_are_numbered_and_never_overwritten(tmp_path):
    s = make_settings(tmp_path)
    v1 = registry.save(s, "churn", {"metrics": {"model": {"roc_auc": 0.7}}, "parameters": {"C": 1.0}}, estimator=fitted())
    v2 = registry.save(s, "churn", {"metrics": {"model": {"roc_auc": 0.75}}, "parameters": {"C": 0.5}, "data_window": "2025"}, estimator=fitted())
    assert (v1, v2) == ("v0001", "v0002")
    model, manifest = registry.load_estimator(s, "churn")
    assert manifest["version"] == "v0002" and manifest["packages"]["scikit-learn"]
    assert model.predict([[3.0]])[0] == 1
    assert registry.load_estimator(s, "churn", "v0001")[1]["parameters"] == {"C": 1.0}
    listed = registry.list_versions(s)
    assert listed["version"].tolist() == ["v0001", "v0002"]
    assert listed["metric:model.roc_auc"].tolist() == [0.7, 0.75]
    cmp = registry.compare(s, "churn", "v0001", "v0002").set_index("name")
    assert cmp.loc["model.roc_auc", "change"] == pytest.approx(0.05)
    assert cmp.loc["C", "change"] == -0.5


def test_missing_and_untrusted_models_are_refused(tmp_path):
    s = make_settings(tmp_path)
    with pytest.raises(registry.RegistryError, match="no churn model .*salesml train churn"):
        registry.load_estimator(s, "churn")
    registry.save(s, "churn", {}, estimator=fitted())
    with pytest.raises(registry.RegistryError, match="no churn model version 'v0009'"):
        registry.manifest(s, "churn", "v0009")
    # a version holding a type outside scikit-learn / numpy / scipy / salesml is refused
    registry.save(s, "odd", {}, estimator={"when": pd.Timestamp("2024-01-01")})
    with pytest.raises(registry.RegistryError, match="not trusted"):
        registry.load_estimator(s, "odd")


def test_files_and_data_hash(tmp_path):
    s = make_settings(tmp_path)
    v = registry.save(s, "forecast", {"data_hash": registry.frame_hash(pd.DataFrame({"a": [1, 2]}))}, files={"prophet_T01.json": json.dumps({"x": 1})})
    folder = registry.resolve(s, "forecast", v)
    assert json.loads((folder / "prophet_T01.json").read_text()) == {"x": 1}
    assert registry.frame_hash(pd.DataFrame({"a": [1, 2]})) == registry.manifest(s, "forecast")["data_hash"]
    assert registry.frame_hash(pd.DataFrame({"a": [2, 1]})) != registry.manifest(s, "forecast")["data_hash"]


def test_a_version_and_a_cached_result_are_owner_only(tmp_path):
    import os
    import stat

    from salesml.io.export import current_umask

    def mode(p):
        return stat.S_IMODE(os.stat(p).st_mode)

    s = make_settings(tmp_path)
    v = registry.save(s, "churn", {}, estimator=fitted(), files={"evaluation.json": "{}", "rules.csv": b"a,b\n"})
    folder = registry.resolve(s, "churn", v)
    root = registry.models_root(s)
    assert [mode(p) for p in (root, root / "churn", folder)] == [0o700] * 3
    assert {p.name: mode(p) for p in folder.iterdir()} == {
        "model.skops": 0o600, "manifest.json": 0o600, "evaluation.json": 0o600, "rules.csv": 0o600,
    }
    assert mode(root.parent) == 0o777 & ~current_umask()  # data/, above the registry: made as usual
    registry.save_result(s, "panels", "k1", {"a": pd.DataFrame({"x": [1]}), "b": None})
    result = root / "cache" / "panels" / "k1"
    assert [mode(p) for p in (root / "cache", root / "cache" / "panels", result)] == [0o700] * 3
    assert {p.name: mode(p) for p in result.iterdir()} == {"a.parquet": 0o600, "frames.json": 0o600}
