"""Quote numbers: one gap-free sequence per year, allocated in the sending transaction,
under 50 concurrent sends, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from fabqueue.auth import create_user
from fabqueue.db import SessionFactory, make_engine, make_session_factory, session_scope
from fabqueue.models import Quote, QuoteSequence, QuoteState, Role
from fabqueue.models.clients import OrganisationIn
from fabqueue.models.quote_public import LineIn, QuoteIn
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.quotes import lines as quote_lines
from fabqueue.quotes import sending as quote_sending
from fabqueue.quotes import workflow as quotes
from fabqueue.services.clients import create_organisation
from fabqueue.services.errors import Conflict
from tests.support.quotes import quote_profiles

SENDERS = 50
AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def _setup(sessions: SessionFactory, profiles: ProfileSet, n: int) -> tuple[int, list[int]]:
    with session_scope(sessions) as s:
        staff = create_user(session=s, name="staff", role=Role.facilitator, at=AT)
        org = create_organisation(
            session=s,
            data=OrganisationIn(name="Épicerie", address="1 rue\n69001 Lyon"),
            profiles=profiles,
            at=AT,
        )
        ids = []
        for i in range(n):
            q = quotes.create_quote(
                session=s,
                user=staff,
                data=QuoteIn(title=f"q{i}", organisation_id=org.id),
                profiles=profiles,
                at=AT,
            )
            quote_lines.add_line(
                session=s,
                user=staff,
                quote_id=q.id or 0,
                data=LineIn(
                    description="Plaque", quantity=Decimal(1), unit_price_ht=Decimal("10.00")
                ),
                profiles=profiles,
                at=AT,
            )
            ids.append(q.id or 0)
        assert staff.id is not None
        return staff.id, ids


def _send_all(db_url: str, profiles: ProfileSet) -> list[str]:
    engine = make_engine(db_url, pool_size=SENDERS)
    sessions = make_session_factory(engine, None)
    try:
        staff_id, ids = _setup(sessions, profiles, SENDERS)
        start = threading.Barrier(SENDERS)

        def send(quote_id: int) -> str:
            start.wait(timeout=60)
            with session_scope(sessions) as s:
                from fabqueue.models import User

                user = s.get(User, staff_id)
                assert user is not None
                quote, _ = quote_sending.send(
                    session=s, user=user, quote_id=quote_id, profiles=profiles, at=AT
                )
                assert quote.number is not None
                return quote.number

        with ThreadPoolExecutor(SENDERS) as pool:
            numbers = list(pool.map(send, ids))
        with sessions() as s:
            stored = s.exec(select(Quote)).all()
            seq = s.get(QuoteSequence, 2026)
        assert seq is not None and seq.last == SENDERS
        assert all(q.state == QuoteState.sent for q in stored)
        assert sorted(q.number or "" for q in stored) == sorted(numbers)
        return numbers
    finally:
        engine.dispose()


def _check(numbers: list[str]) -> None:
    assert len(set(numbers)) == SENDERS, "duplicate numbers"
    assert sorted(numbers) == [f"DEV-2026-{i:04d}" for i in range(1, SENDERS + 1)]


@pytest.fixture
def profiles(tmp_path: Path) -> ProfileSet:
    return load_profiles(quote_profiles(tmp_path / "p", "normal"))


def test_fifty_concurrent_sends_sqlite(sqlite_url: str, profiles: ProfileSet) -> None:
    _check(_send_all(sqlite_url, profiles))


@pytest.mark.postgres
def test_fifty_concurrent_sends_postgresql(pg_url: str, profiles: ProfileSet) -> None:
    _check(_send_all(pg_url, profiles))


def test_one_sequence_per_year_in_the_cafes_time_zone(
    sqlite_url: str, profiles: ProfileSet
) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine, None)
    try:
        staff_id, ids = _setup(sessions, profiles, 3)
        moments = [
            datetime(2026, 12, 31, 22, 30, tzinfo=UTC),  # 23:30 in Paris: still 2026
            datetime(2026, 12, 31, 23, 30, tzinfo=UTC),  # 00:30 on 1 January in Paris
            datetime(2027, 1, 2, 9, 0, tzinfo=UTC),
        ]
        got = []
        for quote_id, at in zip(ids, moments, strict=True):
            with session_scope(sessions) as s:
                from fabqueue.models import User

                user = s.get(User, staff_id)
                assert user is not None
                q, _ = quote_sending.send(
                    session=s, user=user, quote_id=quote_id, profiles=profiles, at=at
                )
                got.append(q.number)
        assert got == ["DEV-2026-0001", "DEV-2027-0001", "DEV-2027-0002"]
    finally:
        engine.dispose()


def test_a_failed_send_uses_no_number(
    sqlite_url: str, profiles: ProfileSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The number is taken inside the send's transaction: a send that fails after taking
    it rolls it back with everything else."""
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine, None)
    try:
        staff_id, ids = _setup(sessions, profiles, 2)
        from fabqueue.models import User

        def refuse(*_args: object) -> None:
            raise Conflict("the client's record cannot be printed")

        with monkeypatch.context() as patch:
            # Fails after the number was allocated, before the commit.
            patch.setattr(quote_sending, "client_snapshot", refuse)
            with pytest.raises(Conflict), session_scope(sessions) as s:
                user = s.get(User, staff_id)
                assert user is not None
                quote_sending.send(session=s, user=user, quote_id=ids[0], profiles=profiles, at=AT)
        with session_scope(sessions) as s:
            user = s.get(User, staff_id)
            assert user is not None
            q, _ = quote_sending.send(
                session=s, user=user, quote_id=ids[1], profiles=profiles, at=AT
            )
            assert q.number == "DEV-2026-0001"
            first = s.get(Quote, ids[0])
            assert first is not None and first.state == QuoteState.draft and first.number is None
    finally:
        engine.dispose()
