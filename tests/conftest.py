"""Shared fixtures: a hand-made toy company with known figures, and the small demo company."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import socket
from datetime import date
from pathlib import Path

import pytest

from salesml.config import Settings

TOY = Path(__file__).parent / "data" / "toy"
TOY_TABLES = ["reps", "products", "customers", "order_lines", "targets"]

#: the small demo used by the tests: fixed end date so figures are reproducible
DEMO_END = date(2026, 6, 30)
DEMO_SEED = 7


def make_settings(root: Path, **sections) -> Settings:
    """Settings rooted at ``root`` with the warehouse inside it (no config file)."""
    s = dataclasses.replace(Settings(), root=root)
    s = s.with_overrides(warehouse={"path": str(root / "warehouse.duckdb")}, demo={"out_dir": str(root / "raw")})
    return s.with_overrides(**sections) if sections else s


#: cheap forecast candidates and short backtests: what the tests that forecast a demo set
FAST_FORECAST = {"models": ["seasonal_naive", "theta"], "windows": 2, "workers": 1}


def write_config(folder: Path, warehouse: Path, forecast: dict | None = None) -> Path:
    """A salesml.toml in ``folder`` (as a user writes one) on ``warehouse``, its models kept in
    ``folder/models``, with ``[forecast]`` settings (default :data:`FAST_FORECAST`)."""
    lines = ["[warehouse]", f"path = {json.dumps(str(warehouse))}", "[models]", f"dir = {json.dumps(str(folder / 'models'))}", "[forecast]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in (FAST_FORECAST if forecast is None else forecast).items()]
    cfg = folder / "salesml.toml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def load_toy(settings: Settings, tables=TOY_TABLES):
    from salesml.accounting.ledger import ensure_posted
    from salesml.ingest import canonical_source, ingest_source

    src = canonical_source({t: TOY / f"{t}.csv" for t in tables})
    results = ingest_source(settings, "toy", src)
    ensure_posted(settings)
    return results


@pytest.fixture
def toy(tmp_path) -> Settings:
    """A warehouse holding the toy company (tests/data/toy), whose figures are worked out by hand."""
    s = make_settings(tmp_path)
    load_toy(s)
    return s


@pytest.fixture(scope="module")
def toy_wh(tmp_path_factory) -> Settings:
    """The toy company loaded once per test module, for tests that only read it."""
    s = make_settings(tmp_path_factory.mktemp("toy"))
    load_toy(s)
    return s


@pytest.fixture
def toy_con(toy_wh):
    """A read-only connection to the module's toy warehouse."""
    from salesml import warehouse

    with warehouse.connect(toy_wh.warehouse_path, read_only=True) as c:
        yield c


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Settings:
    """The small demo company, generated and loaded once per test session."""
    from salesml.demo import build_demo

    root = tmp_path_factory.mktemp("demo")
    s = make_settings(root, demo={"scale": "small", "seed": DEMO_SEED, "end_date": DEMO_END.isoformat()})
    build_demo(s)
    return s


@pytest.fixture
def no_config(tmp_path, monkeypatch):
    """Run from an empty folder with no config file and no salesml environment variables."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SALESML_CONFIG", raising=False)
    monkeypatch.delenv("SALESML_WAREHOUSE", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def pg_url():
    """A real PostgreSQL database (a throwaway cluster; see tests/pg.py)."""
    from tests import pg

    with pg.postgres_url() as url:
        yield url


@pytest.fixture(scope="session")
def pg_tls_url(pg_url):
    """The same database as a role the server accepts only over TLS (see tests/pg.py)."""
    from tests import pg

    return pg.tls_only_url(pg_url)


class Inbox:
    """An SMTP handler that keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((tuple(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 for the test: its controller and inbox."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()
