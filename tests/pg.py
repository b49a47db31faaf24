"""A real PostgreSQL server for the tests of SQL sources (no mocks).

``postgres_url()`` yields a SQLAlchemy URL with a password:

* ``$SALESML_TEST_PG_URL`` if it is set (a server you run; the tests create and drop their
  own tables in it);
* otherwise a throwaway cluster made with the ``initdb`` / ``pg_ctl`` of Debian's
  ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``, or on the PATH): created in a
  temporary folder (owned by the ``postgres`` user when we run as root, since PostgreSQL
  refuses to run as root), started on a free port of 127.0.0.1 with its unix socket in that
  folder, with a role ``salesml`` whose password is checked (scram-sha-256) on TCP, and
  stopped and removed afterwards. Local setup runs through the socket with trust auth.
  It speaks TLS (``ssl = on``, a self-signed certificate for 127.0.0.1 made with ``openssl``),
  which a client may use or not, except the role :data:`TLS_ROLE`: ``pg_hba.conf`` rejects it
  on a connection without TLS (``hostnossl ... reject``). Without ``openssl`` it runs without
  TLS, and the TLS tests are skipped (they fail in CI).

When there is no PostgreSQL the tests are skipped, except in CI (``CI=true``), where they
fail: CI must not pass by skipping them (``.ci/run`` installs the package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ENV_URL = "SALESML_TEST_PG_URL"
ROLE = "salesml"
#: special characters on purpose: the URL must carry them percent-encoded, and masked
PASSWORD = "s3cret-p@ss/w:rd"
DATABASE = "salesml_test"
#: a role of the throwaway server (same password) that it accepts only over TLS
TLS_ROLE = "salesml_tls"


def pg_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl (the newest Debian version first), or None."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda d: [int(x) if x.isdigit() else 0 for x in d.parent.name.split(".")],
        reverse=True,
    )
    for d in found:
        if (d / "pg_ctl").is_file():
            return d
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is needed for the SQL source tests in CI: {reason}")
    pytest.skip(f"no PostgreSQL for the SQL source tests: {reason} (apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(folder: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 and its key in ``folder`` (the key 0600, as
    PostgreSQL demands), made with ``openssl``; None when there is no ``openssl``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    os.chmod(key, 0o600)
    return cert, key


def _tls_only(data: Path, role: str) -> None:
    """``pg_hba.conf`` of the cluster in ``data`` with a first line rejecting ``role`` on any
    connection without TLS (the first matching line decides)."""
    hba = data / "pg_hba.conf"
    hba.write_text(f"hostnossl all {role} all reject\n" + hba.read_text(encoding="utf-8"), encoding="utf-8")


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a PostgreSQL database the tests may use (see the module docstring)."""
    env = os.environ.get(ENV_URL)
    if env:
        yield env
        return
    bindir = pg_bindir()
    if bindir is None:
        _unavailable("no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on the PATH")
    as_root = os.geteuid() == 0
    if as_root:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to run the server as")
    runner = ["runuser", "-u", "postgres", "--"] if as_root else []

    folder = Path(tempfile.mkdtemp(prefix="salesml-pg-"))
    data, log = folder / "data", folder / "server.log"
    if as_root:
        os.chown(folder, pw.pw_uid, pw.pw_gid)
    proc_env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    proc_env.pop("PGDATA", None)

    def run(*args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*runner, *args], env=proc_env, cwd=folder, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stdout}{done.stderr}{tail}")

    port = _free_port()
    started = False
    try:
        run(
            str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-locale",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
        )  # fmt: skip
        opts = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=20"
        )
        tls = _certificate(folder)
        if tls is not None:
            if as_root:  # the server, run as postgres, reads them
                for f in tls:
                    os.chown(f, pw.pw_uid, pw.pw_gid)
            opts += f" -c ssl=on -c ssl_cert_file={tls[0]} -c ssl_key_file={tls[1]}"
            _tls_only(data, TLS_ROLE)
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "30", "start")
        started = True
        import psycopg

        with psycopg.connect(host=str(folder), port=port, user="postgres", dbname="postgres", autocommit=True) as con:
            con.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
            con.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE} ENCODING 'UTF8'")
            if tls is not None:
                con.execute(f"CREATE ROLE {TLS_ROLE} LOGIN PASSWORD '{PASSWORD}'")
        yield f"postgresql+psycopg://{ROLE}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            subprocess.run(
                [*runner, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                env=proc_env, cwd=folder, capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def tls_only_url(url: str) -> str:
    """``url`` (of :func:`postgres_url`) as :data:`TLS_ROLE`, whom the server accepts only over
    TLS. Skipped when ``url`` is a server of yours (``$SALESML_TEST_PG_URL``), or when the
    throwaway server has no TLS (failed then in CI)."""
    from sqlalchemy.engine import make_url

    if os.environ.get(ENV_URL):
        pytest.skip(f"${ENV_URL} names a server of yours: the TLS tests need the throwaway one")
    import psycopg

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database) as con:
        (on,) = con.execute("SHOW ssl").fetchone()
    if on != "on":
        _unavailable("the throwaway server runs without TLS (no openssl to make its certificate)")
    return u.set(username=TLS_ROLE).render_as_string(hide_password=False)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (for the unreachable-server test)."""
    for _ in range(20):
        port = _free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
        time.sleep(0.05)
    raise RuntimeError("no closed port found on 127.0.0.1")
