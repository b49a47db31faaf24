"""The workbench as a web page (salesml.dashboard, `make dashboard`).

* The workbench notebook runs headless 20 times in a row, each in a fresh kernel (what hung before:
  widget redraws through ``clear_output(wait=True)`` in a new kernel), each with a deadline.
* A real Voilà server started the way `make dashboard` starts it, opened in headless Chromium:
  the page shows no code and no traceback; changing the region changes the chart and the table;
  a visitor cannot execute code through the kernel's websocket nor fetch the notebook or any file.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from salesml import dashboard
from tests.test_reports_browser import CHROMIUM, DRIVER, browser  # noqa: F401  (the browser fixture)

ROOT = Path(__file__).resolve().parents[1]
RUNS = 20
RUN_TIMEOUT = 60  # seconds a cell may take before the run counts as hung
BROWSER = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
    reason="headless Chromium is not installed (Debian's chromium and chromium-driver; .ci/run installs them)",
)


def _env(settings) -> dict[str, str]:
    """This process's environment pointed at the test warehouse, with no config file."""
    env = {k: v for k, v in os.environ.items() if k not in ("SALESML_CONFIG", "SALESML_WAREHOUSE")}
    env["SALESML_WAREHOUSE"] = str(settings.warehouse_path)
    return env


# -- the launcher, without a server ----------------------------------------------------------------


def test_voila_command_line_is_locked_down(tmp_path):
    nb = dashboard.prepare_notebook(dashboard.NOTEBOOK, tmp_path, {})
    argv = dashboard.voila_argv(nb, 8866, ROOT)
    assert argv[0] == str(tmp_path / "explore.ipynb")  # one notebook, not a folder (no tree)
    for flag in ("--Voila.ip=127.0.0.1", "--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
                 "--VoilaConfiguration.allow_template_override=NO",
                 f"--Voila.root_dir={tmp_path}", f"--MappingKernelManager.root_dir={ROOT}"):
        assert flag in argv, flag
    assert argv[argv.index("--VoilaConfiguration.file_allowlist") + 1] == "(?!)"
    with pytest.raises(dashboard.DashboardError, match="has no parameter colour"):
        dashboard.prepare_notebook(dashboard.NOTEBOOK, tmp_path, {"colour": "red"})
    with pytest.raises(ValueError):
        dashboard.chosen_parameters(dashboard.parse_args(["--scope", "galaxy:far"]))
    with pytest.raises(dashboard.DashboardError, match="lang"):
        dashboard.chosen_parameters(dashboard.parse_args(["--lang", "fr"]))


