"""Schedules: which report runs when, for whom, with which parameters (``[schedules.NAME]``).

A schedule's **slots** are the times its cron expression gives in its time zone (croniter
reads the expression; a slot is a wall-clock time there, so "06:00 on the 1st" stays 06:00
across daylight-saving changes). ``salesml schedule run-due`` runs every slot that is due:

* the newest ``[schedule] catch_up`` slots up to now, oldest first (a schedule that never ran
  starts with its newest slot); older ones that never ran are *missed* (``schedule list``
  counts them) and never run late;
* a slot is one render per member of its **audience** (``company``, ``each_region``,
  ``each_team``, ``each_rep`` or a list of scopes), expanded from the effective-dated
  hierarchy on the day the report is about (:func:`audience_day`);
* a member that rendered is done and never runs again for that slot (run-due is idempotent:
  call it as often as you like); one that failed is tried again by the next run-due, up to
  ``retries`` more times.

Parameters are resolved per slot, from the slot's own date in its time zone (a slot caught
up a day late still reports on its own period): ``last_month`` / ``this_month`` (YYYY-MM),
``today`` / ``yesterday`` / ``last_month_end`` (YYYY-MM-DD); any other value is used as
written. This module is pure: what is due, with which parameters, for whom (the hierarchy
is passed in); :mod:`salesml.delivery.runs` reads and writes the record and renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from croniter import croniter

from salesml.config import AUDIENCE_WORDS, ScheduleSettings
from salesml.errors import SalesmlError
from salesml.periods import period_bounds
from salesml.scope import parse_scope

#: audience words that expand to every member of a level on the report's day ("each_team": "team")
EACH = {w: w.removeprefix("each_") for w in AUDIENCE_WORDS if w.startswith("each_")}


class ScheduleError(SalesmlError, ValueError):
    """A schedule cannot run as configured; the message names it and says why."""


def zone(s: ScheduleSettings) -> ZoneInfo | timezone:
    """The schedule's time zone (``""`` = the machine's local zone)."""
    if not s.timezone:
        return datetime.now().astimezone().tzinfo  # type: ignore[return-value]
    return ZoneInfo(s.timezone)


def recent_slots(s: ScheduleSettings, now: datetime, n: int) -> list[datetime]:
    """The ``n`` newest slots at or before ``now`` (aware), oldest first, in the schedule's zone."""
    here = now.astimezone(zone(s))
    it = croniter(s.cron, here + timedelta(seconds=1))  # a slot exactly at `now` is due
    slots = [it.get_prev(datetime) for _ in range(n)]
    return sorted(slots)


def next_slot(s: ScheduleSettings, now: datetime) -> datetime:
    """The first slot after ``now``, in the schedule's zone."""
    return croniter(s.cron, now.astimezone(zone(s))).get_next(datetime)


def slots_between(s: ScheduleSettings, after: datetime, until: datetime, limit: int = 10_000) -> list[datetime]:
    """Slots in ``(after, until]`` (at most ``limit``), oldest first."""
    it = croniter(s.cron, after.astimezone(zone(s)))
    out = []
    while len(out) < limit:
        t = it.get_next(datetime)
        if t > until:
            break
        out.append(t)
    return out


def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _relative(day: date) -> dict[str, str]:
    first = day.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return {
        "today": day.isoformat(),
        "yesterday": (day - timedelta(days=1)).isoformat(),
        "this_month": _month(day),
        "last_month": _month(last_month_end),
        "last_month_end": last_month_end.isoformat(),
    }


def resolve_parameters(parameters: dict[str, Any], slot: datetime) -> dict[str, Any]:
    """``parameters`` with each relative word (today, yesterday, this_month, last_month,
    last_month_end) replaced by its value on the slot's date (in the slot's own zone). Pure."""
    words = _relative(slot.date())
    return {k: words.get(v.strip().lower(), v) if isinstance(v, str) else v for k, v in parameters.items()}


def audience_day(parameters: dict[str, Any], fallback: date) -> date:
    """The day whose hierarchy decides who gets a report: the last day of its ``period``, else
    its ``as_of``, else ``fallback``."""
    if parameters.get("period"):
        return period_bounds(str(parameters["period"]))[1] - timedelta(days=1)
    if parameters.get("as_of"):
        return date.fromisoformat(str(parameters["as_of"]))
    return fallback


def expand_audience(audience: tuple[str, ...], hierarchy: pd.DataFrame, day: date) -> list[str]:
    """The scopes an audience stands for on ``day``: ``company``, each region / team / rep
    with a stint covering the day (``hierarchy``: the ``reps`` table; ``each_rep`` counts the
    people in role rep, not managers), or the scopes listed, in order and without repeats.
    A listed scope the hierarchy does not know on that day is an error that names it. Pure."""
    on = hierarchy[(pd.to_datetime(hierarchy["valid_from"]).dt.date <= day)
                   & (hierarchy["valid_to"].isna() | (pd.to_datetime(hierarchy["valid_to"]).dt.date >= day))]
    out: list[str] = []
    for item in audience:
        word = item.strip()
        if word in EACH:
            level = EACH[word]
            rows = on if level != "rep" else on[on["role"].isna() | (on["role"] == "rep")]
            column = "rep_id" if level == "rep" else level
            values = sorted({str(v) for v in rows[column].dropna()})
            out += [f"{level}:{v}" for v in values]
            continue
        sc = parse_scope(word)
        if sc.level != "company":
            column = "rep_id" if sc.level == "rep" else sc.level
            if sc.value not in {str(v) for v in on[column].dropna()}:
                raise ScheduleError(f"audience {word!r}: no {sc.level} {sc.value!r} in the hierarchy on {day}")
        out.append(str(sc))
    return list(dict.fromkeys(out))


#: how a slot is written in the record: its UTC time, ISO 8601
SLOT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def slot_key(at: datetime) -> str:
    """A slot's identity in the record (``2026-11-30T22:00:00Z``)."""
    return at.astimezone(UTC).strftime(SLOT_FORMAT)


def slot_time(key: str) -> datetime:
    """The (UTC) time of a slot's key."""
    return datetime.strptime(key, SLOT_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Slot:
    """One due slot of one schedule: its name and time."""

    schedule: str
    at: datetime

    @property
    def key(self) -> str:
        """The slot's identity in the record: its UTC time, ISO 8601."""
        return slot_key(self.at)
