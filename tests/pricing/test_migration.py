"""Migration 0002 builds exactly the tables the models describe, on both databases,
and goes down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import fabqueue.models  # noqa: F401  (registers the tables)
from fabqueue.db import alembic_config, current_revision, head_revision, make_engine, upgrade

NEW_TABLES = {
    "organisation",
    "client_account",
    "quote",
    "quote_line",
    "quote_event",
    "quote_sequence",
    "quote_job",
    "job_actual",
}


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, SQLModel.metadata))


def _check(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= NEW_TABLES
    assert _diff(engine) == []
    command.downgrade(alembic_config(engine), "0001")
    assert current_revision(engine) == "0001"
    assert not NEW_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert _diff(engine) == []


def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    try:
        _check(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_schema_matches_the_models(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        _check(engine)
    finally:
        engine.dispose()
