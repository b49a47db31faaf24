"""Backups of the warehouse and the model registry: made, listed, checked, restored and pruned
(``salesml backup``, ``salesml backup verify``, ``salesml restore``, and a schedule whose
``report = "backup"``).

A backup is one folder, ``<[backup] dir>/salesml-backup-<UTC time>/``, holding

- ``warehouse.duckdb``: every table, sequence and view of the warehouse as one read
  transaction saw it (DuckDB's ``COPY FROM DATABASE``): the canonical tables, the ledger, load
  batches, quarantine, row fixes, the audit log, periods with their close events (the totals
  each closed period was closed with), churn scores and the record of schedule runs;
- ``models.duckdb``: the model registry's files (path, bytes, SHA-256) in one table (the
  forecast cache under ``<models>/cache/`` is left out: it is rebuilt on demand);
- ``manifest.json``: when, by which salesml and DuckDB, from which warehouse; per table its
  rows, the sum of each money (DECIMAL) column and a fingerprint of its rows; per file its size
  and SHA-256. It holds counts and totals, never a row.

With a key (``[backup] encryption_key_env``, else the warehouse's ``encryption_key_env``) both
database files are encrypted with DuckDB's database encryption (AES-GCM) and the manifest is
signed with the key (HMAC-SHA256), so that it cannot be changed unnoticed either.

A backup is written into a hidden folder and renamed when complete: a failed backup leaves
nothing that looks like one. A backup reads the warehouse read-only: it runs beside readers
(reports, notebooks) and says who is in the way when a writer holds the warehouse.

:func:`check` is the first step of a restore and of a verify: every file present, of its
size and checksum, the manifest well-formed (and its signature right). :func:`restore`
rebuilds the warehouse into a temporary file beside its place, compares every table with the
manifest, and only then renames it into place (an existing warehouse is kept aside, never
overwritten). :func:`verify` restores into a temporary folder and runs the reconciliation
checks (``salesml check``) and the closed-period check (``salesml period verify``) on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from salesml import __version__, warehouse
from salesml.accounting import checks, closing
from salesml.accounting.ledger import ensure_posted
from salesml.config import Settings
from salesml.errors import SalesmlError
from salesml.periods import latest_complete_period
from salesml.registry import models_root
from salesml.warehouse import Key, WarehouseError

FORMAT = 1
MANIFEST = "manifest.json"
WAREHOUSE_FILE = "warehouse.duckdb"
MODELS_FILE = "models.duckdb"
PREFIX = "salesml-backup-"
#: the folder of the registry that is a cache (rebuilt on demand), left out of backups
CACHE_DIR = "cache"
_NAME_RE = re.compile(rf"^{PREFIX}(\d{{8}}T\d{{6}}Z)(?:-\d+)?$")


class BackupError(SalesmlError, RuntimeError):
    """A backup cannot be made, read or restored; the message names the file and why."""


@dataclass
class Backup:
    """A backup made: its folder, manifest, size in bytes and the seconds it took."""

    path: Path
    manifest: dict[str, Any]
    bytes: int
    seconds: float
    #: backups removed by the retention rule ([backup] keep_daily, keep_monthly)
    pruned: list[Path] = field(default_factory=list)

    @property
    def html_path(self) -> Path:
        """Where a schedule's record says the run's output went."""
        return self.path

    @property
    def figures(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "seconds": round(self.seconds, 2)}


@dataclass
class Restored:
    """A restore done: the warehouse written, where an existing one was kept, the model files
    written (and left as they were), and the seconds it took."""

    warehouse: Path
    kept_aside: Path | None
    models_dir: Path | None
    models_written: int
    models_unchanged: int
    tables: int
    seconds: float


# --------------------------------------------------------------------------- keys and files


def backup_key(settings: Settings) -> Key | None:
    """The key backups are encrypted with: ``[backup] encryption_key_env``, else the warehouse's."""
    if settings.backup.encryption_key_env:
        return Key.from_env(settings.backup.encryption_key_env, "backup.encryption_key_env")
    return Key.from_env(settings.warehouse.encryption_key_env, "warehouse.encryption_key_env")


