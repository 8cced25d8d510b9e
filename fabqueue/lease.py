"""A node's lease: one process at a time runs a node.

A second ``fabqueue serve`` with the same database and node name would reconcile the
first one's running jobs into ``interrupted`` while they still print, then send its
own jobs to the same machines. The lease prevents it:

- on PostgreSQL, a session-level advisory lock on a connection kept for the process's
  life (the server drops it the moment that process or its connection dies);
- on SQLite, an exclusive ``flock`` on a lock file beside the database (the kernel
  drops it when the process dies, ``kill -9`` included).

Either way the holder writes a ``node_lease`` row (pid, host, since, heartbeat), which
is what a refused process shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, text, update
from sqlalchemy.engine.url import make_url

from fabqueue.clock import Clock
from fabqueue.db import make_engine, make_session_factory, session_scope
from fabqueue.models import NodeLeaseRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since: datetime | None
    heartbeat_at: datetime | None = None

    def describe(self) -> str:
        since = f" since {self.since.isoformat(timespec='seconds')}" if self.since else ""
        beat = (
            f", last heartbeat {self.heartbeat_at.isoformat(timespec='seconds')}"
            if self.heartbeat_at
            else ""
        )
        return f"process {self.pid} on {self.host}{since}{beat}"


class LeaseHeld(RuntimeError):
    """Another process runs this node."""

    def __init__(self, node: str, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process (it left no details)"
        super().__init__(
            f"node {node!r} is already run by {who}: stop that one first, or give this "
            "one another name (FABQUEUE_NODE)"
        )
        self.node = node
        self.holder = holder


def advisory_key(node: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    digest = hashlib.sha256(f"fabqueue-node:{node}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file_for(db_url: str, node: str) -> Path | None:
    """``<database>.node-<node>.lock`` beside a SQLite file; None for other databases."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", node)
    db = Path(url.database)
    return db.with_name(f"{db.name}.node-{safe}.lock")


class NodeLease:
    def __init__(self, db_url: str, node: str, clock: Clock) -> None:
        self.db_url = db_url
        self.node = node
        self.clock = clock
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.held = False
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._fd: int | None = None

    # --- taking and giving back ---------------------------------------------------------

    def acquire(self) -> None:
        """Take the lease or raise :class:`LeaseHeld` saying who has it."""
        self._engine = make_engine(self.db_url, pool_size=2)
        try:
            taken = self._lock_postgres() if self._is_postgres else self._lock_file()
            if not taken:
                raise LeaseHeld(self.node, self._holder())
            self._write_row()
        except BaseException:
            self._unlock()
            self._engine.dispose()
            self._engine = None
            raise
        self.held = True
        log.info("node %r: lease taken by process %d on %s", self.node, self.pid, self.host)

    def release(self) -> None:
        if self._engine is None:
            return
        if self.held:
            with contextlib.suppress(Exception):  # the lock goes anyway; the row is a note
                self._delete_row()
        self.held = False
        self._unlock()
        self._engine.dispose()
        self._engine = None

    def heartbeat(self) -> bool:
        """Note that the holder is alive; False when the lease was lost (the advisory
        lock's connection died: another process may take the node now)."""
        if not self.held or self._engine is None:
            return False
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
            except Exception:
                log.critical("node %r: the lease's database connection died", self.node)
                self.held = False
                return False
        with session_scope(make_session_factory(self._engine, None)) as session:
            session.execute(
                update(NodeLeaseRecord)
                .where(NodeLeaseRecord.node == self.node)  # type: ignore[arg-type]
                .where(NodeLeaseRecord.pid == self.pid)  # type: ignore[arg-type]
                .values(heartbeat_at=self.clock.now())
            )
        return True

    # --- the two kinds of lock --------------------------------------------------------

    @property
    def _is_postgres(self) -> bool:
        return make_url(self.db_url).get_backend_name() == "postgresql"

    def _lock_postgres(self) -> bool:
        assert self._engine is not None
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._conn = conn
        key = advisory_key(self.node)
        return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())

    def _lock_file(self) -> bool:
        path = lock_file_for(self.db_url, self.node)
        if path is None:
            return True  # an in-memory database cannot be shared by two processes
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        # Who holds it, in the file too: readable when the database is not.
        os.ftruncate(fd, 0)
        os.write(fd, f"{self.pid} {self.host} {self.clock.now().isoformat()}\n".encode())
        return True

    def _unlock(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(self.node)}
                )
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    # --- the row ----------------------------------------------------------------------

    def _write_row(self) -> None:
        assert self._engine is not None
        now = self.clock.now()
        with session_scope(make_session_factory(self._engine, None)) as session:
            session.merge(
                NodeLeaseRecord(
                    node=self.node,
                    pid=self.pid,
                    host=self.host,
                    started_at=now,
                    heartbeat_at=now,
                )
            )

    def _delete_row(self) -> None:
        assert self._engine is not None
        with session_scope(make_session_factory(self._engine, None)) as session:
            session.execute(
                delete(NodeLeaseRecord)
                .where(NodeLeaseRecord.node == self.node)  # type: ignore[arg-type]
                .where(NodeLeaseRecord.pid == self.pid)  # type: ignore[arg-type]
                .where(NodeLeaseRecord.host == self.host)  # type: ignore[arg-type]
            )

    def _holder(self) -> Holder | None:
        assert self._engine is not None
        try:
            with make_session_factory(self._engine, None, readonly=True)() as session:
                row = session.get(NodeLeaseRecord, self.node)
                if row is not None:
                    return Holder(row.pid, row.host, row.started_at, row.heartbeat_at)
        except Exception:  # the database may be older than the lease table
            log.debug("no node_lease row to read", exc_info=True)
        return self._holder_from_file()

    def _holder_from_file(self) -> Holder | None:
        path = lock_file_for(self.db_url, self.node)
        if path is None:
            return None
        try:
            pid, host, since = path.read_text().split()[:3]
            return Holder(int(pid), host, datetime.fromisoformat(since))
        except (OSError, ValueError):
            return None