def test_parameters_go_into_the_served_copy(tmp_path):
    declared = dashboard.notebook_parameters(dashboard.NOTEBOOK)
    params = {"warehouse": "/somewhere/w.duckdb"} | ({"scope": "team:T1"} if "scope" in declared else {})
    nb = nbformat.read(dashboard.prepare_notebook(dashboard.NOTEBOOK, tmp_path, params), as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "/somewhere/w.duckdb" in injected[0].source
    assert ("team:T1" in injected[0].source) == ("scope" in params)
    assert nbformat.read(dashboard.NOTEBOOK, as_version=4).cells[0].source  # the original is untouched


# -- 20 headless runs ------------------------------------------------------------------------------


def _run_once(i: int, notebook: Path, env: dict[str, str], cwd: Path) -> tuple[int, float, str]:
    """Execute the notebook in a fresh kernel; '' or what went wrong."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=RUN_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                            # a cell's outputs must all arrive: a lost idle message fails the run instead of
                            # being skipped after 4 s
                            iopub_timeout=20, raise_on_iopub_timeout=True)
    started = time.monotonic()
    try:
        client.execute(env=env)
    except CellTimeoutError as e:
        return i, time.monotonic() - started, f"hung (no reply within {RUN_TIMEOUT} s): {str(e).splitlines()[0]}"
    except DeadKernelError as e:
        return i, time.monotonic() - started, f"kernel died: {e}"
    except Exception as e:  # noqa: BLE001 - any failure is reported with its run number
        return i, time.monotonic() - started, f"{type(e).__name__}: {str(e)[-600:]}"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    if not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs):
        return i, time.monotonic() - started, "no widget was displayed"
    if any(o.get("output_type") == "error" for o in outputs):
        return i, time.monotonic() - started, "an error output"
    return i, time.monotonic() - started, ""


@pytest.mark.notebook
def test_workbench_notebook_runs_headless_20_times_without_hanging(toy_wh, tmp_path):
    notebook = dashboard.prepare_notebook(dashboard.NOTEBOOK, tmp_path, {"warehouse": str(toy_wh.warehouse_path)})
    env = _env(toy_wh)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:  # two at a time: the 2-core CI machine, and load makes races likelier
        results = list(pool.map(lambda i: _run_once(i, notebook, env, toy_wh.root), range(RUNS)))
    elapsed = time.monotonic() - started
    failed = [f"run {i + 1}: {what} after {secs:.1f} s" for i, secs, what in results if what]
    assert failed == [], f"{len(failed)} of {RUNS} headless runs failed:\n" + "\n".join(failed)
    slowest = max(secs for _, secs, _ in results)
    print(f"{RUNS} headless runs in {elapsed:.1f} s (slowest {slowest:.1f} s)")


# -- a real server in a real browser -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(toy_wh):
    """`python -m salesml.dashboard` (what `make dashboard` runs) on a free port over the toy warehouse."""
    port = _free_port()
    log = toy_wh.root / "dashboard.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "salesml.dashboard", "--port", str(port)], cwd=toy_wh.root,
                                env=_env(toy_wh), stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the dashboard stopped: {log.read_text(errors='replace')[-2000:]}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"the dashboard did not listen within 60 s: {log.read_text(errors='replace')[-2000:]}"
                time.sleep(0.25)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:  # follows redirects
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_dashboard_serves_no_file_and_no_other_notebook(server):
    base, _log = server
    for path in ("/voila/files/explore.ipynb", "/explore.ipynb", "/voila/render/explore.ipynb", "/voila/tree",
                 "/api/contents", "/api/contents/explore.ipynb", "/api/terminals", "/api/sessions", "/api/kernelspecs",
                 "/lab", "/tree", "/voila/files/salesml.toml", "/voila/files/warehouse.duckdb", "/voila/files/x.png"):
        assert _status(base + path) in (403, 404, 405), path


def _page_signature(driver) -> dict:
    return driver.execute_script("""
const q = s => document.querySelector(s);
const gd = q('.salesml-trend.js-plotly-plot') || q('.salesml-trend .js-plotly-plot');  // the FigureWidget's own element
const table = q('.salesml-table table');
return {
  ready: document.readyState === 'complete' && !!gd && !!gd.querySelector('svg.main-svg') && !!table && !!q('.salesml-f-region select'),
  trend: gd ? JSON.stringify((gd.data || []).map(t => [t.name || '', t.x || [], t.y || []])) : '',
  paths: gd ? [...gd.querySelectorAll('.plot path')].map(p => p.getAttribute('d')).join('|') : '',
  table: table ? table.innerText : '',
  bars: (() => { const b = q('.salesml-breakdown.js-plotly-plot') || q('.salesml-breakdown .js-plotly-plot');
                 return b && b.data && b.data[0] && b.data[0].x ? b.data[0].x.length : 0; })(),
};""")


def _wait(driver, predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        state = _page_signature(driver)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            shots = ROOT / "reports" / "_screens"
            shots.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(shots / "FAILED-dashboard.png"))
            text = driver.execute_script("return document.body ? document.body.innerText : ''")
            raise AssertionError(f"{what} within {seconds:.0f} s; the page says: {text[:1500]}")
        time.sleep(0.25)


async def _try_execute(ws_url: str, marker: Path) -> list[str]:
    """Send execute_request (which would write ``marker``) and kernel_info_request; the reply types seen."""
    from tornado.websocket import websocket_connect

    def message(msg_type: str, content: dict) -> str:
        header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "visitor", "session": uuid.uuid4().hex,
                  "version": "5.3", "date": ""}
        return json.dumps({"channel": "shell", "header": header, "parent_header": {}, "metadata": {}, "content": content,
                           "buffers": []})

    ws = await websocket_connect(ws_url)
    code = f"open({str(marker)!r}, 'w').write('executed')"
    await ws.write_message(message("execute_request", {"code": code, "silent": False, "store_history": False,
                                                       "user_expressions": {}, "allow_stdin": False}))
    await ws.write_message(message("kernel_info_request", {}))
    seen: list[str] = []
    try:
        while "kernel_info_reply" not in seen or len(seen) < 50:
            raw = await asyncio.wait_for(ws.read_message(), 5)
            if raw is None:
                break
            if isinstance(raw, str):
                seen.append(json.loads(raw)["header"]["msg_type"])
    except TimeoutError:
        pass
    ws.close()
    return seen


@pytest.mark.notebook
@BROWSER
def test_dashboard_in_a_real_browser(server, browser, tmp_path):  # noqa: F811 - browser is the imported fixture
    from selenium.webdriver.support.ui import Select

    base, log = server
    browser.get(base + "/")
    first = _wait(browser, lambda s: s["ready"] and s["table"], 120, "the workbench did not draw its chart and table")
    # the charts are drawn with the figures of the first render, not as they were made (empty)
    drawn = _wait(browser, lambda s: s["bars"] > 0 and '[""' not in s["trend"][:3], 30, "the charts were drawn empty")
    assert json.loads(drawn["trend"])[0][1], drawn["trend"]
    first = drawn

    # code hidden, no traceback
    shown = browser.execute_script("""
const code = [...document.querySelectorAll('.jp-CodeCell')];
return {cells: code.length, withInput: code.filter(c => !c.classList.contains('jp-mod-noInput')).length,
        inputs: document.querySelectorAll('.jp-CodeCell .jp-InputArea, .jp-InputPrompt, .jp-Editor, .CodeMirror, .cm-editor, .highlight').length,
        text: document.body.innerText};""")
    assert shown["cells"] >= 1 and shown["withInput"] == 0 and shown["inputs"] == 0, f"the page shows code: {shown}"
    for word in ("workbench(", "import ", "config_path", "Traceback", "There was an error when executing cell"):
        assert word not in shown["text"], word

    # the region filter changes the chart and the table
    select = Select(browser.find_element("css selector", ".salesml-f-region select"))
    options = [o.get_attribute("value") for o in select.options]
    assert len(options) >= 3 and options[0].lower() == "all", options  # all + the toy's East and West
    select.select_by_index(1)
    after = _wait(browser, lambda s: s["ready"] and (s["trend"], s["paths"]) != (first["trend"], first["paths"])
                  and s["table"] != first["table"], 60, f"choosing region {options[1]!r} did not change both the chart and the table")
    assert after["table"].strip(), "the table went empty"

    # a click on a bar drills into it: the breadcrumbs grow by the bar's member
    from selenium.webdriver import ActionChains

    crumbs = browser.find_element("css selector", ".salesml-crumbs").text
    bar = browser.find_elements("css selector", ".salesml-breakdown .bars path, .salesml-breakdown.js-plotly-plot .bars path")[0]
    ActionChains(browser).move_to_element(bar).pause(0.3).click().perform()
    deadline = time.monotonic() + 30
    while browser.find_element("css selector", ".salesml-crumbs").text == crumbs and time.monotonic() < deadline:
        time.sleep(0.25)
    assert browser.find_element("css selector", ".salesml-crumbs").text != crumbs, "a click on a bar did not drill into it"
    text = browser.execute_script("return document.body.innerText")
    assert "Traceback" not in text

    # the page's kernel takes widget messages only: code sent over its websocket is dropped
    kernel_id = browser.execute_script("return JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
    assert kernel_id
    marker = tmp_path / "executed.txt"
    seen = asyncio.run(_try_execute(f"{base.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels", marker))
    assert "kernel_info_reply" in seen, seen  # the channel works ...
    assert "execute_reply" not in seen and "execute_input" not in seen, seen  # ... and executes nothing
    assert not marker.exists()
    assert 'Received message of type "execute_request", which is not allowed' in log.read_text(errors="replace")
