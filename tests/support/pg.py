"""A throw-away PostgreSQL cluster for the test session.

CI (``.ci/run``) and ``make test`` both end up here: if ``FABQUEUE_TEST_PG_URL`` points
at a server, it is used; otherwise a cluster is created in a temporary folder with
Debian's ``initdb``/``pg_ctl`` and stopped at the end. As root, the server runs as the
``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PgServer:
    url: str
    """``postgresql+psycopg://user@host:port/postgres`` — the maintenance database."""
    _stop: list[str] | None = None
    _dir: Path | None = None

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self._stop:
            subprocess.run(self._stop, check=False, capture_output=True, timeout=60)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (initdb not found under /usr/lib/postgresql); "
            "install the postgresql package, or set FABQUEUE_TEST_PG_URL"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start() -> PgServer:
    url = os.environ.get("FABQUEUE_TEST_PG_URL")
    if url:
        return PgServer(url=url)
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="fabqueue-pg-"))
    data = base / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "fabqueue",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return PgServer(
        url=f"postgresql+psycopg://fabqueue@127.0.0.1:{port}/postgres",
        _stop=[*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
        _dir=base,
    )
