"""Backups and the encrypted warehouse: back up → delete → restore → every table row for row;
truncated or tampered backups refused; no customer name in the clear in an encrypted warehouse
or backup; a missing or wrong key is one line; owner-only files; retention; scheduled backups."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from salesml import warehouse
from salesml.config import load_settings
from salesml.delivery import backup as bk
from tests.conftest import TOY
from tests.secret_company import (
    KEY_ENV,
    NEEDLES,
    UNIQUE_NAME,
    build,
    cli,
    copy_of,
    every_table,
    write_config,
)

KEY = "correct horse battery staple"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The company (tests/secret_company.py), built once for the module."""
    folder = tmp_path_factory.mktemp("company")
    build(folder)
    return folder


@pytest.fixture(scope="module")
def keyed_template(tmp_path_factory) -> Path:
    """The company in an encrypted warehouse (key in $SALESML_TEST_KEY), built once."""
    folder = tmp_path_factory.mktemp("keyed")
    os.environ[KEY_ENV] = KEY
    try:
        build(folder, key_env=KEY_ENV)
    finally:
        del os.environ[KEY_ENV]
    return folder


def _order_lines_from_csv() -> int:
    with (TOY / "order_lines.csv").open(encoding="utf-8", newline="") as f:
        return len(list(csv.DictReader(f)))


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


# --------------------------------------------------------------------------- back up, delete, restore


def test_backup_delete_restore_gives_back_every_table_row_for_row(template, tmp_path):
    s = copy_of(template, tmp_path)
    before = every_table(s.warehouse_path)
    model_files = {p.relative_to(tmp_path / "data" / "models"): p.read_bytes() for p in (tmp_path / "data" / "models").rglob("*") if p.is_file()}
    assert len(model_files) == 2  # the version's weights and manifest

    made = bk.make(s)
    m = made.manifest
    # every table of the warehouse, with what the manifest promises: counts from the CSV itself
    assert set(m["tables"]) == set(before)
    assert m["tables"]["order_lines"]["rows"] == _order_lines_from_csv() == len(before["order_lines"])
    assert m["tables"]["ledger"]["rows"] == len(before["ledger"])
    ledger_total = sum((Decimal(str(r[1])) for r in _rows(s.warehouse_path, "SELECT entry_id, amount FROM ledger")), Decimal(0))
    assert Decimal(m["tables"]["ledger"]["money"]["amount"]) == ledger_total
    assert m["tables"]["period_events"]["rows"] >= 1 and "audit_log" in m["tables"] and "quarantine" in m["tables"]
    assert sorted(m["models"]) == sorted(str(p) for p in model_files)
    assert not m["encrypted"] and "signature" not in m

    s.warehouse_path.unlink()
    for p in (tmp_path / "data" / "models").rglob("*"):
        if p.is_file():
            p.unlink()
    done = bk.restore(s, made.path)
    assert done.warehouse == s.warehouse_path and done.kept_aside is None and done.models_written == 2
    assert every_table(s.warehouse_path) == before
    for rel, content in model_files.items():
        assert (tmp_path / "data" / "models" / rel).read_bytes() == content
    # the restored warehouse goes on: its sequences continue (a new load gets a new batch id)
    from salesml.ingest import canonical_source, ingest_source

    extra = tmp_path / "more_targets.csv"
    extra.write_text("rep_id,team,region,period,target_revenue,target_margin\nR1,T1,East,2025-01,10,4\n", encoding="utf-8")
    ingest_source(s, "more", canonical_source({"targets": extra}))
    batches = _rows(s.warehouse_path, "SELECT batch_id FROM load_batches ORDER BY batch_id")
    assert len({b for (b,) in batches}) == len(batches) == len(before["load_batches"]) + 1


