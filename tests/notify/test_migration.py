"""Migration 0013_notify goes down and up again, with rows in the tables, on both
databases; the schema it makes is the models' (an outbox row written by the code
reads back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect
from sqlmodel import Session, select

from fabqueue.db import alembic_config, current_revision, make_engine, upgrade
from fabqueue.models.notifications import MailPreference, MailState, NoticeKind, Notification
from tests.support.notify import T0

TABLES = {"notification", "mail_preference"}


def _round_trip(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(MailPreference(email="a@exemple.fr", token="t", updated_at=T0, off_kinds=["x"]))
        s.add(
            Notification(
                email="a@exemple.fr",
                kind=NoticeKind.job_ready,
                subject="Votre travail « t » est prêt à récupérer",
                params={"title": "t"},
                link="",
                state=MailState.pending,
                next_try_at=T0,
                created_at=T0,
                updated_at=T0,
            )
        )
        s.commit()
    command.downgrade(alembic_config(engine), "0011")
    assert current_revision(engine) == "0011"
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= TABLES
    with Session(engine) as s:
        assert s.exec(select(Notification)).all() == []
        s.add(MailPreference(user_id=None, token="u", updated_at=T0))
        s.commit()
        (pref,) = s.exec(select(MailPreference)).all()
        assert pref.off_kinds == [] and pref.off_all is False


def test_sqlite_down_and_up(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    try:
        _round_trip(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_down_and_up(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        _round_trip(engine)
    finally:
        engine.dispose()
