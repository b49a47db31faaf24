"""The toy company with a secret: one customer renamed to a name that appears nowhere else (so
a test can search a file's bytes for it), a closed month and a model version in the registry;
built once per test module and copied per test. Shared by the warehouse-encryption and the
backup tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb

from salesml import warehouse
from salesml.config import Settings, load_settings
from tests.conftest import TOY, TOY_TABLES

KEY_ENV = "SALESML_TEST_KEY"
UNIQUE_NAME = "Quuxbridge Zephyr Holdings 青岚科技有限公司"
#: byte strings of the unique name that must never be found in an encrypted file
NEEDLES = [UNIQUE_NAME.encode("utf-8"), "青岚科技".encode(), b"Quuxbridge"]


def write_config(folder: Path, *, key_env: str = "", backup_key_env: str = "", keep_daily: int = 7, keep_monthly: int = 12,
                 extra: str = "") -> Path:
    """salesml.toml in ``folder``: warehouse data/warehouse.duckdb, models data/models, backups backups/."""
    cfg = folder / "salesml.toml"
    cfg.write_text(textwrap.dedent(f"""\
        [warehouse]
        path = "data/warehouse.duckdb"
        encryption_key_env = "{key_env}"
        [models]
        dir = "data/models"
        [backup]
        dir = "backups"
        keep_daily = {keep_daily}
        keep_monthly = {keep_monthly}
        encryption_key_env = "{backup_key_env}"
        """) + extra, encoding="utf-8")
    return cfg


def toy_files(folder: Path) -> Path:
    """The toy company's CSV files in ``folder/toy``, customer C1 renamed to :data:`UNIQUE_NAME`."""
    data = folder / "toy"
    data.mkdir(exist_ok=True)
    for f in TOY.glob("*.csv"):
        text = f.read_text(encoding="utf-8")
        if f.name == "customers.csv":
            text = text.replace("One Ltd", UNIQUE_NAME)
        (data / f.name).write_text(text, encoding="utf-8")
    return data


def build(folder: Path, **config) -> Settings:
    """The company in ``folder`` (see the module docstring); its settings. With ``key_env``
    set, the key must be in the environment."""
    from salesml import registry
    from salesml.accounting import closing
    from salesml.accounting.ledger import ensure_posted
    from salesml.ingest import canonical_source, ingest_source

    settings = load_settings(write_config(folder, **config))
    data = toy_files(folder)
    ingest_source(settings, "toy", canonical_source({t: data / f"{t}.csv" for t in TOY_TABLES}))
    ensure_posted(settings)
    with warehouse.open(settings) as con:
        closing.close(con, "2024-01", "tester", today=date(2024, 6, 1))
    registry.save(settings, "churn", {"metrics": {"auc": 0.71}}, files={"weights.json": json.dumps({"w": [1, 2, 3]})})
    return settings


def copy_of(template: Path, folder: Path) -> Settings:
    """A copy of a company built by :func:`build` in ``template``, in ``folder``; its settings."""
    shutil.copytree(template, folder, dirs_exist_ok=True)
    return load_settings(folder / "salesml.toml")


def every_table(path: Path, key: str | None = None) -> dict[str, list[tuple]]:
    """Every table of a DuckDB file with its rows sorted, read with DuckDB alone (not salesml)."""
    con = duckdb.connect()
    if key:
        warehouse.load_crypto(con)
    con.execute(f"ATTACH '{path}' AS w (READ_ONLY{', ENCRYPTION_KEY ' + repr(key) if key else ''})")
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'w' AND table_type = 'BASE TABLE'").fetchall()]
    out = {n: sorted(con.execute(f'SELECT * FROM w."{n}"').fetchall(), key=repr) for n in names}
    con.close()
    return out


def cli(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """``salesml ARGS`` as a user runs it (a subprocess, no SALESML_ variable but ``env_extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "salesml.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, check=False)