def test_verify_restores_elsewhere_and_runs_the_checks(template, tmp_path):
    s = copy_of(template, tmp_path)
    made = bk.make(s)
    result = bk.verify(s, made.path)
    assert result.ok, result.checks
    names = " | ".join(result.checks["check"])
    for expected in ("checksum", "manifest", "ledger total = order lines", "closed periods have the totals"):
        assert expected in names
    assert s.warehouse_path.exists() and _mode(made.path) == 0o700


def test_restore_refuses_to_overwrite_and_keeps_the_old_warehouse_aside(template, tmp_path):
    s = copy_of(template, tmp_path)
    made = bk.make(s)
    with pytest.raises(bk.BackupError, match="exists.*--force"):
        bk.restore(s, made.path)
    old = s.warehouse_path.read_bytes()
    done = bk.restore(s, made.path, force=True)
    assert done.kept_aside is not None and done.kept_aside.read_bytes() == old
    assert done.models_unchanged == 2 and done.models_written == 0


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest_money", "missing_models", "manifest_json"])
def test_a_damaged_or_tampered_backup_is_refused_naming_the_file(template, tmp_path, damage):
    s = copy_of(template, tmp_path)
    made = bk.make(s)
    db, man = made.path / bk.WAREHOUSE_FILE, made.path / bk.MANIFEST
    if damage == "truncate":
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
        named = db
    elif damage == "flip":
        data = bytearray(db.read_bytes())
        data[len(data) // 2] ^= 0xFF
        db.write_bytes(bytes(data))
        named = db
    elif damage == "manifest_money":
        m = json.loads(man.read_text(encoding="utf-8"))
        m["tables"]["ledger"]["money"]["amount"] = "1.00"
        man.write_text(json.dumps(m), encoding="utf-8")
        named = db  # the checksums still match: the restored copy differs from the manifest
    elif damage == "missing_models":
        (made.path / bk.MODELS_FILE).unlink()
        named = made.path / bk.MODELS_FILE
    else:
        man.write_text("{not json", encoding="utf-8")
        named = man
    with pytest.raises(bk.BackupError) as verify_error:
        bk.verify(s, made.path)
    assert str(named) in str(verify_error.value)
    s.warehouse_path.unlink()
    with pytest.raises(bk.BackupError) as restore_error:
        bk.restore(s, made.path)
    assert str(named) in str(restore_error.value)
    assert not s.warehouse_path.exists()  # nothing half-restored is left in its place
    assert not list(s.warehouse_path.parent.glob(".*restoring*"))


def test_cli_backup_verify_and_restore(template, tmp_path):
    copy_of(template, tmp_path)
    made = cli("backup", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    assert path.parent == tmp_path / "backups" and "backed up" in made.stderr
    listed = cli("backup", "list", "--format", "json", cwd=tmp_path)
    assert json.loads(listed.stdout)[0]["backup"] == path.name
    info = json.loads(cli("info", "--format", "json", cwd=tmp_path).stdout)
    assert info["latest_backup"]["path"] == str(path) and info["encrypted"] is False
    checked = cli("backup", "verify", str(path), "--format", "json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert all(r["ok"] for r in json.loads(checked.stdout))
    (path / bk.WAREHOUSE_FILE).write_bytes(b"not a database")
    bad = cli("backup", "verify", str(path), cwd=tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and str(path / bk.WAREHOUSE_FILE) in bad.stderr.replace("\n", "")


# --------------------------------------------------------------------------- encrypted backups


def test_an_encrypted_backup_holds_no_name_in_the_clear(keyed_template, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    s = copy_of(keyed_template, tmp_path)
    made = bk.make(s)
    assert made.manifest["encrypted"] and made.manifest["signature"] and made.manifest["key_env"] == KEY_ENV
    assert KEY not in (made.path / bk.MANIFEST).read_text(encoding="utf-8")
    for f in [s.warehouse_path, *made.path.iterdir()]:
        assert not any(n in f.read_bytes() for n in NEEDLES), f
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(made.path / bk.WAREHOUSE_FILE), read_only=True)  # DuckDB alone, without the key
    before = every_table(s.warehouse_path, KEY)
    assert any(UNIQUE_NAME in row for row in before["customers"])  # with the key, the name is there
    s.warehouse_path.unlink()
    bk.restore(s, made.path)
    assert every_table(s.warehouse_path, KEY) == before
    # verify and restore need the key: without it, one clear error
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(Exception, match=f"\\${KEY_ENV} is not set"):
        bk.verify(s, made.path)


def test_a_plain_warehouse_is_encrypted_by_backup_and_restore(template, tmp_path, monkeypatch):
    s = copy_of(template, tmp_path)
    made = bk.make(s)
    monkeypatch.setenv(KEY_ENV, "new-key")
    keyed = load_settings(write_config(tmp_path, key_env=KEY_ENV))
    with pytest.raises(warehouse.WarehouseError, match="is not encrypted.*backing it up and restoring"), warehouse.open(keyed, read_only=True):
        pass
    # the way it says: restore the (plain) backup with the key set
    done = bk.restore(keyed, made.path, force=True)
    assert done.kept_aside is not None
    with warehouse.open(keyed, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM customers").fetchone()[0] > 0
    assert b"Quuxbridge" not in keyed.warehouse_path.read_bytes()


def test_rotating_the_key_through_backup_and_restore(keyed_template, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    s = copy_of(keyed_template, tmp_path)
    made = bk.make(s)
    monkeypatch.setenv("SALESML_OLD_KEY", KEY)
    monkeypatch.setenv(KEY_ENV, "new-key")
    with pytest.raises(bk.BackupError, match="signature"):
        bk.restore(s, made.path, force=True)  # the backup's key is the old one
    bk.restore(s, made.path, force=True, backup_key_env="SALESML_OLD_KEY")
    assert every_table(s.warehouse_path, "new-key")["customers"]
    with pytest.raises(duckdb.Error, match="[Ww]rong encryption key"):
        every_table(s.warehouse_path, KEY)


# --------------------------------------------------------------------------- files, writers, retention, schedules


def test_warehouse_backups_and_models_are_owner_only(template, tmp_path):
    s = copy_of(template, tmp_path)
    assert _mode(s.warehouse_path) == 0o600
    made = bk.make(s)
    assert _mode(made.path) == 0o700 and _mode(made.path.parent) == 0o700
    assert all(_mode(p) == 0o600 for p in made.path.iterdir())
    s.warehouse_path.unlink()
    bk.restore(s, made.path)
    assert _mode(s.warehouse_path) == 0o600


def test_a_writer_holding_the_warehouse_is_named(template, tmp_path):
    s = copy_of(template, tmp_path)
    made = bk.make(s)
    script = f"import duckdb, time; c = duckdb.connect({str(s.warehouse_path)!r}); print('ready', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(bk.BackupError, match="while another process writes it"):
            bk.make(s, lock_wait_s=0.5)
        with pytest.raises(bk.BackupError, match="another process has it open"):
            bk.restore(s, made.path, force=True)
    finally:
        holder.kill()
        holder.wait()
    assert [p.name for p in (tmp_path / "backups").iterdir()] == [made.path.name]  # nothing half-written left


def test_retention_keeps_the_newest_of_each_day_and_month():
    def at(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    found = [(Path(t), at(t)) for t in (
        "2026-12-07T02:00", "2026-12-07T01:00", "2026-12-06T02:00", "2026-12-05T02:00",
        "2026-11-30T02:00", "2026-11-01T02:00", "2026-10-31T02:00", "2026-09-15T02:00")]
    kept = bk.keep(found, keep_daily=2, keep_monthly=3)
    assert kept == {Path("2026-12-07T02:00"), Path("2026-12-06T02:00"), Path("2026-11-30T02:00"), Path("2026-10-31T02:00")}
    assert bk.keep(found, 0, 0) == {p for p, _ in found}


def test_backups_beyond_retention_are_removed_after_a_backup(template, tmp_path):
    copy_of(template, tmp_path)
    s = load_settings(write_config(tmp_path, keep_daily=2, keep_monthly=0))
    old = [tmp_path / "backups" / f"{bk.PREFIX}{d}T020000Z" for d in ("20200101", "20200102", "20200103")]
    for p in old:
        p.mkdir(parents=True)
    (tmp_path / "backups" / "notes-keep-me").mkdir()
    made = bk.make(s)
    left = sorted(p.name for p in (tmp_path / "backups").iterdir())
    assert left == sorted([made.path.name, old[2].name, "notes-keep-me"])
    assert sorted(made.pruned) == old[:2]


def test_a_scheduled_backup_is_recorded_and_its_failure_told_like_a_failed_page(template, tmp_path, smtp_server):
    from salesml.delivery import runs

    controller, inbox = smtp_server
    copy_of(template, tmp_path)
    settings = load_settings(write_config(tmp_path, extra=(
        '[schedules.nightly]\nreport = "backup"\ncron = "0 2 * * *"\ntimezone = "UTC"\n'
        f'[email]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"\nsender = "salesml@example.com"\n'
        'failures_to = ["bi@example.com"]\n')))
    out = runs.run_due(settings, datetime(2026, 12, 7, 2, 5, tzinfo=UTC))
    assert not out.failed and len(out.done) == 1 and not out.problems, out.problems
    rec = runs.records(settings)
    assert rec["status"].tolist() == ["ok"] and Path(rec["output"][0]).parent == tmp_path / "backups"
    bk.check(rec["output"][0])
    index = tmp_path / "reports" / "index.html"  # the published list of pages names no backup
    assert not index.exists() or "nightly" not in index.read_text(encoding="utf-8")
    assert inbox.messages == []  # a backup is no page: nothing is sent when it works
    # the next night the backup folder cannot be written: recorded as failed, told to failures_to
    shutil.rmtree(tmp_path / "backups")
    (tmp_path / "backups").write_text("a file where the folder should be", encoding="utf-8")
    out = runs.run_due(settings, datetime(2026, 12, 8, 2, 5, tzinfo=UTC))
    assert len(out.failed) == 1 and "backup failed" in str(out.failed[0][1])
    assert sorted(runs.records(settings)["status"]) == ["failed", "ok"]
    [(to, message)] = inbox.messages
    assert to == ("bi@example.com",)
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "nightly" in body and "backup failed" in body


def test_the_demo_backed_up_deleted_and_restored_is_the_same_row_for_row(small_demo, tmp_path):
    """The small demo company (every table a load and the ledger fill), backed up, its warehouse
    deleted, restored: every table equal to the original, row for row."""
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(small_demo.warehouse_path, wh)
    s = small_demo.with_overrides(warehouse={"path": str(wh)}, models={"dir": str(tmp_path / "models")},
                                  backup={"dir": str(tmp_path / "backups")})
    before = every_table(wh)
    assert len(before["order_lines"]) > 10_000 and len(before["ledger"]) > 10_000
    made = bk.make(s)
    assert {t: m["rows"] for t, m in made.manifest["tables"].items()} == {t: len(rows) for t, rows in before.items()}
    wh.unlink()
    bk.restore(s, made.path)
    assert every_table(wh) == before


def test_a_stray_write_ahead_log_is_kept_aside_not_replayed_into_the_restore(template, tmp_path):
    s = copy_of(template, tmp_path)
    made = bk.make(s)
    before = every_table(s.warehouse_path)
    s.warehouse_path.unlink()
    wal = s.warehouse_path.with_name(s.warehouse_path.name + ".wal")
    wal.write_bytes(b"the log of a warehouse that is gone")
    bk.restore(s, made.path)
    assert not wal.exists() and [p.read_bytes() for p in s.warehouse_path.parent.glob("*.before-restore-*.wal")] == [
        b"the log of a warehouse that is gone"]
    assert every_table(s.warehouse_path) == before
