"""Rendering report notebooks: papermill + nbconvert, parameters, failures."""

from __future__ import annotations

import json
import os
import stat

import nbformat
import pytest

from salesml.io.export import current_umask
from salesml.reports.runner import (
    ReportError,
    WarmKernel,
    _failed,
    audience_failed_path,
    audience_path,
    check_parameters,
    coerce_parameters,
    declared_parameters,
    notebook_path,
    output_path,
    render,
    render_many,
    render_workers,
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
    assert set(declared_parameters(nb)) == {"period", "scope", "lang", "config_path", "warehouse"}
    with pytest.raises(ReportError, match="parameter lang: 'fr' is not one of en, zh"):
        check_parameters({"lang": "fr"})
    assert output_path(s, "sales_performance", {"period": "2026-11", "lang": "zh"}).name == "sales_performance_zh.html"
    assert output_path(s, "sales_performance", {"period": "2026-11", "lang": "en"}).name == "sales_performance.html"
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
    # the page asks no server for anything: no script or stylesheet from a CDN (require.js,
    # MathJax, mermaid); plotly.js is inline
    import re

    assert not re.findall(r"<(?:script|link)[^>]+(?:src|href)=[\"']https?://", page)
    assert "require.min.js" not in page and "text/x-mathjax-config" not in page and "mermaid.esm" not in page
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
    kept = toy.root / "reports" / "2024-02" / "sales_performance_team-T99.failed.ipynb"
    assert _mode(kept) == 0o600  # it holds what the page showed: owner-only
    assert _mode(kept.parent) == 0o777 & ~current_umask()  # the pages' folder, made for it: as usual
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]  # no temporary file left


@pytest.mark.notebook
def test_several_reports_render_at_once_and_one_failure_stops_no_other(toy):
    s = with_notebooks(toy)
    seen = []
    results = render_many(s, ["sales_performance", "data_quality", "customer_segments"], {"scope": "team:T99"}, workers=2,
                          on_done=lambda name, r: seen.append(name))
    # sales_performance fails in a cell (no such team), data_quality refuses a parameter it does
    # not take, customer_segments fails too: each is its own error, in the order asked
    assert [type(r).__name__ for r in results] == ["ReportError"] * 3
    assert "no team 'T99'" in str(results[0]) and "unknown parameter 'scope'" in str(results[1])
    assert sorted(seen) == sorted(["sales_performance", "data_quality", "customer_segments"])
    assert not list((toy.root / "reports").rglob("*.html"))
    good = render_many(s, ["sales_performance", "data_quality"], {}, workers=2)
    assert [r.name for r in good] == ["sales_performance", "data_quality"]
    assert all(r.html_path.exists() for r in good)
    alone = render(s, "sales_performance", {})
    assert good[0].figures == alone.figures and good[0].html_path == alone.html_path


def _probe_notebooks(folder):
    """A notebook that fails if a name of the previous page is still defined, then defines one;
    and notebooks that fail in a cell or kill their kernel."""
    import shutil

    shutil.copytree(ROOT_NOTEBOOKS, folder)
    nb = nbformat.read(folder / "sales_performance.ipynb", as_version=4)
    for name, code in {
        "probe": 'assert "left_by_the_last_page" not in globals(), "a name of the previous page"\nleft_by_the_last_page = scope',
        "boom": 'raise RuntimeError("boom")',
        "dies": "import os\nos._exit(1)",
    }.items():
        cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        nbformat.write(nbformat.v4.new_notebook(cells=[*cells, nbformat.v4.new_code_cell(code)], metadata=nb.metadata), folder / f"{name}.ipynb")


