"""Report scopes: whose data a figure, table or report may contain.

A scope is written ``company``, ``region:East China``, ``team:T03`` or ``rep:R017``.
Everything built for a scope is filtered in the warehouse query, before any data
reaches a DataFrame, a chart or a page.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from salesml.errors import SalesmlError

LEVELS = ("company", "region", "team", "rep")


class ScopeError(SalesmlError, ValueError):
    """A scope string is malformed or names nobody in the warehouse."""


@dataclass(frozen=True)
class Scope:
    level: str = "company"
    value: str | None = None

    def __str__(self) -> str:
        return self.level if self.value is None else f"{self.level}:{self.value}"

    @property
    def slug(self) -> str:
        """File-name-safe form, e.g. ``team-T03``."""
        if self.value is None:
            return self.level
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.value)
        return f"{self.level}-{safe}"

    def sql(self, alias: str = "") -> tuple[str, dict]:
        """A SQL condition on attributed lines (columns region, team, rep_key) and its parameters."""
        p = f"{alias}." if alias else ""
        if self.level == "company":
            return "TRUE", {}
        column = {"region": "region", "team": "team", "rep": "rep_key"}[self.level]
        return f"{p}{column} = $scope_value", {"scope_value": self.value}


def parse_scope(text: str | Scope | None) -> Scope:
    """Parse ``company`` / ``region:NAME`` / ``team:ID`` / ``rep:ID``."""
    if isinstance(text, Scope):
        return text
    text = (text or "company").strip()
    level, sep, value = text.partition(":")
    level = level.strip().lower()
    if level not in LEVELS:
        raise ScopeError(
            f"scope {text!r}: unknown level {level!r}; use company, region:NAME, team:ID or rep:ID"
        )
    if level == "company":
        if sep and value.strip():
            raise ScopeError(f"scope {text!r}: company takes no value")
        return Scope()
    value = value.strip()
    if not value:
        raise ScopeError(f"scope {text!r}: {level} needs a value, e.g. {level}:{'T03' if level == 'team' else 'R017' if level == 'rep' else 'East China'}")
    return Scope(level, value)


def check_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """Fail clearly when a scope names a region/team/rep the hierarchy does not know."""
    if scope.level == "company":
        return
    column = {"region": "region", "team": "team", "rep": "rep_id"}[scope.level]
    known = [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM reps ORDER BY 1").fetchall()]
    if scope.value not in known:
        sample = ", ".join(map(str, known[:8])) + (" ..." if len(known) > 8 else "")
        raise ScopeError(f"scope {scope}: no {scope.level} {scope.value!r} in the hierarchy (known: {sample})")
