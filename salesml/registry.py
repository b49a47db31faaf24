"""Model registry: versions of trained models, each with a manifest, under ``data/models/<kind>/``.

A version is a folder ``data/models/<kind>/vNNNN/`` holding the model in a safe format
(scikit-learn estimators as ``model.skops``, never a bare pickle; other models as their own
files, e.g. Prophet's JSON) and ``manifest.json``: when, by whom, with which salesml and
package versions, on which data (window and hash), with which features, parameters and
metrics. Versions are never overwritten.

What the registry keeps is owner-only: the folders it makes (``data/models``, ``<kind>``, each
version, the computed results of ``data/models/cache/``) 0700, every file in them 0600, since a
model and its manifest, like a cached result, carry what was learnt from the sales data.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import shutil
import tempfile
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from salesml.config import Settings
from salesml.errors import SalesmlError
from salesml.io.export import private_folders

MANIFEST = "manifest.json"
MODEL_FILE = "model.skops"
#: packages whose versions every manifest records
PACKAGES = ("salesml", "scikit-learn", "numpy", "pandas", "scipy", "skops", "duckdb", "prophet", "statsforecast")


class RegistryError(SalesmlError, ValueError):
    """A model version is missing, unreadable or does not fit; the message says which."""


def models_root(settings: Settings) -> Path:
    return settings.path(settings.models.dir)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def frame_hash(df: pd.DataFrame) -> str:
    """A stable hash of a DataFrame's content (column names, values, row order)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()


def _versions(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit())


