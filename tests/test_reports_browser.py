"""Rendered pages opened in a real headless Chromium (Debian's chromium and chromium-driver,
which .ci/run installs): no console error, no network request, every chart drawn as SVG, no
table wider than the page; a screenshot of each under reports/_screens/."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from salesml.reports.runner import RenderJob, render_jobs
from tests.test_reports_runner import with_notebooks

CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = [
    pytest.mark.notebook,
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
                       reason="headless Chromium is not installed (Debian's chromium and chromium-driver; .ci/run installs them)"),
]
WIDTH = 1280

#: charts drawn so far (a busy machine draws late: polled until every chart of the file is there)
DRAWN = """
if (document.readyState !== 'complete') return -1;
return [...document.querySelectorAll('div.plotly-graph-div')].filter(c => c.querySelector('svg.main-svg')).length;
"""

CHECK = """
const charts = [...document.querySelectorAll('div.plotly-graph-div')];
const undrawn = charts.filter(c => !c.querySelector('svg.main-svg')).length;
const page = document.documentElement.clientWidth;
// a table wider than the page must sit in a box that scrolls sideways (and the box fit the page)
const boxes = [...document.querySelectorAll('table')].map(t => t.closest('.salesml-scroll') || t);
const wide = boxes.filter(b => b.getBoundingClientRect().width > page + 1).map(b => Math.round(b.getBoundingClientRect().width));
// a names axis read as dates draws 1970 (a number on a date axis)
const ticks = [...document.querySelectorAll('.xtick text, .ytick text')].map(t => t.textContent);
return {charts: charts.length, undrawn: undrawn, scroll: document.documentElement.scrollWidth, page: page, wide: wide,
        epoch: ticks.filter(t => t.includes('1970')).length};
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--window-size={WIDTH},900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if not url.startswith(("file:", "data:", "blob:", "about:")):
                urls.append(url)
    return urls


def test_rendered_pages_in_a_real_browser(toy, browser):
    s = with_notebooks(toy)
    jobs = [RenderJob("sales_performance"), RenderJob("customer_segments"), RenderJob("data_quality"),
            # a one-rep page (its attainment chart is by month) and both pages in Chinese
            RenderJob("sales_performance", {"scope": "rep:R1"}), RenderJob("sales_performance", {"lang": "zh"}),
            RenderJob("sales_performance", {"scope": "rep:R1", "lang": "zh"})]
    results = render_jobs(s, jobs, workers=2)
    assert all(not isinstance(r, Exception) for r in results), results
    screens = Path(__file__).resolve().parents[1] / "reports" / "_screens"  # the project's, to look at after the tests
    screens.mkdir(parents=True, exist_ok=True)
    for r in results:
        browser.get_log("browser"), browser.get_log("performance")  # what came before is not this page's
        expected = r.html_path.read_text(encoding="utf-8").count('class="plotly-graph-div"')  # the charts the file holds
        browser.get(r.html_path.as_uri())
        started = time.monotonic()
        reloaded = False
        while browser.execute_script(DRAWN) != expected and time.monotonic() - started < 60:
            if not reloaded and time.monotonic() - started > 20:  # a page that never loaded: once more
                browser.refresh()
                reloaded = True
            time.sleep(0.25)
        state = browser.execute_script(CHECK)
        if state["charts"] != expected:
            browser.save_screenshot(str(screens / f"FAILED-{r.html_path.stem}.png"))
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (r.name, errors)
        assert _requests(browser) == [], r.name
        assert state["charts"] == expected and state["undrawn"] == 0, (r.name, expected, state)
        if r.name != "data_quality":  # the toy's data-quality page has no chart
            assert expected > 0, r.name
        assert state["wide"] == [] and state["scroll"] <= state["page"] + 1, (r.name, state)
        assert state["epoch"] == 0, (r.html_path.name, state)
        text = browser.execute_script("return document.body.innerText")
        assert "it/s]" not in text and "KeyboardInterrupt" not in text and "Traceback" not in text, r.name  # no progress bar or kernel noise
        shot = screens / f"{r.html_path.stem}.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
