"""Running schedules on the toy company: one page per audience member, a record of each, run-due
idempotent, failures retried a bounded number of times, one runner at a time."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import nbformat
import pytest

from salesml.config import ScheduleSettings
from salesml.delivery import runs
from salesml.reports.runner import RenderResult
from tests.test_reports_runner import ROOT_NOTEBOOKS, with_notebooks

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: 06:00 on 1 March 2024 in Shanghai: the monthly slot that reports on February
MARCH_1 = datetime(2024, 3, 1, 9, 0, tzinfo=SHANGHAI)


def scheduled(settings, **schedules):
    return dataclasses.replace(settings, schedules=schedules)


def monthly(**kw) -> ScheduleSettings:
    base = {"report": "sales_performance", "cron": "0 6 1 * *", "timezone": "Asia/Shanghai", "parameters": {"period": "last_month"}}
    return ScheduleSettings(**{**base, **kw})


@pytest.mark.notebook
def test_each_team_gets_its_own_page_once_and_the_record_says_so(toy):
    s = scheduled(with_notebooks(toy), teams=monthly(audience=("each_team",)))
    first = runs.run_due(s, MARCH_1, workers=2)
    assert not first.problems and not first.failed
    pages = sorted(str(r.html_path.relative_to(toy.root)) for _, r in first.done)
    assert pages == ["reports/2024-02/sales_performance/team-T1.html", "reports/2024-02/sales_performance/team-T2.html"]
    # each page is its own team's: Alice (T1) is on T1's page, Carol (T2) on T2's only
    t1, t2 = (toy.root / p for p in pages)
    assert "Alice" in t1.read_text(encoding="utf-8") and "Alice" not in t2.read_text(encoding="utf-8")
    side = json.loads(t2.with_suffix(".json").read_text(encoding="utf-8"))
    assert side["parameters"]["period"] == "2024-02" and side["parameters"]["scope"] == "team:T2"
    rec = runs.records(s)
    assert list(zip(rec["audience"], rec["status"], rec["attempts"], strict=True)) == [("team:T1", "ok", 1), ("team:T2", "ok", 1)]
    assert set(rec["slot"]) == {"2024-02-29T22:00:00Z"}
    # reports/index.html lists both pages, linked relative to it
    index = (toy.root / "reports" / "index.html").read_text(encoding="utf-8")
    assert first.index == toy.root / "reports" / "index.html"
    assert 'href="2024-02/sales_performance/team-T1.html"' in index and 'href="2024-02/sales_performance/team-T2.html"' in index
    assert "period=2024-02, scope=team:T2" in index and "warehouse=" not in index
    # run-due again, at the same time or later the same month: nothing is due
    assert runs.run_due(s, MARCH_1).done == []
    assert runs.run_due(s, datetime(2024, 3, 20, tzinfo=SHANGHAI)).done == []
    (status,) = runs.status(s, datetime(2024, 3, 20, tzinfo=SHANGHAI))
    assert (status.last_slot, status.last_status, status.next_slot, status.missed) == (
        "2024-03-01T06:00+08:00", "ok (2)", "2024-04-01T06:00+08:00", 0)


@pytest.mark.notebook
def test_a_failed_page_is_retried_a_bounded_number_of_times_and_nothing_is_published(toy, tmp_path):
    folder = tmp_path / "notebooks"
    shutil.copytree(ROOT_NOTEBOOKS, folder)
    nb = nbformat.read(folder / "sales_performance.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('if scope == "team:T2":\n    raise RuntimeError("boom for T2")'))
    nbformat.write(nb, folder / "boom.ipynb")
    base = with_notebooks(toy)
    s = scheduled(base.with_overrides(report={"notebooks_dir": str(folder)}), boom=monthly(report="boom", audience=("each_team",), retries=1))
    out = runs.run_due(s, MARCH_1, workers=1)
    assert [(d.audience, type(r).__name__) for d, r in out.done] == [("team:T1", "RenderResult"), ("team:T2", "ReportError")]
    assert "boom for T2" in str(out.failed[0][1])
    assert not (toy.root / "reports" / "2024-02" / "boom" / "team-T2.html").exists()
    # nothing failed among the published pages: the executed notebook, with its error, is kept apart
    assert not list((toy.root / "reports" / "2024-02").rglob("*.ipynb"))
    kept = nbformat.read(toy.root / "reports" / "_failed" / "2024-02" / "boom" / "team-T2.ipynb", as_version=4)
    assert "boom for T2" in kept.metadata["salesml"]["error"]
    assert "_failed/2024-02/boom/team-T2.ipynb" in str(out.failed[0][1])
    again = runs.run_due(s, MARCH_1, workers=1)  # T1 is done; T2 is tried once more
    assert [d.audience for d, _ in again.done] == ["team:T2"]
    assert runs.run_due(s, MARCH_1).done == []  # retries = 1: two attempts, then it waits for a person
    rec = runs.records(s).set_index("audience")
    assert (rec.loc["team:T2", "status"], rec.loc["team:T2", "attempts"]) == ("failed", 2)
    assert "boom for T2" in rec.loc["team:T2", "error"]
    (status,) = runs.status(s, MARCH_1)
    assert status.last_status == "failed (1 of 2)"


def test_one_runner_at_a_time(toy):
    s = scheduled(with_notebooks(toy), teams=monthly(audience=("each_team",)))
    with runs.runner_lock(s) as mine:
        assert mine
        out = runs.run_due(s, MARCH_1)
        assert out.locked_by_other and out.done == []
        assert str(os.getpid()) in runs.holder(s)
    assert runs.run_due(s, MARCH_1, dry_run=True).done  # released


def test_what_cannot_run_is_said_per_schedule_and_stops_no_other(toy):
    s = scheduled(
        with_notebooks(toy),
        dq=ScheduleSettings(report="data_quality", cron="0 7 * * *", audience=("each_team",)),
        ghost=monthly(audience=("rep:R9",)),
        nope=monthly(report="no_such_report"),
        ok=monthly(audience=("rep:R1",)),
    )
    out = runs.run_due(s, MARCH_1, dry_run=True)
    assert [(d.slot.schedule, d.audience) for d, _ in out.done] == [("ok", "rep:R1")]
    text = "\n".join(out.problems)
    assert "schedule dq: report data_quality has no scope parameter: its audience can only be company" in text
    assert "schedule ghost: audience 'rep:R9': no rep 'R9' in the hierarchy on 2024-02-29" in text
    assert "schedule nope: no report notebook" in text


def test_a_schedule_that_never_ran_starts_with_its_newest_slot_then_catches_up_bounded(toy):
    daily = ScheduleSettings(report="sales_performance", cron="0 7 * * *", timezone="Asia/Shanghai", parameters={"as_of": "yesterday"})
    s = scheduled(with_notebooks(toy), daily=daily)
    (first,) = runs.run_due(s, MARCH_1, dry_run=True).done
    assert first[0].job.parameters == {"as_of": "2024-02-29", "scope": "company"}
    runs._record(s, [(first[0], RenderResult("sales_performance", toy.root / "page.html", {}))], datetime.now())  # as if it rendered
    ten_days_on = datetime(2024, 3, 11, 9, 0, tzinfo=SHANGHAI)
    later = runs.run_due(s, ten_days_on, dry_run=True).done
    assert [d.slot.at.day for d, _ in later] == [9, 10, 11]  # [schedule] catch_up = 3
    (status,) = runs.status(s, ten_days_on)
    assert status.missed == 7  # 2-8 March: never run, beyond catch-up


@pytest.mark.notebook
def test_command_line_run_due_list_and_report_for_an_audience(toy):
    (toy.root / "salesml.toml").write_text(
        f'[report]\nnotebooks_dir = "{ROOT_NOTEBOOKS}"\n\n'
        '[schedules.reps]\nreport = "sales_performance"\ncron = "0 6 1 * *"\ntimezone = "Asia/Shanghai"\n'
        'audience = ["rep:R1", "rep:R3"]\nparameters = { period = "last_month" }\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")} | {"SALESML_WAREHOUSE": str(toy.warehouse_path)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "salesml.cli", *args], capture_output=True, text=True, cwd=toy.root, env=env, check=False)

    due = cli("schedule", "run-due", "--now", "2024-03-01T06:00+08:00", "--dry-run")
    assert due.returncode == 0, due.stderr
    assert [line.split("\t")[2] for line in due.stdout.splitlines()] == ["rep:R1", "rep:R3"]
    ran = cli("schedule", "run-due", "--now", "2024-03-01T06:00+08:00")
    assert ran.returncode == 0 and "2 due, 2 rendered, 0 failed" in ran.stderr, ran.stderr
    assert (toy.root / "reports" / "2024-02" / "sales_performance" / "rep-R3.html").exists()
    audit = json.loads(cli("audit", "--command", "schedule", "--format", "json").stdout)
    assert [(r["command"], r["status"], json.loads(r["params"])["due"]) for r in audit] == [("schedule run-due", "ok", 2)] * 2
    pages = json.loads(cli("audit", "--command", "report", "--format", "json").stdout)
    assert sorted(json.loads(r["params"])["scope"] for r in pages) == ["rep:R1", "rep:R3"]
    listed = json.loads(cli("schedule", "list", "--now", "2024-03-02T00:00+08:00", "--format", "json").stdout)
    assert listed[0]["name"] == "reps" and listed[0]["last_status"] == "ok (2)"
    pages = cli("report", "sales_performance", "--audience", "each_team", "-p", "period=2024-01")
    assert pages.returncode == 0, pages.stderr
    assert pages.stdout.split() == [str(toy.root / "reports" / "2024-01" / "sales_performance" / f"team-{t}.html") for t in ("T1", "T2")]


@pytest.mark.notebook
def test_canary_one_reps_name_appears_in_no_other_persons_pages(toy):
    """A unique name given to rep R3 (team T2) shows in R3's own pages and T2's, and nowhere in
    rep R1's or team T1's: not in the page, its embedded chart data, nor its JSON sidecar; nor
    does a unique name given to R3's customer."""
    from salesml import warehouse

    with warehouse.open(toy) as con:
        con.execute("UPDATE reps SET name = 'CANARY-7731 Carol' WHERE rep_id = 'R3'")
        # and R3's only customer (C3, bought from R3 alone): in no page of anyone else
        con.execute("UPDATE customers SET name = 'CANARY-C3-5519 Ltd' WHERE customer_id = 'C3'")
    who = ("rep:R3", "team:T2", "rep:R1", "team:T1")
    s = scheduled(with_notebooks(toy),
                  perf=monthly(audience=who),
                  seg=ScheduleSettings(report="customer_segments", cron="0 6 1 * *", timezone="Asia/Shanghai", audience=who,
                                       parameters={"as_of": "last_month_end"}))
    out = runs.run_due(s, MARCH_1, workers=2)
    assert not out.failed and not out.problems and len(out.done) == 8
    for due, result in out.done:
        texts = [result.html_path.read_text(encoding="utf-8"), result.html_path.with_suffix(".json").read_text(encoding="utf-8")]
        if due.audience == "rep:R3" or (due.audience, due.job.name) == ("team:T2", "sales_performance"):
            assert "CANARY-7731" in texts[0], (due.job.name, due.audience)  # the marker shows where it belongs
        elif due.audience == "team:T2":
            continue  # the team's segments page names no rep
        else:
            assert not any("CANARY-7731" in t or "CANARY-C3-5519" in t for t in texts), (due.job.name, due.audience)