def backups_dir(settings: Settings) -> Path:
    return settings.path(settings.backup.dir)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _signature(manifest: dict[str, Any], key: Key) -> str:
    return hmac.new(key.value.encode(), _canonical(manifest), hashlib.sha256).hexdigest()


def _private_dir(path: Path) -> None:
    """Create the folder ``path`` owner-only (0700); an existing folder is left as it is."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


# --------------------------------------------------------------------------- what a database holds


def table_stats(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, dict[str, Any]]:
    """Per table of ``catalog`` (``schema.table`` for a schema other than main): its rows, the
    sum of each DECIMAL column (exact, as text) and a fingerprint of its rows (the sum of each
    row's hash: independent of the rows' order, equal for the same rows in the same DuckDB)."""
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_type = 'BASE TABLE' ORDER BY 1, 2",
        [catalog],
    ).fetchall()
    money = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = ? AND data_type LIKE 'DECIMAL%' ORDER BY table_schema, table_name, ordinal_position",
        [catalog],
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for schema_name, table in tables:
        cols = [c for s, t, c in money if s == schema_name and t == table]
        ref = f'"{catalog}"."{schema_name}"."{table}"'
        sums = "".join(f', sum("{c}")' for c in cols)
        row = con.execute(f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0){sums} FROM {ref} t").fetchone()
        name = table if schema_name == "main" else f"{schema_name}.{table}"
        out[name] = {"rows": int(row[0]), "fingerprint": str(row[1]),
                     "money": {c: (None if v is None else str(v)) for c, v in zip(cols, row[2:], strict=True)}}
    return out


def _differences(found: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]], same_duckdb: bool) -> list[str]:
    """What differs between a database's :func:`table_stats` and a manifest's, in words."""
    out = []
    for name in sorted(set(expected) | set(found)):
        e, f = expected.get(name), found.get(name)
        if e is None or f is None:
            out.append(f"table {name} is {'missing' if f is None else 'not in the manifest'}")
            continue
        if e["rows"] != f["rows"]:
            out.append(f"table {name}: {f['rows']:,} rows, the manifest says {e['rows']:,}")
        for col, total in e["money"].items():
            if f["money"].get(col) != total:
                out.append(f"table {name}: sum({col}) = {f['money'].get(col)}, the manifest says {total}")
        if same_duckdb and e["fingerprint"] != f["fingerprint"] and e["rows"] == f["rows"]:
            out.append(f"table {name}: its rows differ from the backed-up ones (fingerprint)")
    return out


# --------------------------------------------------------------------------- making one


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _final_name(folder: Path, now: datetime) -> Path:
    base = folder / f"{PREFIX}{_stamp(now)}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _registry_files(root: Path) -> list[tuple[str, Path]]:
    """The registry's files as (relative path, file): hidden folders (a version being written)
    and the cache left out."""
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == CACHE_DIR or any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        out.append((rel.as_posix(), path))
    return out


def _write_models(folder: Path, files: list[tuple[str, Path]], key: Key | None) -> dict[str, dict[str, Any]]:
    """``models.duckdb`` in ``folder`` with each registry file; per file its size and SHA-256."""
    listed: dict[str, dict[str, Any]] = {}
    con = duckdb.connect(":memory:")
    try:
        warehouse.attach(con, folder / MODELS_FILE, "models", key=key, read_only=False)
        con.execute("CREATE TABLE models.files (path VARCHAR PRIMARY KEY, content BLOB NOT NULL, sha256 VARCHAR NOT NULL)")
        for rel, path in files:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            con.execute("INSERT INTO models.files VALUES (?, ?, ?)", [rel, data, digest])
            listed[rel] = {"bytes": len(data), "sha256": digest}
        con.execute("DETACH models")
    finally:
        con.close()
    return listed


def make(settings: Settings, to: str | os.PathLike | None = None, *, now: datetime | None = None, lock_wait_s: float = 10.0) -> Backup:
    """Back up the warehouse and the model registry into a new folder under ``to`` (default
    ``[backup] dir``); then, in the backup folder of the config, remove the backups the
    retention rule no longer keeps. See the module docstring."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    source = settings.warehouse_path
    if not source.exists():
        raise BackupError(f"no warehouse at {source} to back up")
    key = backup_key(settings)
    folder = Path(to) if to is not None else backups_dir(settings)
    try:
        _private_dir(folder)
    except OSError as e:
        raise BackupError(f"cannot create the backup folder {folder}: {e.strerror or e}") from None
    work = folder / f".{PREFIX}{_stamp(now)}.{secrets.token_hex(4)}.partial"
    _private_dir(work)
    try:
        with warehouse.owner_only():
            tables, stats_db = _copy_warehouse(settings, work / WAREHOUSE_FILE, key, lock_wait_s)
            models = _write_models(work, _registry_files(models_root(settings)), key)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now.astimezone(UTC).isoformat(timespec="seconds"),
            "salesml_version": __version__,
            "duckdb_version": duckdb.__version__,
            "warehouse": str(source),
            "catalog": stats_db,
            "encrypted": key is not None,
            "key_env": key.env if key else None,
            "tables": tables,
            "models": models,
            "files": {name: {"bytes": (work / name).stat().st_size, "sha256": _sha256(work / name)} for name in (WAREHOUSE_FILE, MODELS_FILE)},
        }
        if key is not None:
            manifest["signature"] = _signature(manifest, key)
        fd = os.open(work / MANIFEST, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False)
        final = _final_name(folder, now)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in final.iterdir())
    pruned = prune(settings) if to is None else []
    return Backup(final, manifest, size, time.perf_counter() - started, pruned)


