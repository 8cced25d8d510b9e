"""Migration 0006 on a database that already holds quotes: money columns become 64-bit
on PostgreSQL, and the VAT rates of existing lines keep what they meant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from fabqueue.db import alembic_config, make_engine, upgrade

AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, "0003")
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
        command.downgrade(alembic_config(engine), "0003")
    request.addfinalizer(engine.dispose)
    return engine


def _old_quote(engine: Engine) -> None:
    """A draft priced before 0006: one line at 20 % (chosen under the normal regime),
    one at 0 % (a franchise leftover, or chosen: the migration cannot tell)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO app_user (id, name, role, active, created_at) "
                "VALUES (1, 'anna', 'facilitator', true, :at)"
            ),
            {"at": AT},
        )
        conn.execute(
            text(
                "INSERT INTO organisation (id, name, address, contact_name, notes, active, "
                "created_at, updated_at) VALUES (1, 'Épicerie', '1 rue', '', '', true, :at, :at)"
            ),
            {"at": AT},
        )
        conn.execute(
            text(
                "INSERT INTO quote (id, organisation_id, state, version, title, request_notes, "
                "notes, lead_time, payment_terms, validity_days, issuer, client, "
                "created_by_id, created_at, updated_at) VALUES (1, 1, 'draft', 1, 'Plaque', "
                "'', '', '', '', 30, '{}', '{}', 1, :at, :at)"
            ),
            {"at": AT},
        )
        for position, rate_bp in ((1, 2000), (2, 0)):
            conn.execute(
                text(
                    "INSERT INTO quote_line (quote_id, position, kind, description, "
                    "quantity_milli, unit, unit_price_cents, vat_rate_bp, price_source, "
                    "needs_estimate, missing, design_minutes, analysis, price_detail) "
                    "VALUES (1, :position, 'free', 'x', 1000, 'u', 1000, :rate, 'manual', "
                    "false, '[]', 0, '{}', '[]')"
                ),
                {"position": position, "rate": rate_bp},
            )


def test_0006_keeps_existing_quotes_and_widens_money(engine_at_0003: Engine) -> None:
    engine = engine_at_0003
    _old_quote(engine)
    upgrade(engine)
    with engine.begin() as conn:
        flags = conn.execute(
            text("SELECT position, vat_rate_manual FROM quote_line ORDER BY position")
        ).all()
        assert [(p, bool(m)) for p, m in flags] == [(1, True), (2, False)]
        assert conn.execute(text("SELECT signed_on FROM quote")).scalar_one() is None
        # 35,999,999.64 € in cents: more than a 32-bit column takes.
        conn.execute(text("UPDATE quote SET total_ttc_cents = 3599999964"))
        assert conn.execute(text("SELECT total_ttc_cents FROM quote")).scalar_one() == 3599999964
    if engine.dialect.name == "postgresql":
        with pytest.raises(RuntimeError, match="cannot go back before revision 0006"):
            command.downgrade(alembic_config(engine), "0003")
    with engine.begin() as conn:
        conn.execute(text("UPDATE quote SET total_ttc_cents = 1200"))
    command.downgrade(alembic_config(engine), "0003")
    assert "signed_on" not in {c["name"] for c in inspect(engine).get_columns("quote")}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM quote_line")).scalar_one() == 2