@pytest.mark.notebook
def test_a_warm_kernel_keeps_nothing_of_one_page_for_the_next_and_survives_failures(toy, tmp_path):
    _probe_notebooks(tmp_path / "nb")
    s = with_notebooks(toy).with_overrides(report={"notebooks_dir": str(tmp_path / "nb"), "output_dir": str(toy.root / "reports")})
    kernel = WarmKernel()
    try:
        for scope in ("team:T1", "team:T2"):  # the second page fails if the first one's name is left
            render(s, "probe", {"period": "2024-02", "scope": scope}, kernel=kernel)
        assert kernel.pages == 2
        page = render(s, "sales_performance", {"period": "2024-02", "scope": "team:T2"}, kernel=kernel).html_path.read_text(encoding="utf-8")
        assert "Carol" in page and "Alice" not in page and "%reset" not in page
        with pytest.raises(ReportError, match=r"report boom failed in cell \d+: RuntimeError: boom"):
            render(s, "boom", {"period": "2024-02"}, kernel=kernel)
        assert kernel.km is None  # a failed page ends its kernel ...
        with pytest.raises(ReportError, match="report dies did not complete: DeadKernelError"):
            render(s, "dies", {"period": "2024-02"}, kernel=kernel)
        render(s, "probe", {"period": "2024-02", "scope": "team:T1"}, kernel=kernel)  # ... and the next one starts afresh
        assert kernel.pages == 4
        sockets = kernel._tmp
        assert sockets and os.path.isdir(sockets)
    finally:
        kernel.close()
    assert not os.path.exists(sockets)  # nothing of the kernel is left behind
    # the same page from a kernel of its own (papermill) records the same figures
    warm = json.loads((toy.root / "reports" / "2024-02" / "sales_performance_team-T2.json").read_text(encoding="utf-8"))
    cold = render(s.with_overrides(report={"warm_kernels": False}), "sales_performance", {"period": "2024-02", "scope": "team:T2"})
    assert cold.figures == warm["figures"]


def test_render_workers_follow_the_setting_and_never_exceed_the_reports(tmp_path):
    s = make_settings(tmp_path)
    assert render_workers(s, 5, 3) == 3
    assert render_workers(s, 2, 8) == 2
    assert render_workers(s.with_overrides(report={"workers": 1}), 5) == 1
    assert 1 <= render_workers(s, 5) <= 5  # 0 = one per core


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "../x"}, r"parameter period: '\.\./x' is not a month of the form YYYY-MM"),
        ({"period": "/abs/path"}, r"parameter period: '/abs/path'"),
        ({"period": "2024-02/../../x"}, r"parameter period"),
        ({"load_period": "../../etc"}, r"parameter load_period: '\.\./\.\./etc'"),
        ({"as_of": "../2024-01-01"}, r"parameter as_of: '\.\./2024-01-01' is not a day of the form YYYY-MM-DD"),
        ({"as_of": "20240101"}, r"parameter as_of"),
        ({"scope": "team:../x"}, r"parameter scope: 'team:\.\./x': a team name may not contain"),
        ({"scope": "region:East/China"}, r"parameter scope: 'region:East/China'"),
        ({"scope": "rep:a\\b"}, r"parameter scope: 'rep:a\\\\b'"),
        ({"scope": "rep:x\ny"}, r"parameter scope"),
        ({"scope": "/etc/passwd"}, r"parameter scope: scope '/etc/passwd': unknown level"),
        ({"freq": "Q"}, r"parameter freq: 'Q' is not one of D, W, M"),
        ({"version": "../v1"}, r"parameter version: '\.\./v1' is not a model version"),
        ({"batch": -3}, r"parameter batch: must be a whole number 0 or more, got -3"),
    ],
)
def test_parameters_that_make_paths_are_checked_before_any_path(tmp_path, params, message):
    s = with_notebooks(make_settings(tmp_path))
    with pytest.raises(ReportError, match=message):
        check_parameters(params)
    with pytest.raises(ReportError, match=message):
        output_path(s, "sales_performance", params)
    with pytest.raises(ReportError, match=message):
        render(s, "sales_performance", params)  # fails before the warehouse is read or a folder made
    assert not (tmp_path / "reports").exists()


