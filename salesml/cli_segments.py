"""CLI commands: customer segments (RFM, clusters, migration). Registered on ``salesml.cli.app`` when salesml.cli is imported."""

from __future__ import annotations

from salesml.cli import app  # noqa: F401
