"""Real database and queue servers for tests: PostgreSQL and Redis from the Debian packages that
``scripts/setup.sh --test`` installs, started in a temporary folder, on 127.0.0.1 only, and stopped afterwards.
A test that needs one is skipped, with the reason, where the binaries are missing."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _as_postgres_user() -> dict:
    """initdb refuses to run as root: as root, run the server as the Debian package's ``postgres`` account."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres account to run PostgreSQL as")
    return {"user": pw.pw_uid, "group": pw.pw_gid}


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster; yields the superuser URL of its ``postgres`` database."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/setup.sh --test installs the postgresql package)")
    run_as = _as_postgres_user()
    root = Path(tempfile.mkdtemp(prefix="videocoach-pg-"))
    if run_as:
        os.chown(root, run_as["user"], run_as["group"])
    data, port = root / "data", free_port()
    try:
        subprocess.run([bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, cwd=root, **run_as)
        subprocess.run([bindir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-o",
                        f"-h 127.0.0.1 -p {port} -k {root} -F -c max_connections=200", "start"],
                       check=True, capture_output=True, cwd=root, **run_as)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True, cwd=root, **run_as)
        shutil.rmtree(root, ignore_errors=True)


def new_database(admin_url: str) -> str:
    """A new empty database on the server; its URL."""
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A Redis server with no persistence in a temporary folder; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh --test installs the redis-server package)")
    root = Path(tempfile.mkdtemp(prefix="videocoach-redis-"))
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)
