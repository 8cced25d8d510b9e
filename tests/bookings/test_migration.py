"""Migration 0008 goes down and up again on both databases; on PostgreSQL the exclusion
constraints refuse overlapping live bookings even when the code does not check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from fabqueue.db import alembic_config, current_revision, make_engine, upgrade

TABLES = {
    "training",
    "training_session",
    "training_enrolment",
    "authorisation",
    "booking",
    "booking_event",
    "blocked_time",
    "calendar_token",
}


def _down_and_up(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    command.downgrade(alembic_config(engine), "0003")
    assert current_revision(engine) == "0003"
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES


def test_sqlite_down_and_up(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    try:
        _down_and_up(engine)
    finally:
        engine.dispose()


INSERT = text(
    "INSERT INTO booking (machine, member_id, starts_at, ends_at, created_at, created_by, "
    "cancelled_at) VALUES (:m, :u, :s, :e, :s, :u, :c)"
)


@pytest.mark.postgres
def test_postgresql_exclusion_constraints(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        _down_and_up(engine)
        h = [datetime(2026, 3, 3, h, tzinfo=UTC) for h in range(10, 15)]
        with engine.begin() as c:
            for name in ("a", "b"):
                c.execute(
                    text(
                        "INSERT INTO app_user (name, role, active, created_at) "
                        "VALUES (:n, 'member', true, now())"
                    ),
                    {"n": name},
                )
            c.execute(INSERT, {"m": "p", "u": 1, "s": h[0], "e": h[2], "c": None})
            # Touching is fine; a cancelled booking holds no time.
            c.execute(INSERT, {"m": "p", "u": 2, "s": h[2], "e": h[3], "c": None})
            c.execute(INSERT, {"m": "p", "u": 2, "s": h[0], "e": h[1], "c": h[0]})
        for m, u in (("p", 2), ("q", 1)):  # same machine; same member elsewhere
            with pytest.raises(IntegrityError, match="booking_no_overlap"), engine.begin() as c:
                c.execute(INSERT, {"m": m, "u": u, "s": h[1], "e": h[4], "c": None})
    finally:
        engine.dispose()
