"""The workbench's widget view: it builds, follows a filter change in place, and shows errors."""

from __future__ import annotations

from datetime import date

import pytest

from salesml.explore import Workbench
from salesml.explore.widgets import WorkbenchView
from tests.test_reports_browser import browser  # noqa: F401  (the browser fixture)

FEB = {"start": date(2024, 2, 1), "end": date(2024, 2, 29)}


@pytest.fixture(scope="module")
def view(toy_wh):
    wb = Workbench(toy_wh)
    wb.set(**FEB)
    v = WorkbenchView(wb)
    yield v
    wb.close()


def test_view_builds_with_its_hooks(view):
    for name, w in view.filters.items():
        assert f"salesml-f-{name}" in w._dom_classes
    assert view.region.options[0] == ("all", "")
    for w, cls in ((view.kpis, "salesml-kpis"), (view.trend, "salesml-trend"), (view.breakdown, "salesml-breakdown"),
                   (view.table, "salesml-table"), (view.message, "salesml-message"), (view.crumbs, "salesml-crumbs"),
                   (view.export, "salesml-export"), (view.tabs, "salesml-tabs")):
        assert cls in w._dom_classes
    assert "¥510" in view.kpis.value and list(view.breakdown.data[0].x) == ["West", "East"]


def test_a_filter_change_updates_the_widgets(view):
    view.region.value = "West"
    assert [v for _, v in view.team.options] == ["", "T2"]
    assert "¥300" in view.kpis.value  # R2 100 + R3 200
    assert list(view.breakdown.data[0].x) == ["T2"] and "T2" in view.table.value
    assert [b.description for b in view.crumbs.children] == ["All", "West"]
    view.crumbs.children[0].click()
    assert view.region.value == "" and "¥510" in view.kpis.value
    view.measure.value = "orders"
    assert "Orders" in view.breakdown.layout.title.text
    view.measure.value = "revenue"


def test_errors_show_in_the_message_and_clear_the_views(view):
    view.start.value = date(2024, 3, 15)
    assert "start must be on or before the end" in view.message.value
    assert view.kpis.value == "" and view.table.value == "" and not list(view.breakdown.data[0].x)
    view.start.value = FEB["start"]
    assert view.message.value == "" and "¥510" in view.kpis.value


def test_workbench_in_jupyterlab(toy_wh, tmp_path, browser):  # noqa: F811 - browser is the imported fixture
    """notebooks/explore.ipynb opened in a real JupyterLab (headless Chromium) and run as a user
    runs it: its kernel in notebooks/ finds the project's salesml.toml above it, the charts and the
    table are drawn, and choosing a region redraws the table."""
    import json
    import shutil
    import socket
    import subprocess
    import sys
    import time

    from selenium.webdriver.support.ui import Select

    from tests.test_dashboard import BROWSER, ROOT, _free_port

    if BROWSER.args[0]:
        pytest.skip(BROWSER.kwargs["reason"])
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "explore.ipynb", project / "notebooks" / "explore.ipynb")
    (project / "salesml.toml").write_text(f"[warehouse]\npath = {json.dumps(str(toy_wh.warehouse_path))}\n", encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SALESML_")}
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed below
    lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
                            "--ServerApp.token=", "--ServerApp.password=", "--allow-root", f"--ServerApp.root_dir={project}",
                            f"--LabApp.workspaces_dir={tmp_path / 'ws'}", "--LabApp.expose_app_in_browser=True"],
                           cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert lab.poll() is None and time.monotonic() < deadline, (tmp_path / "lab.log").read_text(errors="replace")[-2000:]
                time.sleep(0.25)
        browser.get(f"http://127.0.0.1:{port}/lab/tree/notebooks/explore.ipynb")

        def wait(js: str, what: str, seconds: float = 90):
            end = time.monotonic() + seconds
            while not browser.execute_script(js):
                if time.monotonic() > end:
                    raise AssertionError(f"{what}; the page says: {browser.execute_script('return document.body.innerText')[:1500]}")
                time.sleep(0.5)

        wait("return !!window.jupyterapp && document.querySelectorAll('.jp-Notebook .jp-Cell').length > 0", "JupyterLab did not open the notebook")
        # the notebook's kernel has started (the status bar says so) before its cells are run
        wait("return /Python 3 \\(ipykernel\\)\\s*\\|\\s*Idle/.test(document.body.innerText)", "the notebook's kernel did not start")
        browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        bars = ("const b = document.querySelector('.salesml-breakdown.js-plotly-plot') || document.querySelector('.salesml-breakdown .js-plotly-plot');"
                "return !!(b && b.data && b.data[0].x && b.data[0].x.length) && !!document.querySelector('.salesml-table table')")
        wait(bars, "the workbench did not draw its charts and table in JupyterLab")
        table = browser.execute_script("return document.querySelector('.salesml-table table').innerText")
        Select(browser.find_element("css selector", ".salesml-f-region select")).select_by_index(1)
        wait(f"const t = document.querySelector('.salesml-table table'); return !!t && t.innerText !== {json.dumps(table)}",
             "choosing a region did not redraw the table", 30)
        assert "Traceback" not in browser.execute_script("return document.body.innerText")
    finally:
        lab.terminate()
        try:
            lab.wait(30)
        except subprocess.TimeoutExpired:
            lab.kill()
        log.close()