def _copy_warehouse(settings: Settings, target: Path, key: Key | None, lock_wait_s: float) -> tuple[dict, str]:
    """Copy every table of the warehouse into ``target`` in one read transaction; the tables'
    :func:`table_stats` as that transaction saw them, and the warehouse's catalog name."""
    try:
        with warehouse.open(settings, read_only=True, lock_wait_s=lock_wait_s) as con:
            catalog = con.execute("SELECT current_database()").fetchone()[0]
            warehouse.attach(con, target, "backup", key=key, read_only=False)
            con.execute("BEGIN TRANSACTION")
            tables = table_stats(con, catalog)
            con.execute(f'COPY FROM DATABASE "{catalog}" TO "backup"')
            con.execute("COMMIT")
            con.execute('DETACH "backup"')
    except WarehouseError as e:
        if "in use by another process" in str(e):
            raise BackupError(
                f"cannot back up {settings.warehouse_path} while another process writes it (a load, a posting or a "
                f"training holds it): run the backup when that has finished. {e}"
            ) from None
        raise
    return tables, catalog


# --------------------------------------------------------------------------- reading one


def check(path: str | os.PathLike, key: Key | None = None) -> dict[str, Any]:
    """The manifest of the backup folder ``path`` once every file is there with its size and
    checksum, and (encrypted) the manifest's signature is right for ``key``; a
    :class:`BackupError` naming the file otherwise."""
    folder = Path(path)
    if not folder.is_dir():
        raise BackupError(f"no backup at {folder} (a backup is a folder holding {MANIFEST})")
    mpath = folder / MANIFEST
    if not mpath.exists():
        raise BackupError(f"{folder} is not a salesml backup: it has no {MANIFEST}")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        files = manifest["files"]
        tables = manifest["tables"]
        if not isinstance(files, dict) or not isinstance(tables, dict) or manifest.get("format") != FORMAT:
            raise ValueError("unexpected layout")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BackupError(f"{mpath} is damaged or not a salesml manifest ({e}): the backup cannot be trusted") from None
    for name in (WAREHOUSE_FILE, MODELS_FILE):
        fpath = folder / name
        want = files.get(name)
        if want is None:
            raise BackupError(f"{mpath} lists no {name}: the backup cannot be trusted")
        if not fpath.exists():
            raise BackupError(f"{fpath} is missing from the backup")
        size = fpath.stat().st_size
        if size != want["bytes"]:
            raise BackupError(f"{fpath} is {size:,} bytes, the manifest says {want['bytes']:,}: truncated or damaged")
        if _sha256(fpath) != want["sha256"]:
            raise BackupError(f"{fpath} does not match its checksum in {MANIFEST}: changed or damaged since the backup")
    if manifest.get("encrypted"):
        if key is None:
            raise BackupError(
                f"{folder} is encrypted with the key in ${manifest.get('key_env')}: set [backup] encryption_key_env "
                "(or the warehouse's) to the variable holding it, or pass --key-env NAME"
            )
        if not hmac.compare_digest(str(manifest.get("signature", "")), _signature(manifest, key)):
            raise BackupError(f"{mpath} was changed since the backup, or ${key.env} is not the backup's key (its signature does not match)")
    return manifest


