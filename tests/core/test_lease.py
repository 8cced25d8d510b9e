"""The node lease with two real processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from fabqueue.clock import RealClock
from fabqueue.db import make_engine
from fabqueue.lease import LeaseHeld, NodeLease, lock_file_for
from fabqueue.models import NodeLeaseRecord
from tests.support.factories import REPO


class Holder:
    """The lease held by another process, until :meth:`let_go` or :meth:`kill`."""

    def __init__(self, db_url: str, node: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.lease_holder", db_url, node],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        self.first_line = self.proc.stdout.readline().strip()

    def let_go(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(30)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    yield request.getfixturevalue(name)


def _row(db_url: str, node: str) -> NodeLeaseRecord | None:
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            return session.get(NodeLeaseRecord, node)
    finally:
        engine.dispose()


def test_a_second_process_is_refused_and_told_who_holds_the_node(db_url: str) -> None:
    holder = Holder(db_url, "counter-pc")
    assert holder.first_line == f"held {holder.proc.pid}"
    row = _row(db_url, "counter-pc")
    assert row is not None and row.pid == holder.proc.pid
    assert row.heartbeat_at <= datetime.now(UTC)
    mine = NodeLease(db_url, "counter-pc", RealClock())
    with pytest.raises(LeaseHeld) as refused:
        mine.acquire()
    message = str(refused.value)
    assert f"process {holder.proc.pid} on {socket.gethostname()} since " in message
    assert not mine.held
    # Another node on the same database is not concerned.
    other = NodeLease(db_url, "workshop-pc", RealClock())
    other.acquire()
    other.release()
    assert holder.let_go() == 0
    mine.acquire()
    try:
        assert mine.held and mine.heartbeat()
        row = _row(db_url, "counter-pc")
        assert row is not None and row.pid == mine.pid
    finally:
        mine.release()
    assert _row(db_url, "counter-pc") is None


def test_a_holder_killed_with_sigkill_leaves_the_node_free(db_url: str) -> None:
    holder = Holder(db_url, "counter-pc")
    assert holder.first_line.startswith("held")
    holder.kill()
    # Its row stays behind as a note; the lock itself died with the process.
    row = _row(db_url, "counter-pc")
    assert row is not None and row.pid == holder.proc.pid
    mine = NodeLease(db_url, "counter-pc", RealClock())
    mine.acquire()
    try:
        row = _row(db_url, "counter-pc")
        assert row is not None and row.pid == mine.pid
        second = Holder(db_url, "counter-pc")
        assert second.first_line.startswith(
            f"refused node 'counter-pc' is already run by process {mine.pid}"
        )
        assert second.proc.wait(30) == 3
    finally:
        mine.release()


def test_the_sqlite_lock_file_sits_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/var/fabqueue.db"
    assert lock_file_for(url, "café/1") == tmp_path / "var" / "fabqueue.db.node-caf__1.lock"
    assert lock_file_for("postgresql+psycopg://x/y", "n") is None
    assert lock_file_for("sqlite:///:memory:", "n") is None