def test_good_parameters_pass_and_are_trimmed():
    assert check_parameters({"period": " 2024-02 ", "as_of": "2024-02-29", "scope": "region:East China", "freq": "w",
                             "version": "v0003", "batch": 0, "load_period": "", "models": "ets,theta"}) == {
        "period": "2024-02", "as_of": "2024-02-29", "scope": "region:East China", "freq": "w",
        "version": "v0003", "batch": 0, "load_period": "", "models": "ets,theta"}
    assert check_parameters({"scope": "region:华东"})["scope"] == "region:华东"


def test_no_page_lies_outside_the_reports_folder(tmp_path):
    s = with_notebooks(make_settings(tmp_path))
    root = (tmp_path / "reports").resolve()
    for params in ({"period": "2024-02", "scope": "team:T.x"}, {"as_of": "2024-02-01"}, {"batch": 3}, {}):
        assert output_path(s, "data_quality", params).resolve().is_relative_to(root)
    for name in ("../sales_performance", "/tmp/x", "a/b", "", ".hidden"):
        with pytest.raises(ReportError, match="report name"):
            output_path(s, name, {})
        with pytest.raises(ReportError, match="report name"):
            notebook_path(s, name)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_failed_audience_pages_notebook_is_kept_in_owner_only_folders(tmp_path):
    s = with_notebooks(make_settings(tmp_path))
    page = audience_path(s, "sales_performance", {"period": "2026-11", "scope": "rep:R017"})
    failed = audience_failed_path(s, page)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    error = _failed("sales_performance", "cell 0: ZeroDivisionError: division by zero", nb, failed)
    assert str(failed) in str(error)
    reports = tmp_path / "reports"
    assert failed == reports / "_failed" / "2026-11" / "sales_performance" / "rep-R017.ipynb"
    assert _mode(failed) == 0o600
    assert [_mode(reports / "_failed" / p) for p in ("", "2026-11", "2026-11/sales_performance")] == [0o700] * 3
    assert _mode(reports) == 0o777 & ~current_umask()  # the reports folder itself: as usual
    assert nbformat.read(failed, as_version=4).metadata["salesml"]["error"].startswith("report sales_performance failed")


def test_published_files_get_a_new_files_permissions_and_private_ones_stay_owner_only(tmp_path):
    from salesml.reports.runner import write_files

    before = os.umask(0o027)
    try:
        write_files({tmp_path / "r" / "a.html": "<p>page</p>", tmp_path / "r" / "a.json": "{}"})
        write_files({tmp_path / "r" / "a.failed.ipynb": "{}"}, private=True)
    finally:
        os.umask(before)
    modes = {p.name: _mode(p) for p in (tmp_path / "r").iterdir()}
    assert modes == {"a.html": 0o640, "a.json": 0o640, "a.failed.ipynb": 0o600}  # what umask 027 gives; no .tmp left


def test_write_files_is_all_or_nothing_and_names_a_full_disk(tmp_path):
    """A real write failure: a file size limit (EFBIG, as on a full disk) in a subprocess."""
    import resource
    import subprocess
    import sys

    from salesml.reports.runner import write_files

    page, side = tmp_path / "r" / "a.html", tmp_path / "r" / "a.json"
    write_files({page: "<p>old</p>", side: "{}"})
    code = (
        "import sys; from pathlib import Path; from salesml.reports.runner import write_files\n"
        "try:\n"
        f"    write_files({{Path({str(page)!r}): '<p>new</p>', Path({str(side)!r}): 'x' * 5000}})\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e); sys.exit(1)\n"
    )

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=limit, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith(f"DiskFullError no space left on device writing {side}")
    assert sorted(p.name for p in page.parent.iterdir()) == ["a.html", "a.json"]  # no temporary file
    assert page.read_text(encoding="utf-8") == "<p>old</p>"  # the page was not replaced either
