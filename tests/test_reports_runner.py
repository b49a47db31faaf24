"""Rendering report notebooks: papermill + nbconvert, parameters, failures."""

from __future__ import annotations

import json

import nbformat
import pytest

from salesml.reports.runner import (
    ReportError,
    coerce_parameters,
    declared_parameters,
    notebook_path,
    output_path,
    render,
)
from tests.conftest import make_settings

ROOT_NOTEBOOKS = __import__("pathlib").Path(__file__).resolve().parents[1] / "notebooks"


def with_notebooks(settings):
    return settings.with_overrides(
        report={"notebooks_dir": str(ROOT_NOTEBOOKS), "output_dir": str(settings.root / "reports")}
    )


def test_report_notebooks_are_thin_and_stored_without_outputs():
    for path in ROOT_NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path
        for c in code:
            assert len(c.source.splitlines()) <= 12, (path, c.source)
        # the parameters cell holds literals only
        for line in tagged[0].source.splitlines():
            assert line.startswith("#") or not line.strip() or " = " in line, line


def test_parameters_are_checked_and_ids_stay_text(tmp_path):
    s = with_notebooks(make_settings(tmp_path))
    nb = notebook_path(s, "sales_performance")
    assert set(declared_parameters(nb)) == {"period", "scope", "config_path", "warehouse"}
    assert coerce_parameters(notebook_path(s, "data_quality"), {"batch": "12"}) == {"batch": 12}
    with pytest.raises(ReportError, match="batch must be int"):
        coerce_parameters(notebook_path(s, "data_quality"), {"batch": "twelve"})
    assert coerce_parameters(nb, {"scope": "rep:007"}) == {"scope": "rep:007"}
    with pytest.raises(ReportError, match="unknown parameter 'regoin'.*period, scope"):
        coerce_parameters(nb, {"regoin": "x"})
    with pytest.raises(ReportError, match="no report notebook .*nope.ipynb; available: .*sales_performance"):
        notebook_path(s, "nope")


def test_output_paths(tmp_path):
    s = with_notebooks(make_settings(tmp_path))
    assert output_path(s, "sales_performance", {"period": "2024-02", "scope": "company"}) == tmp_path / "reports" / "2024-02" / "sales_performance.html"
    assert output_path(s, "sales_performance", {"period": "2024-02", "scope": "region:East China"}).name == "sales_performance_region-East_China.html"
    assert output_path(s, "data_quality", {"batch": 7}).name == "data_quality_batch-7.html"


@pytest.mark.notebook
def test_toy_report_renders_with_charts_and_recorded_figures(toy):
    s = with_notebooks(toy)
    result = render(s, "sales_performance", {"period": "2024-02"})
    assert result.html_path == toy.root / "reports" / "2024-02" / "sales_performance.html"
    page = result.html_path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 4  # attainment, trend, regions, categories
    assert "SalesPerformanceReport(" not in page  # code is hidden
    assert result.figures["revenue"] == 510
    assert result.figures["orders"] == 5
    side = json.loads(result.html_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert side["figures"]["revenue"] == 510
    assert side["parameters"]["period"] == "2024-02"


@pytest.mark.notebook
def test_a_failing_report_raises_with_the_cell_and_writes_no_page(toy):
    s = with_notebooks(toy)
    with pytest.raises(ReportError, match=r"failed in cell .*ScopeError.*no team 'T99'"):
        render(s, "sales_performance", {"period": "2024-02", "scope": "team:T99"})
    assert not (toy.root / "reports" / "2024-02" / "sales_performance_team-T99.html").exists()
    assert (toy.root / "reports" / "2024-02" / "sales_performance_team-T99.failed.ipynb").exists()