def list_backups(folder: str | os.PathLike) -> pd.DataFrame:
    """The backups in ``folder``, newest first: name, time, size, encrypted, tables, rows."""
    rows = []
    for path in sorted(Path(folder).glob(f"{PREFIX}*"), reverse=True):
        if not _NAME_RE.match(path.name):
            continue
        try:
            m = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
            rows.append({"backup": path.name, "created_at": m.get("created_at"),
                         "bytes": sum(p.stat().st_size for p in path.iterdir()), "encrypted": bool(m.get("encrypted")),
                         "tables": len(m.get("tables", {})), "rows": sum(t.get("rows", 0) for t in m.get("tables", {}).values()),
                         "model_files": len(m.get("models", {})), "salesml_version": m.get("salesml_version")})
        except (OSError, ValueError, AttributeError):
            rows.append({"backup": path.name, "created_at": None, "bytes": None, "encrypted": None,
                         "tables": None, "rows": None, "model_files": None, "salesml_version": "(unreadable manifest)"})
    return pd.DataFrame(rows, columns=["backup", "created_at", "bytes", "encrypted", "tables", "rows", "model_files", "salesml_version"])


# --------------------------------------------------------------------------- restoring one


def _held_by_other(path: Path) -> bool:
    """Whether another process holds DuckDB's lock on ``path`` (an open warehouse)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _restore_models(source_db: Path, key: Key | None, manifest: dict[str, Any], target: Path, force: bool) -> tuple[int, int]:
    """Write the backed-up registry files under ``target`` (0700 folders, 0600 files); files
    already there with the same content are left; a different one is an error unless
    ``force`` (then replaced). Returns (written, unchanged)."""
    con = duckdb.connect(":memory:")
    try:
        warehouse.attach(con, source_db, "models", key=key, read_only=True)
        rows = con.execute("SELECT path, content, sha256 FROM models.files ORDER BY path").fetchall()
    finally:
        con.close()
    listed = manifest.get("models", {})
    if {r[0] for r in rows} != set(listed):
        raise BackupError(f"{source_db}: its model files differ from those the manifest lists")
    written = unchanged = 0
    clashes = []
    for rel, content, digest in rows:
        data = bytes(content)
        if hashlib.sha256(data).hexdigest() != digest or digest != listed[rel]["sha256"]:
            raise BackupError(f"{source_db}: model file {rel} does not match its checksum")
        dest = target / rel
        if dest.exists():
            if _sha256(dest) == digest:
                unchanged += 1
                continue
            if not force:
                clashes.append(rel)
                continue
    if clashes:
        raise BackupError(
            f"{len(clashes)} model file(s) in {target} differ from the backup's (e.g. {clashes[0]}): "
            "restore with --force to replace them, or --models-to another folder"
        )
    for rel, content, digest in rows:
        dest = target / rel
        if dest.exists() and _sha256(dest) == digest:
            continue
        for parent in reversed(dest.relative_to(target).parents):
            _private_dir(target / parent)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(content))
        tmp.replace(dest)
        written += 1
    return written, unchanged


def restore(settings: Settings, backup: str | os.PathLike, to: str | os.PathLike | None = None, *,
            models_to: str | os.PathLike | None = None, force: bool = False, backup_key_env: str = "") -> Restored:
    """Rebuild a warehouse (and the model registry) from ``backup``.

    The warehouse goes to ``to`` (default: the configured one), encrypted with the warehouse's
    key when ``encryption_key_env`` is set (so a restore is also how a warehouse is encrypted,
    decrypted or given a new key); the backup is read with the key in ``backup_key_env``
    (default the backup's key setting). The model files go to ``models_to`` (default: the
    configured registry when restoring the configured warehouse; none with another ``to``).
    An existing warehouse is refused unless ``force``: then it is kept aside as
    ``<name>.before-restore-<time>`` (never deleted), provided no process has it open.
    """
    started = time.perf_counter()
    source = Path(backup)
    bkey = Key.from_env(backup_key_env, "--key-env") if backup_key_env else backup_key(settings)
    manifest = check(source, bkey if _peek_encrypted(source) else None)
    target = Path(to) if to is not None else settings.warehouse_path
    if models_to is None and to is None:
        models_to = models_root(settings)
    if target.exists() and not force:
        raise BackupError(f"a warehouse exists at {target}: restore with --force to replace it (it is kept aside), or --to another path")
    if target.exists() and _held_by_other(target):
        raise BackupError(f"cannot replace {target}: another process has it open")
    wkey = Key.from_env(settings.warehouse.encryption_key_env, "warehouse.encryption_key_env")
    enc_bkey = bkey if manifest.get("encrypted") else None
    try:
        _private_dir(target.parent)
    except OSError as e:
        raise BackupError(f"cannot create {target.parent}: {e.strerror or e}") from None
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.restoring")
    try:
        with warehouse.owner_only():
            tables = _copy_back(source / WAREHOUSE_FILE, enc_bkey, tmp, wkey, manifest)
        models = (0, 0)
        if models_to is not None:
            models = _restore_models(source / MODELS_FILE, enc_bkey, manifest, Path(models_to), force)
        kept = None
        aside = target.with_name(f"{target.name}.before-restore-{_stamp(datetime.now(UTC))}")
        if target.exists():
            kept = aside
            target.rename(kept)
        wal = target.with_name(target.name + ".wal")
        if wal.exists():  # the old warehouse's log (or a stray one): never replayed into the restored file
            wal.rename(aside.with_name(aside.name + ".wal"))
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return Restored(target, kept, Path(models_to) if models_to is not None else None, models[0], models[1], tables,
                    time.perf_counter() - started)


def _peek_encrypted(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("encrypted"))
    except (OSError, ValueError, AttributeError):
        return False


def _copy_back(source_db: Path, bkey: Key | None, target: Path, wkey: Key | None, manifest: dict[str, Any]) -> int:
    """Copy the backup's tables into a new database ``target`` (encrypted with ``wkey``) and
    compare them with the manifest; the number of tables."""
    con = duckdb.connect(":memory:")
    try:
        try:
            warehouse.attach(con, source_db, "backup", key=bkey, read_only=True)
        except WarehouseError as e:
            raise BackupError(f"{source_db}: {e}") from None
        except duckdb.Error as e:
            raise BackupError(f"{source_db} cannot be read as a database ({str(e).splitlines()[0]}): damaged") from None
        warehouse.attach(con, target, "restored", key=wkey, read_only=False)
        con.execute('COPY FROM DATABASE "backup" TO "restored"')
        found = table_stats(con, "restored")
        con.execute('DETACH "restored"')
    finally:
        con.close()
    wrong = _differences(found, manifest["tables"], manifest.get("duckdb_version") == duckdb.__version__)
    if wrong:
        raise BackupError(f"the restored copy of {source_db} differs from its manifest: " + "; ".join(wrong[:5]))
    return len(found)


# --------------------------------------------------------------------------- verifying one


@dataclass
class Verified:
    """What ``backup verify`` found: one row per check (check, ok, detail), and the times."""

    checks: pd.DataFrame
    restore_seconds: float
    seconds: float

    @property
    def ok(self) -> bool:
        return bool(self.checks["ok"].all())


def verify(settings: Settings, backup: str | os.PathLike, *, backup_key_env: str = "") -> Verified:
    """Restore ``backup`` into a temporary folder (its files checked first, every table
    compared with the manifest), then run the reconciliation checks of ``salesml check`` for
    the latest complete month and the closed-period check of ``salesml period verify`` on the
    copy. The temporary folder is owner-only and removed afterwards."""
    started = time.perf_counter()
    with _scratch() as tmp:
        scratch = settings.with_overrides(warehouse={"path": str(tmp / WAREHOUSE_FILE)}, models={"dir": str(tmp / "models")})
        done = restore(scratch, backup, models_to=tmp / "models", backup_key_env=backup_key_env)
        rows = [
            {"check": "every file of the backup has its size and checksum", "ok": True, "detail": str(Path(backup))},
            {"check": "every table restored equals the manifest (rows, money, fingerprint)", "ok": True, "detail": f"{done.tables} tables"},
            {"check": "model files restored with their checksums", "ok": True, "detail": f"{done.models_written} files"},
        ]
        ensure_posted(scratch)
        with warehouse.open(scratch, read_only=True) as con:
            period = latest_complete_period(con) if warehouse.row_count(con, "order_lines") else None
            if period is not None:
                found = checks.run(con, period, scratch)
                rows += [{"check": r.check if period in r.check else f"{r.check} ({period})", "ok": bool(r.ok), "detail": r.detail}
                         for r in found.itertuples()]
            closed = closing.verify(con)
        bad = closed.loc[~closed["unchanged"], "period"].tolist() if len(closed) else []
        rows.append({"check": "closed periods have the totals they were closed with", "ok": not bad,
                     "detail": ", ".join(bad) if bad else f"{len(closed)} closed period(s)"})
    return Verified(pd.DataFrame(rows, columns=["check", "ok", "detail"]), done.seconds, time.perf_counter() - started)


@contextmanager
def _scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="salesml-verify-"))  # 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- retention


def keep(names_times: list[tuple[Path, datetime]], keep_daily: int, keep_monthly: int) -> set[Path]:
    """The backups a retention rule keeps: the newest of each of the ``keep_daily`` latest days
    that have a backup, and of each of the ``keep_monthly`` latest months (both 0: all)."""
    if keep_daily == 0 and keep_monthly == 0:
        return {p for p, _ in names_times}
    newest_first = sorted(names_times, key=lambda pt: pt[1], reverse=True)
    kept: set[Path] = set()
    for fmt, n in (("%Y-%m-%d", keep_daily), ("%Y-%m", keep_monthly)):
        seen: list[str] = []
        for path, at in newest_first:
            bucket = at.strftime(fmt)
            if bucket in seen:
                continue
            if len(seen) >= n:
                break
            seen.append(bucket)
            kept.add(path)
    return kept


def prune(settings: Settings) -> list[Path]:
    """Remove the backups of ``[backup] dir`` that ``keep_daily`` and ``keep_monthly`` no longer
    keep; the folders removed. Only folders named as salesml names its backups are considered."""
    folder = backups_dir(settings)
    found = []
    for path in folder.glob(f"{PREFIX}*"):
        m = _NAME_RE.match(path.name)
        if m and path.is_dir():
            found.append((path, datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)))
    kept = keep(found, settings.backup.keep_daily, settings.backup.keep_monthly)
    removed = [p for p, _ in found if p not in kept]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return sorted(removed)
