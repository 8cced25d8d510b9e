"""pick_next with bookings: who runs during a booking, what waits for one, and how long
a job is expected to take (estimate x learnt correction, or the profile's default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabqueue.dispatch.scheduler import Booking, Candidate, MachineInfo, expected_s, pick_next
from jobs.base import Analysis, MachineKind

NOW = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
MIA, MAX, STAFF = 2, 3, 1
CUTTER = MachineInfo(
    slug="plotter", file_types=frozenset({"svg"}), track_material=False, default_job_s=3600
)


def job(
    id: int,
    owner: int,
    minutes: float | None = 10,
    *,
    age: int = 0,
    prio: int = 0,
    member: bool = False,
) -> Candidate:
    analysis = (
        None
        if minutes is None
        else Analysis(
            kind=MachineKind.vinyl_cutter, file_type="svg", analyzer="t", duration_s=minutes * 60
        )
    )
    return Candidate(
        id=id,
        owner_id=owner,
        file_type="svg",
        material=None,
        priority=prio,
        created_at=NOW - timedelta(minutes=age),
        analysis=analysis,
        needs_booking=member,
    )


def booking(owner: int, start_min: int, end_min: int) -> Booking:
    return Booking(
        owner_id=owner,
        starts_at=NOW + timedelta(minutes=start_min),
        ends_at=NOW + timedelta(minutes=end_min),
    )


def machine(**kw: object) -> MachineInfo:
    return MachineInfo(**{**CUTTER.__dict__, **kw})  # type: ignore[arg-type]


CASES = [
    # name, candidates, bookings, machine, expected, reason of the first passed over
    ("no bookings: oldest first", [job(1, STAFF, age=5), job(2, MAX, age=9)], [], CUTTER, 2, None),
    (
        "during Mia's booking her job jumps the queue",
        [job(1, STAFF, age=60, prio=50), job(2, MIA, age=1)],
        [booking(MIA, -10, 50)],
        CUTTER,
        2,
        None,  # looked at first: nobody else is even considered
    ),
    (
        "during Mia's booking nobody else runs",
        [job(1, STAFF), job(2, MAX)],
        [booking(MIA, -10, 50)],
        CUTTER,
        None,
        "the machine is booked by someone else now",
    ),
    (
        "a long job waits for the booking to pass; a short one runs before it",
        [job(1, STAFF, minutes=45, age=9), job(2, MAX, minutes=25)],
        [booking(MIA, 30, 90)],
        CUTTER,
        2,
        "would run into a booking starting at 2026-03-03T14:30:00+00:00",
    ),
    (
        "the learnt correction makes a 25 min estimate 37.5 min: it waits",
        [job(1, STAFF, minutes=25)],
        [booking(MIA, 30, 90)],
        machine(correction=1.5),
        None,
        "would run into a booking starting at 2026-03-03T14:30:00+00:00",
    ),
    (
        "the learnt correction can make a job short enough",
        [job(1, STAFF, minutes=35)],
        [booking(MIA, 30, 90)],
        machine(correction=0.8),
        1,
        None,
    ),
    (
        "no estimate: the profile's default duration (60 min) counts",
        [job(1, STAFF, minutes=None, age=9), job(2, STAFF, minutes=20)],
        [booking(MIA, 30, 90)],
        CUTTER,
        2,
        "would run into a booking starting at 2026-03-03T14:30:00+00:00",
    ),
    (
        "a member's job waits for their booking under during_booking",
        [job(1, MIA, member=True, age=9), job(2, STAFF)],
        [booking(MIA, 30, 90)],
        CUTTER,
        2,
        "waits for a booking of its owner",
    ),
    (
        "a member's job runs in their booking under during_booking",
        [job(1, MIA, member=True)],
        [booking(MIA, -5, 55)],
        CUTTER,
        1,
        None,
    ),
    (
        "the owner's own later booking does not hold their job back",
        [job(1, MIA, minutes=45)],
        [booking(MIA, 30, 90)],
        CUTTER,
        1,
        None,
    ),
    (
        "a job may run up to the booking's start exactly",
        [job(1, STAFF, minutes=30)],
        [booking(MIA, 30, 90)],
        CUTTER,
        1,
        None,
    ),
    (
        "the queue resumes once the booking has ended",
        [job(1, STAFF)],
        [booking(MIA, -60, 0)],
        CUTTER,
        1,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "candidates", "bookings", "info", "expected", "reason"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_pick_next_with_bookings(name, candidates, bookings, info, expected, reason) -> None:
    decision = pick_next(candidates, info, bookings, NOW)
    assert decision.job_id == expected
    passed = [c.id for c in candidates if c.id != expected]
    if reason is not None:
        assert decision.waiting[passed[0]] == reason
    assert expected not in decision.waiting
    if expected is None:
        assert set(decision.waiting) == set(passed)


def test_expected_duration() -> None:
    assert expected_s(job(1, STAFF, minutes=10), machine(correction=1.2)) == pytest.approx(720)
    assert expected_s(job(1, STAFF, minutes=None), CUTTER) == 3600
