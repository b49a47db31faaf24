"""Running the schedules: what is due, the record of what ran, and the lock that keeps two
runners apart (``salesml schedule run-due | list | serve``).

The record is the warehouse table ``schedule_runs``: one row per schedule, slot and audience
member (status ``ok`` or ``failed``, attempts, parameters, the page written, the error, where
it was e-mailed), written in one short connection once the run's renders are done (a writer
would wait for the reports' kernels reading the warehouse). A slot's member with status ``ok`` is never rendered again; a
``failed`` one is tried again while its attempts are fewer than ``1 + retries``.

Only one runner works at a time: :func:`runner_lock` takes an exclusive lock on a file beside
the warehouse (``<warehouse>.schedule.lock``, released by the system if the runner dies); a
second runner finds it taken and does nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from salesml import warehouse
from salesml.accounting.ledger import ensure_posted
from salesml.config import BACKUP_SCHEDULE, ScheduleSettings, Settings
from salesml.delivery import backup as backups
from salesml.delivery import mail
from salesml.delivery.publish import write_index
from salesml.delivery.schedules import (
    ScheduleError,
    Slot,
    audience_day,
    expand_audience,
    next_slot,
    recent_slots,
    resolve_parameters,
    slot_key,
    slot_time,
    slots_between,
    zone,
)
from salesml.errors import SalesmlError
from salesml.reports.runner import (
    RenderJob,
    ReportError,
    audience_failed_path,
    audience_path,
    declared_parameters,
    notebook_path,
    render_jobs,
)

RUN_COLUMNS = ["schedule", "slot", "audience", "status", "attempts", "parameters", "output", "error", "started_at", "finished_at", "emailed_to"]


@dataclass
class BackupJob:
    """A scheduled backup (a schedule whose report is "backup"): the folder it goes into."""

    html_path: Path
    #: None: the [backup] dir, whose old backups are pruned after it; else the schedule's output_dir
    to: Path | None = None
    name: str = BACKUP_SCHEDULE
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class DueJob:
    """One render a run-due owes: a slot's audience member, and its attempts so far."""

    slot: Slot
    audience: str
    job: RenderJob | BackupJob
    attempts: int = 0


