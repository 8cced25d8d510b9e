"""Migration 0014 (bookings billed on invoice lines) up and down on SQLite and
PostgreSQL: down drops the table while no issued invoice bills a booking, refuses
otherwise; its unique column refuses a booking billed twice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from fabqueue.db import alembic_config, make_engine, upgrade

AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        upgrade(eng)
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
    request.addfinalizer(eng.dispose)
    return eng


def _one(conn: Connection, sql: str, **values: object) -> int:
    return int(conn.execute(text(sql + " RETURNING id"), values).scalar_one())


def _billed_booking(engine: Engine, number: str | None) -> int:
    """A member, a booking, and an invoice (issued when ``number``) with a line billing
    it; returns the booking's id."""
    with engine.begin() as conn:
        user = _one(
            conn,
            "INSERT INTO app_user (name, role, active, created_at) "
            "VALUES ('lea', 'member', true, :at)",
            at=AT,
        )
        booking = _one(
            conn,
            "INSERT INTO booking (machine, member_id, starts_at, ends_at, created_at, "
            "created_by) VALUES ('printer', :u, :at, :at2, :at, :u)",
            u=user,
            at=AT,
            at2=AT.replace(hour=12),
        )
        invoice = _one(
            conn,
            "INSERT INTO invoice (kind, state, number, series, business, title, notes, "
            "issuer, client, vat_breakdown, created_by, created_at, updated_at) VALUES "
            "('invoice', :state, :number, 'FAC', false, 't', '', '{}', '{}', '[]', 'x', "
            ":at, :at)",
            state="issued" if number else "draft",
            number=number,
            at=AT,
        )
        line = _one(
            conn,
            "INSERT INTO invoice_line (invoice_id, position, kind, description, "
            "quantity_milli, unit, unit_price_cents, vat_rate_bp, account_key, job_ids) "
            "VALUES (:i, 1, 'item', 'Réservation', 4000, '30 min', 150, 2000, 'fdm_printer', "
            "'[]')",
            i=invoice,
        )
        conn.execute(
            text(
                "INSERT INTO invoice_booking (line_id, invoice_id, booking_id, "
                "billed_booking_id, covered_job_ids) VALUES (:l, :i, :b, :billed, '[]')"
            ),
            {"l": line, "i": invoice, "b": booking, "billed": booking if number else None},
        )
    return booking


def test_down_drops_the_table_and_up_again(engine: Engine) -> None:
    _billed_booking(engine, None)  # a draft's link is not kept
    command.downgrade(alembic_config(engine), "0013_notify")
    assert "invoice_booking" not in inspect(engine).get_table_names()
    assert "booking" in inspect(engine).get_table_names()
    upgrade(engine)
    assert "invoice_booking" in inspect(engine).get_table_names()


def test_down_refuses_while_an_issued_invoice_bills_a_booking(engine: Engine) -> None:
    booking = _billed_booking(engine, "FAC-2026-0001")
    with pytest.raises(RuntimeError, match="issued invoices bill bookings"):
        command.downgrade(alembic_config(engine), "0013_notify")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT booking_id FROM invoice_booking")).scalar() == booking
    # A second live bill of the booking is refused by the database itself.
    with pytest.raises(IntegrityError, match="billed_booking_id"), engine.begin() as conn:
        line = _one(
            conn,
            "INSERT INTO invoice_line (invoice_id, position, kind, description, "
            "quantity_milli, unit, unit_price_cents, vat_rate_bp, account_key, job_ids) "
            "SELECT invoice_id, 2, kind, description, quantity_milli, unit, unit_price_cents, "
            "vat_rate_bp, account_key, job_ids FROM invoice_line",
        )
        conn.execute(
            text(
                "INSERT INTO invoice_booking (line_id, invoice_id, booking_id, "
                "billed_booking_id, covered_job_ids) SELECT :l, invoice_id, booking_id, "
                "billed_booking_id, '[]' FROM invoice_booking"
            ),
            {"l": line},
        )
