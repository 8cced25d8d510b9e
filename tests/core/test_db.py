"""Migrations build exactly the models' schema, on SQLite and PostgreSQL; times stay aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import fabqueue.models  # noqa: F401
from fabqueue.db import (
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    session_scope,
)
from fabqueue.models import StoredFile


def schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, SQLModel.metadata))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_models(sqlite_url: str) -> None:
    assert schema_diff(sqlite_url) == []
    engine = make_engine(sqlite_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


@pytest.mark.postgres
def test_postgres_migrations_match_models(pg_url: str) -> None:
    assert schema_diff(pg_url) == []


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_datetimes_come_back_aware_and_in_utc(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    engine = make_engine(url)
    sessions = make_session_factory(engine, None)
    paris = timezone(timedelta(hours=2))
    with session_scope(sessions) as s:
        s.add(
            StoredFile(
                sha256="b" * 64, size=3, created_at=datetime(2026, 6, 1, 12, 0, tzinfo=paris)
            )
        )
    with sessions() as s:
        got = s.get(StoredFile, "b" * 64)
        assert got is not None
        assert got.created_at.tzinfo is not None
        assert got.created_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
