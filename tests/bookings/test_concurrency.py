"""50 people ask for the same slot at the same moment: exactly one gets it, on SQLite
(writer lock, check and insert in one transaction) and on PostgreSQL (exclusion
constraint). The others get the rule's 409, and nothing else is written."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlmodel import col, func, select

from fabqueue.db import SessionFactory, make_session_factory
from fabqueue.models import Booking, BookingEvent
from fabqueue.models.bookings import BookingCreate
from fabqueue.profiles import ProfileSet
from fabqueue.services import bookings
from fabqueue.services.booking_rules import Refused
from tests.support.bookings import NOW, Desk, paris
from tests.support.factories import make_user

N = 50


def _members(sessions: SessionFactory, profiles: ProfileSet, n: int) -> list[int]:
    staff, _ = make_user(sessions, "anim", "facilitator")
    desk = Desk(sessions, profiles)
    ids = []
    for i in range(n):
        uid, _ = make_user(sessions, f"m{i}", "member")
        desk.grant(uid, "fdm_printer", staff, at=NOW)
        desk.grant(uid, "plotter", staff, at=NOW)
        ids.append(uid)
    return ids


def _race(sessions: SessionFactory, profiles: ProfileSet, attempts: list[tuple[int, str]]) -> Any:
    start = threading.Barrier(len(attempts))
    desk = Desk(sessions, profiles)
    # Half the attempts check the settled rules on a read session first, as the API does.
    reads = make_session_factory(sessions().get_bind(), None, readonly=True)  # type: ignore[arg-type]

    def one(n: int) -> str:
        who, machine = attempts[n]
        start.wait()
        with sessions() as s, reads() as r:
            try:
                bookings.create(
                    s,
                    profiles,
                    BookingCreate(
                        machine=machine,
                        starts_at=paris(2026, 3, 3, 14),
                        ends_at=paris(2026, 3, 3, 16),
                    ),
                    desk.user(s, who),
                    NOW,
                    read=r if n % 2 else None,
                )
                return "won"
            except Refused as exc:
                assert exc.status_code == 409
                return str(exc.extra["rule"])

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(one, range(len(attempts))))


def _live(sessions: SessionFactory) -> int:
    with sessions() as s:
        return int(
            s.exec(
                select(func.count()).select_from(Booking).where(col(Booking.cancelled_at).is_(None))
            ).one()
        )


def test_fifty_people_one_slot(db: tuple[SessionFactory, ProfileSet]) -> None:
    sessions, profiles = db
    members = _members(sessions, profiles, N)
    results = _race(sessions, profiles, [(m, "plotter") for m in members])
    assert results.count("won") == 1
    assert set(results) == {"won", "machine_overlap"}
    assert _live(sessions) == 1
    with sessions() as s:  # the losers left no event behind
        assert len(list(s.exec(select(BookingEvent)))) == 1


def test_one_member_two_machines_at_once(db: tuple[SessionFactory, ProfileSet]) -> None:
    sessions, profiles = db
    (member,) = _members(sessions, profiles, 1)
    attempts = [(member, "plotter" if i % 2 else "printer") for i in range(N)]
    results = _race(sessions, profiles, attempts)
    assert results.count("won") == 1
    assert set(results) <= {"won", "machine_overlap", "member_overlap"}
    assert _live(sessions) == 1