@dataclass
class RunDue:
    """What a run-due did: the jobs rendered (with their results), the schedules it could not
    plan (and why), and whether another runner held the lock."""

    locked_by_other: bool = False
    done: list[tuple[DueJob, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: the index page written (when anything rendered)
    index: Path | None = None

    @property
    def failed(self) -> list[tuple[DueJob, Any]]:
        return [(j, r) for j, r in self.done if isinstance(r, Exception)]


def lock_path(settings: Settings) -> Path:
    return settings.warehouse_path.with_name(settings.warehouse_path.name + ".schedule.lock")


@contextmanager
def runner_lock(settings: Settings) -> Iterator[bool]:
    """Hold the runners' lock for the block: yields True, or False when another runner has it
    (then nothing may run). The system releases it when the process ends, however it ends."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {datetime.now().isoformat(timespec='seconds')}\n".encode())
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holder(settings: Settings) -> str:
    """Who holds the runners' lock, as its file says (pid and start time)."""
    try:
        return lock_path(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def records(settings: Settings, schedule: str | None = None) -> pd.DataFrame:
    """The record of schedule runs (``RUN_COLUMNS``), of one schedule or all."""
    if not settings.warehouse_path.exists():
        return pd.DataFrame(columns=RUN_COLUMNS)
    with warehouse.open(settings, read_only=True) as con:
        if not warehouse.table_exists(con, "schedule_runs"):
            return pd.DataFrame(columns=RUN_COLUMNS)
        where, params = ("WHERE schedule = $s", {"s": schedule}) if schedule else ("", {})
        return con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM schedule_runs {where} ORDER BY schedule, slot, audience", params).df()


def _email(settings: Settings, out: RunDue) -> dict[int, str]:
    """E-mail each rendered page of a schedule with ``email = true`` to its own member's
    addresses, and a notice of the failed pages to ``[email] failures_to``; what could not be
    sent joins ``out.problems``. Returns the addresses each page went to, by ``id`` of its job."""
    e = settings.email
    if not e.host:
        return {}
    letters, owners = [], []
    for due, result in out.done:
        if isinstance(result, Exception) or isinstance(due.job, BackupJob) or not settings.schedules[due.slot.schedule].email:
            continue
        letter = mail.page_letter(e, due.audience, due.job.name, due.job.parameters, result.html_path, result.figures)
        if letter is None:
            out.problems.append(f"schedule {due.slot.schedule}: no e-mail address for {due.audience} ([email] addresses)")
            continue
        letters.append(letter)
        owners.append(id(due.job))
    notice = mail.failure_letter(e, [(d.slot.schedule, d.audience, str(r)) for d, r in out.failed])
    if notice is not None:
        letters.append(notice)
        owners.append(None)
    try:
        outcome = mail.send(e, letters)
    except mail.EmailError as err:
        out.problems.append(str(err))
        return {}
    out.problems += [why for why in outcome if why]
    return {owner: ", ".join(letter.to) for owner, letter, why in zip(owners, letters, outcome, strict=True) if owner and not why}


def _record(settings: Settings, done: list[tuple[DueJob, Any]], started: datetime, emailed: dict[int, str] | None = None) -> None:
    """Record each rendered (or failed) member of a slot in ``schedule_runs``, in one connection."""
    finished = datetime.now()
    emailed = emailed or {}
    with warehouse.open(settings) as con:
        for due, result in done:
            ok = not isinstance(result, Exception)
            row = [due.slot.schedule, due.slot.key, due.audience, "ok" if ok else "failed", due.attempts + 1,
                   json.dumps(due.job.parameters, ensure_ascii=False, default=str),
                   str(result.html_path) if ok else None, None if ok else str(result), started, finished, emailed.get(id(due.job))]
            con.execute(f"INSERT OR REPLACE INTO schedule_runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})", row)


def _hierarchy(settings: Settings) -> pd.DataFrame:
    with warehouse.open(settings, read_only=True) as con:
        return con.execute("SELECT rep_id, role, team, region, valid_from, valid_to FROM reps").df()


def _report_takes_scope(settings: Settings, report: str) -> bool:
    return "scope" in declared_parameters(notebook_path(settings, report))


def audience_jobs(settings: Settings, report: str, audience: tuple[str, ...], parameters: dict[str, Any], day,
                  hierarchy: pd.DataFrame | None = None, output_dir: Path | None = None) -> list[tuple[str, RenderJob]]:
    """One render of ``report`` per member of ``audience`` on ``day`` (its scope passed as the
    ``scope`` parameter, the page at :func:`~salesml.reports.runner.audience_path`): ``(member,
    job)`` pairs. A report without a scope parameter can only go to the company."""
    members = expand_audience(audience, _hierarchy(settings) if hierarchy is None else hierarchy, day)
    takes_scope = _report_takes_scope(settings, report)
    if not takes_scope and members != ["company"]:
        raise ScheduleError(f"report {report} has no scope parameter: its audience can only be company")
    out = []
    for member in members:
        params = {**parameters, "scope": member} if takes_scope else dict(parameters)
        page = audience_path(settings, report, params, output_dir, day)
        out.append((member, RenderJob(report, params, page, audience_failed_path(settings, page, output_dir))))
    return out


def plan(settings: Settings, name: str, s: ScheduleSettings, now: datetime, done: pd.DataFrame, hierarchy: pd.DataFrame) -> list[DueJob]:
    """The renders schedule ``name`` owes at ``now``: each member of each of its newest
    ``catch_up`` slots (its newest slot alone when it never ran) that has not rendered and
    has attempts left. Raises
    :class:`ScheduleError` (or a :class:`ReportError`) when the schedule cannot run as set."""
    output = settings.path(s.output_dir) if s.output_dir else None
    state = {(r.slot, r.audience): (r.status, int(r.attempts)) for r in done.itertuples()}
    jobs = []
    # a schedule that never ran starts with its newest slot; one that ran catches up the slots
    # it missed since its first (never those from before it was first run)
    first = done["slot"].min() if len(done) else None
    for at in recent_slots(s, now, settings.schedule.catch_up if first else 1):
        params = resolve_parameters(dict(s.parameters), at)
        slot = Slot(name, at)
        if first and slot.key < first:
            continue
        if s.report == BACKUP_SCHEDULE:
            members = [("company", BackupJob(output or backups.backups_dir(settings), output))]
        else:
            members = audience_jobs(settings, s.report, s.audience, params, audience_day(params, at.date()), hierarchy, output)
        for member, job in members:
            status, attempts = state.get((slot.key, member), ("", 0))
            if status == "ok" or attempts >= 1 + s.retries:
                continue
            jobs.append(DueJob(slot, member, job, attempts))
    return jobs


def run_due(settings: Settings, now: datetime | None = None, workers: int | None = None, dry_run: bool = False,
            on_done: Callable[[DueJob, Any], None] | None = None) -> RunDue:
    """Render everything due at ``now`` (default: now) and record it; see the module docstring.
    ``dry_run``: plan only (``done`` lists the jobs, each with result None)."""
    now = now or datetime.now(UTC)
    out = RunDue()
    with runner_lock(settings) as mine:
        if not mine:
            out.locked_by_other = True
            return out
        if not settings.warehouse_path.exists():
            raise ScheduleError(f"no warehouse at {settings.warehouse_path}: load data first (salesml demo or salesml ingest)")
        if not dry_run:
            ensure_posted(settings)
        hierarchy, done = _hierarchy(settings), records(settings)
        jobs: list[DueJob] = []
        for name, s in settings.schedules.items():
            if not s.enabled:
                continue
            try:
                jobs += plan(settings, name, s, now, done[done["schedule"] == name], hierarchy)
            except (ScheduleError, ReportError) as e:
                out.problems.append(f"schedule {name}: {e}")
        if dry_run:
            out.done = [(j, None) for j in jobs]
            return out
        started = datetime.now()
        by_job = {id(j.job): j for j in jobs}

        def finished(job: RenderJob, result: Any) -> None:
            if on_done is not None:
                on_done(by_job[id(job)], result)

        renders = [j for j in jobs if not isinstance(j.job, BackupJob)]
        results = dict(zip(map(id, renders), render_jobs(settings, [j.job for j in renders], workers, on_done=finished, post=False), strict=True))
        for j in jobs:  # backups after the renders: what they copy is what the pages showed
            if isinstance(j.job, BackupJob):
                results[id(j)] = _backup(settings, j.job)
                finished(j.job, results[id(j)])
        out.done = [(j, results[id(j)]) for j in jobs]
        emailed = _email(settings, out)
        # recorded once the kernels have let go of the warehouse (a writer waits for readers)
        _record(settings, out.done, started, emailed)
        if out.done:
            backup_schedules = [n for n, sch in settings.schedules.items() if sch.report == BACKUP_SCHEDULE]
            published = records(settings)
            out.index = write_index(settings, published[~published["schedule"].isin(backup_schedules)])
    return out


def _backup(settings: Settings, job: BackupJob) -> backups.Backup | Exception:
    """A scheduled backup: the backup made, or its failure as the error a failed page would be
    (recorded, and sent to ``[email] failures_to``)."""
    try:
        return backups.make(settings, job.to)
    except (SalesmlError, OSError, duckdb.Error) as e:
        return backups.BackupError(f"backup failed: {e}")


@dataclass(frozen=True)
class ScheduleStatus:
    """A schedule as ``schedule list`` shows it."""

    name: str
    report: str
    cron: str
    timezone: str
    audience: str
    enabled: bool
    last_slot: str
    last_status: str
    next_slot: str
    missed: int


def status(settings: Settings, now: datetime | None = None) -> list[ScheduleStatus]:
    """Each schedule with its last slot run (and how it went), its next slot and how many slots
    were missed (never run and now beyond catch-up) since its first recorded run."""
    now = now or datetime.now(UTC)
    rec = records(settings)
    out = []
    for name, s in settings.schedules.items():
        mine = rec[rec["schedule"] == name]
        last_slot, last_status, missed = "", "never run", 0
        if len(mine):
            last = mine["slot"].max()
            rows = mine[mine["slot"] == last]
            ok, bad = int((rows["status"] == "ok").sum()), int((rows["status"] == "failed").sum())
            last_slot = slot_time(last).astimezone(zone(s)).isoformat(timespec="minutes")
            last_status = f"ok ({ok})" if not bad else f"failed ({bad} of {ok + bad})"
            ran = set(mine["slot"])
            owed = [t for t in slots_between(s, slot_time(mine["slot"].min()), now) if slot_key(t) not in ran]
            missed = max(0, len(owed) - settings.schedule.catch_up)
        out.append(ScheduleStatus(name, s.report, s.cron, s.timezone or "local", ", ".join(s.audience), s.enabled,
                                  last_slot, last_status, next_slot(s, now).isoformat(timespec="minutes") if s.enabled else "", missed))
    return out


def seconds_to_next(settings: Settings, now: datetime) -> float | None:
    """Seconds until the next slot of any enabled schedule (None: no schedule)."""
    nxt = [next_slot(s, now) for s in settings.schedules.values() if s.enabled]
    return min((t - now).total_seconds() for t in nxt) if nxt else None
