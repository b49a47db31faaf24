"""Backups and the encrypted warehouse: what a backup, a verify and a restore take, and what
encryption costs the figures.

    python -m benchmarks.backup --warehouse W [--models DIR] [--repeat 2] [--out DIR] [--json]

On copies of the warehouse ``W`` (a loaded and posted demo; it is never changed), plain and
encrypted (the encrypted copy made the way a user makes one: a backup restored with the key
set): ``salesml backup`` (seconds, size), ``salesml backup verify`` (restore into a temporary
folder + checks) and ``salesml restore`` into a new file, fastest of ``--repeat`` rounds each;
then ``salesml perf`` for the latest complete month in-process on the plain and the encrypted
warehouse, alternately, fastest of 5. Figures belong in issue notes and benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from salesml.api import Warehouse
from salesml.config import Settings
from salesml.delivery import backup as bk

KEY_ENV = "SALESML_BENCH_KEY"


def _settings(folder: Path, warehouse: Path, models: Path, key: bool) -> Settings:
    s = dataclasses.replace(Settings(), root=folder)
    return s.with_overrides(warehouse={"path": str(warehouse), "encryption_key_env": KEY_ENV if key else ""},
                            models={"dir": str(models)}, backup={"dir": str(folder / "backups"), "keep_daily": 0, "keep_monthly": 0})


def _round(s: Settings, folder: Path) -> dict:
    started = time.perf_counter()
    made = bk.make(s)
    backup_s = time.perf_counter() - started
    verified = bk.verify(s, made.path)
    assert verified.ok, verified.checks
    target = folder / f"restored-{time.time_ns()}.duckdb"
    done = bk.restore(s, made.path, target, models_to=folder / f"models-{time.time_ns()}")
    out = {"backup_s": backup_s, "backup_mb": made.bytes / 1e6, "verify_s": verified.seconds, "restore_s": done.seconds,
           "warehouse_mb": s.warehouse_path.stat().st_size / 1e6, "tables": done.tables,
           "order_lines": made.manifest["tables"]["order_lines"]["rows"]}
    shutil.rmtree(made.path)
    target.unlink()
    return out


def _perf_seconds(s: Settings, period: str) -> float:
    started = time.perf_counter()
    Warehouse(s).perf(period)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    finally:
        os.environ.pop(KEY_ENV, None)


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.backup", description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", required=True, help="a loaded and posted warehouse (copied, never changed)")
    ap.add_argument("--models", default="", help="its model registry (copied into the backups)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="salesml-bench-backup-"))
    folder.mkdir(parents=True, exist_ok=True)
    models = folder / "models"
    if args.models:
        shutil.copytree(args.models, models, dirs_exist_ok=True, ignore=shutil.ignore_patterns(bk.CACHE_DIR))
    plain = _settings(folder, folder / "plain.duckdb", models, key=False)
    shutil.copy(Path(args.warehouse), plain.warehouse_path)
    os.environ[KEY_ENV] = "benchmark key: not a secret"
    keyed = _settings(folder, folder / "encrypted.duckdb", models, key=True)
    first = bk.make(plain)  # the encrypted copy, made as a user makes one: restored with the key set
    encrypting = bk.restore(keyed, first.path, keyed.warehouse_path, models_to=folder / "models-encrypting")
    shutil.rmtree(first.path)
    best: dict[str, dict] = {}
    for _ in range(max(1, args.repeat)):
        for name, s in (("plain", plain), ("encrypted", keyed)):
            r = _round(s, folder)
            best[name] = {k: min(v, best.get(name, {}).get(k, v)) for k, v in r.items()}
    period = Warehouse(plain).latest_period()
    times: dict[str, list[float]] = {"plain": [], "encrypted": []}
    for _ in range(5):
        for name, s in (("plain", plain), ("encrypted", keyed)):
            times[name].append(_perf_seconds(s, period))
    out = {"encrypting_restore_s": round(encrypting.seconds, 2),
           **{name: {k: round(v, 3) for k, v in r.items()} for name, r in best.items()},
           "perf_period": period, "perf_plain_s": round(min(times["plain"]), 3), "perf_encrypted_s": round(min(times["encrypted"]), 3)}
    out["perf_ratio"] = round(out["perf_encrypted_s"] / out["perf_plain_s"], 2)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for name in ("plain", "encrypted"):
            r = out[name]
            print(f"{name}: warehouse {r['warehouse_mb']:.1f} MB ({r['order_lines']:,} order lines, {r['tables']} tables): backup {r['backup_s']:.2f} s, "
                  f"{r['backup_mb']:.1f} MB; verify {r['verify_s']:.2f} s; restore {r['restore_s']:.2f} s")
        print(f"encrypting the warehouse (a restore with the key set): {out['encrypting_restore_s']:.2f} s")
        print(f"perf {period}: plain {out['perf_plain_s']:.3f} s, encrypted {out['perf_encrypted_s']:.3f} s ({out['perf_ratio']:.2f}x)")
    if not args.out:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
