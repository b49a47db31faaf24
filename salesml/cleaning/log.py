"""The rule log: what each cleaning rule changed, flagged or rejected, row by row.

Rows are identified by their index in the frame being cleaned (``idx``), which the
ingest maps back to the row number in the source file.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from salesml.schema import TEXT

FIX_COLUMNS = ["idx", "rule", "column", "before", "after"]
FLAG_COLUMNS = ["idx", "rule", "column", "value", "detail"]
PROBLEM_COLUMNS = ["idx", "rule", "column", "reason", "detail"]
MERGE_COLUMNS = ["idx", "rule", "into"]


def _frame(columns: list[str], data: dict | None = None) -> pd.DataFrame:
    if not data:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.DataFrame(data, columns=columns)


_KINDS = {"fixes": FIX_COLUMNS, "flags": FLAG_COLUMNS, "problems": PROBLEM_COLUMNS, "merges": MERGE_COLUMNS}


class RuleLog:
    """Fixes (value changed and loaded), flags (loaded, marked for a look), problems (the row
    is quarantined) and merges (an identical repeat folded into an earlier row).

    A log keeps its parts as they come and concatenates each kind once, when it is read: a
    file's load adds up thousands of small logs."""

    __slots__ = ("_parts", "_frames", "notes")

    def __init__(
        self,
        fixes: pd.DataFrame | None = None,
        flags: pd.DataFrame | None = None,
        problems: pd.DataFrame | None = None,
        merges: pd.DataFrame | None = None,
        notes: list[str] | None = None,
    ):
        given = {"fixes": fixes, "flags": flags, "problems": problems, "merges": merges}
        self._parts: dict[str, list[pd.DataFrame]] = {k: [f] if f is not None and len(f) else [] for k, f in given.items()}
        self._frames: dict[str, pd.DataFrame] = {}
        #: facts about the whole file worth reporting (e.g. a detected date format)
        self.notes: list[str] = list(notes or [])

    def _get(self, kind: str) -> pd.DataFrame:
        if kind not in self._frames:
            self._frames[kind] = _concat(self._parts[kind], _KINDS[kind])
            self._parts[kind] = [self._frames[kind]] if len(self._frames[kind]) else []
        return self._frames[kind]

    fixes = property(lambda self: self._get("fixes"))
    flags = property(lambda self: self._get("flags"))
    problems = property(lambda self: self._get("problems"))
    merges = property(lambda self: self._get("merges"))

    def __add__(self, other: RuleLog) -> RuleLog:
        out = RuleLog(notes=self.notes + other.notes)
        out._parts = {k: self._parts[k] + other._parts[k] for k in _KINDS}
        return out

    def __iadd__(self, other: RuleLog) -> RuleLog:
        for k in _KINDS:
            if other._parts[k]:
                self._parts[k] = self._parts[k] + other._parts[k]
                self._frames.pop(k, None)
        self.notes = self.notes + other.notes
        return self

    @property
    def rejected(self) -> pd.Index:
        """Rows that will not be loaded (quarantined or merged)."""
        parts = [s for s in (self.problems["idx"], self.merges["idx"]) if len(s)]
        return pd.Index(pd.concat(parts).unique()) if parts else pd.Index([])

    def hits(self) -> pd.DataFrame:
        """Rows touched per rule and outcome (the 'rule hits' of the data quality report)."""
        parts = []
        for kind, df in (("fix", self.fixes), ("flag", self.flags), ("quarantine", self.problems), ("merge", self.merges)):
            if len(df):
                g = df.groupby("rule")["idx"].nunique().rename("rows").reset_index()
                g.insert(1, "outcome", kind)
                parts.append(g)
        if not parts:
            return pd.DataFrame({"rule": [], "outcome": [], "rows": []})
        return pd.concat(parts, ignore_index=True).sort_values(["rule", "outcome"]).reset_index(drop=True)


def _concat(frames: Iterable[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _frame(columns)
    if len(frames) == 1:
        return frames[0][columns]
    return pd.concat(frames, ignore_index=True)[columns]


def fixes(rule: str, column: str, idx, before, after) -> RuleLog:
    idx = list(idx)
    if not idx:
        return RuleLog()
    return RuleLog(
        fixes=_frame(
            FIX_COLUMNS,
            {"idx": idx, "rule": rule, "column": column, "before": _texts(before), "after": _texts(after)},
        )
    )


def flags(rule: str, column: str, idx, values, detail) -> RuleLog:
    idx = list(idx)
    if not idx:
        return RuleLog()
    return RuleLog(flags=_frame(FLAG_COLUMNS, {"idx": idx, "rule": rule, "column": column, "value": _texts(values), "detail": _texts(detail, len(idx))}))


def problems(rule: str, column: str | None, idx, reason: str, detail=None) -> RuleLog:
    """Rows to quarantine. ``reason`` is the kind of problem (counted per batch); ``detail``
    (one per row, optional) says what exactly: the value, the other row, the key."""
    idx = list(idx)
    if not idx:
        return RuleLog()
    details = [None] * len(idx) if detail is None else _texts(detail, len(idx))
    return RuleLog(problems=_frame(PROBLEM_COLUMNS, {"idx": idx, "rule": rule, "column": column, "reason": reason, "detail": details}))


def merges(rule: str, idx, into) -> RuleLog:
    idx = list(idx)
    if not idx:
        return RuleLog()
    return RuleLog(merges=_frame(MERGE_COLUMNS, {"idx": idx, "rule": rule, "into": list(into)}))


def _texts(values, n: int | None = None) -> list:
    if isinstance(values, str):
        return [values] * (n or 1)
    if isinstance(values, pd.Series) and values.dtype == TEXT:
        return values.to_numpy(dtype=object, na_value=None).tolist()
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
            out.append(None)
        elif isinstance(v, pd.Timestamp):
            out.append(v.strftime("%Y-%m-%d"))
        elif isinstance(v, float | np.floating):
            out.append(repr(round(float(v), 6)).removesuffix(".0"))
        elif isinstance(v, np.integer):
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out
