"""Migration 0009 up and down on SQLite and PostgreSQL: down drops the empty tables, and
refuses while the database holds an issued invoice (kept ten years)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from fabqueue.db import alembic_config, make_engine, upgrade

AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
TABLES = {"invoice", "invoice_line", "invoice_job", "invoice_event", "invoice_sequence", "payment"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        upgrade(eng)
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
    request.addfinalizer(eng.dispose)
    return eng


def _invoice(engine: Engine, number: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO invoice (kind, state, number, series, business, title, notes, "
                "issuer, client, vat_breakdown, created_by, created_at, updated_at) VALUES "
                "('invoice', :state, :number, 'FAC', true, 't', '', '{}', '{}', '[]', 'x', "
                ":at, :at)"
            ),
            {"state": "issued" if number else "draft", "number": number, "at": AT},
        )


def test_down_drops_empty_tables_and_up_again(engine: Engine) -> None:
    _invoice(engine, None)  # a draft is not kept
    command.downgrade(alembic_config(engine), "0006")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_down_refuses_while_an_issued_invoice_exists(engine: Engine) -> None:
    _invoice(engine, "FAC-2026-0001")
    with pytest.raises(RuntimeError, match="issued invoices"):
        command.downgrade(alembic_config(engine), "0006")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT number FROM invoice")).scalar_one() == "FAC-2026-0001"