def save(
    settings: Settings,
    kind: str,
    manifest: dict[str, Any],
    *,
    estimator: Any = None,
    files: dict[str, str | bytes] | None = None,
) -> str:
    """Store a new version of ``kind`` and return its name (``v0001``, ``v0002``...).

    ``estimator`` is saved with skops; ``files`` (name -> text or bytes) as they are.
    The version appears atomically: written to a temporary folder, then renamed.
    """
    if not kind.isidentifier():
        raise RegistryError(f"model kind {kind!r} must be a simple name")
    folder = models_root(settings) / kind
    private_folders(folder, models_root(settings))
    existing = _versions(folder)
    name = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder))
    try:
        if estimator is not None:
            import skops.io as sio

            sio.dump(estimator, tmp / MODEL_FILE)
        for fname, content in (files or {}).items():
            target = tmp / fname
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        full = {
            "kind": kind,
            "version": name,
            "created_at": datetime.now().isoformat(timespec="seconds"),
            "created_by": _actor(),
            "packages": package_versions(),
            "files": sorted([MODEL_FILE] if estimator is not None else []) + sorted(files or {}),
            **manifest,
        }
        (tmp / MANIFEST).write_text(json.dumps(full, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        _owner_only(tmp)
        os.rename(tmp, folder / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return name


def _owner_only(folder: Path) -> None:
    """``folder`` (a version or result not yet renamed into place) and everything in it
    owner-only: folders 0700, files 0600. Until then the files inside have the umask's
    permissions, but ``folder`` is mkdtemp's, 0700: nobody else can reach them."""
    os.chmod(folder, 0o700)
    for p in folder.rglob("*"):
        os.chmod(p, 0o700 if p.is_dir() else 0o600)


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def resolve(settings: Settings, kind: str, version_name: str | None = None) -> Path:
    folder = models_root(settings) / kind
    versions = _versions(folder)
    if not versions:
        raise RegistryError(f"no {kind} model in {folder}: train one first (salesml train {kind})")
    name = version_name or versions[-1]
    if name not in versions:
        raise RegistryError(f"no {kind} model version {name!r}; versions: {', '.join(versions)}")
    return folder / name


def manifest(settings: Settings, kind: str, version_name: str | None = None) -> dict[str, Any]:
    path = resolve(settings, kind, version_name) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RegistryError(f"{path}: unreadable manifest ({e})") from None


def load_estimator(settings: Settings, kind: str, version_name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The skops-saved estimator of a version and its manifest.

    Only types from scikit-learn, numpy, scipy and salesml itself are trusted; anything
    else in the file is refused (a tampered or foreign file cannot run code)."""
    import skops.io as sio

    folder = resolve(settings, kind, version_name)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise RegistryError(f"{folder}: no {MODEL_FILE}")
    untrusted = sio.get_untrusted_types(file=path)
    allowed_prefixes = ("sklearn.", "numpy.", "scipy.", "salesml.", "builtins.", "collections.")
    refused = [t for t in untrusted if not t.startswith(allowed_prefixes)]
    if refused:
        raise RegistryError(f"{path}: refusing to load types that are not trusted: {', '.join(refused)}")
    return sio.load(path, trusted=untrusted), manifest(settings, kind, folder.name)


def list_versions(settings: Settings, kind: str | None = None) -> pd.DataFrame:
    """One row per stored version: kind, version, created_at, data window, the scorer a churn
    version uses (the model or a baseline), and the headline metrics."""
    root = models_root(settings)
    kinds = [kind] if kind else (sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else [])
    rows = []
    for k in kinds:
        for v in _versions(root / k):
            try:
                m = json.loads((root / k / v / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                rows.append({"kind": k, "version": v, "created_at": None, "note": "unreadable manifest"})
                continue
            flat = {f"metric:{name}": value for name, value in _flat_metrics(m.get("metrics", {})).items()}
            scorer = (m.get("scorer") or {}).get("name")
            rows.append({"kind": k, "version": v, "created_at": m.get("created_at"), "data_window": m.get("data_window"),
                         **({"scorer": scorer} if scorer else {}), **flat})
    return pd.DataFrame(rows)


def _flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in metrics.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat_metrics(v, key + "."))
        elif isinstance(v, int | float) or v is None:
            out[key] = v
    return out


def compare(settings: Settings, kind: str, v1: str, v2: str) -> pd.DataFrame:
    """Metrics and parameters of two versions side by side, with the difference."""
    a, b = manifest(settings, kind, v1), manifest(settings, kind, v2)
    rows = []
    for section in ("metrics", "parameters"):
        fa, fb = _flat_metrics(a.get(section, {})), _flat_metrics(b.get(section, {}))
        for key in sorted(set(fa) | set(fb)):
            va, vb = fa.get(key), fb.get(key)
            diff = vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
            rows.append({"section": section, "name": key, v1: va, v2: vb, "change": diff})
    for key in ("data_window", "data_hash", "features"):
        if a.get(key) != b.get(key):
            rows.append({"section": "data", "name": key, v1: json.dumps(a.get(key), default=str)[:80], v2: json.dumps(b.get(key), default=str)[:80], "change": None})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- computed results


#: results kept per kind in ``data/models/cache/<kind>/`` (the oldest are removed)
CACHE_KEPT = 32


def cache_key(*parts: Any) -> str:
    """A key for a computed result: the sha256 of its inputs (frames by their content hash,
    the rest as JSON), and of the salesml source that computes it (a changed rule or model
    never answers from an older result)."""
    h = hashlib.sha256(_source_hash().encode())
    for p in parts:
        h.update(frame_hash(p).encode() if isinstance(p, pd.DataFrame) else json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def _source_hash() -> str:
    global _SOURCE
    if _SOURCE is None:
        root = Path(__file__).parent
        h = hashlib.sha256()
        for f in sorted(root.rglob("*.py")):
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
        _SOURCE = h.hexdigest()
    return _SOURCE


_SOURCE: str | None = None


def load_result(settings: Settings, kind: str, key: str) -> dict[str, pd.DataFrame | None] | None:
    """The frames stored under ``key`` (None where one was None), or None if there are none
    (or they cannot be read: the result is then computed again)."""
    folder = models_root(settings) / "cache" / kind / key
    index = folder / "frames.json"
    if not index.is_file():
        return None
    try:
        names = json.loads(index.read_text(encoding="utf-8"))
        out = {n: (pd.read_parquet(folder / f"{n}.parquet") if present else None) for n, present in names.items()}
    except (OSError, ValueError, json.JSONDecodeError):
        return None
    os.utime(folder)  # recently used: kept longest
    return out


def save_result(settings: Settings, kind: str, key: str, frames: dict[str, pd.DataFrame | None]) -> None:
    """Store frames under ``key`` (atomically: a result is there whole or not at all) and
    keep the :data:`CACHE_KEPT` most recently used results of ``kind``."""
    folder = models_root(settings) / "cache" / kind
    private_folders(folder, models_root(settings))
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder))
    try:
        for n, df in frames.items():
            if df is not None:
                df.to_parquet(tmp / f"{n}.parquet", index=False)
        (tmp / "frames.json").write_text(json.dumps({n: df is not None for n, df in frames.items()}), encoding="utf-8")
        _owner_only(tmp)
        if (folder / key).exists():
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, folder / key)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    results = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in results[:-CACHE_KEPT]:
        shutil.rmtree(old, ignore_errors=True)
