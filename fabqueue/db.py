"""Database engine, sessions and migrations.

SQLite (one café) runs in WAL mode with foreign keys on. Sessions that may write start
their transaction with ``BEGIN IMMEDIATE``: SQLite allows one writer at a time, and a
transaction that reads then writes would otherwise fail with "database is locked" when
another writer committed in between, instead of waiting its turn. Read-only sessions
(``readonly=True``) begin deferred and never wait for writers (WAL).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.url import make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from fabqueue.events import PENDING_EVENTS_KEY, EventBus
from fabqueue.folding import register_sqlite

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SessionFactory = Callable[[], Session]

READONLY_OPTION = "fabqueue_readonly"


def make_engine(db_url: str, *, pool_size: int = 10) -> Engine:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite connections are cheap to keep and costly to make (pragmas, WAL
        # setup): keep enough for every worker thread instead of churning overflow.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=max(pool_size, 48),
            max_overflow=16,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
WRITE_LOCK_TIMEOUT_S = 30.0


def _write_lock(database: str) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(str(Path(database).resolve()), threading.Lock())


def _configure_sqlite(engine: Engine) -> None:
    # SQLite takes one writer at a time and makes the others poll with growing sleeps
    # (up to 100 ms each), which turns a queue of writers into seconds of latency. Writers
    # of this process therefore queue on a lock first, and are woken the moment the
    # previous one commits; SQLite's own busy timeout remains for other processes.
    lock = _write_lock(engine.url.database or ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        register_sqlite(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READONLY_OPTION, False):
            conn.exec_driver_sql("BEGIN")
            return
        if not lock.acquire(timeout=WRITE_LOCK_TIMEOUT_S):
            raise TimeoutError("the database stayed busy for 30 s")
        conn.info["fabqueue_write_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            conn.info.pop("fabqueue_write_lock", None)
            lock.release()
            raise

    def _end(conn: Any, sql: str) -> None:
        # Finish the transaction here, so the lock is released after it, not before;
        # the driver's own commit()/rollback() then find nothing left to do.
        if not conn.info.pop("fabqueue_write_lock", False):
            return
        try:
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and dbapi.in_transaction:
                dbapi.execute(sql)
        finally:
            lock.release()

    @event.listens_for(engine, "commit")
    def _on_commit(conn: Any) -> None:
        _end(conn, "COMMIT")

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Any) -> None:
        _end(conn, "ROLLBACK")


def make_session_factory(
    engine: Engine, bus: EventBus | None, *, readonly: bool = False
) -> SessionFactory:
    """Sessions that publish their queued bus events once, and only if, they commit.

    ``readonly`` sessions must not write: on SQLite they do not take the write lock.
    """
    bind = engine.execution_options(**{READONLY_OPTION: True}) if readonly else engine

    def factory() -> Session:
        session = Session(bind, expire_on_commit=False)
        session.info["bus"] = bus
        return session

    return factory


@event.listens_for(OrmSession, "after_commit")
def _publish_after_commit(session: OrmSession) -> None:
    pending = session.info.pop(PENDING_EVENTS_KEY, None)
    bus = session.info.get("bus")
    if pending and bus is not None:
        for topic, payload in pending:
            bus.publish(topic, payload)


@event.listens_for(OrmSession, "after_rollback")
def _drop_after_rollback(session: OrmSession) -> None:
    session.info.pop(PENDING_EVENTS_KEY, None)


@contextmanager
def session_scope(factory: SessionFactory) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
