"""Helpers of the booked-time invoice tests: prices that charge bookings, bookings and a
member's jobs written as rows (how bookings and jobs are made is tested elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fabqueue.db import session_scope
from fabqueue.models import Booking, Job
from fabqueue.profiles import load_profiles
from tests.conftest import Api
from tests.support.invoices import counter_job

# Tuesday 24 February 2026, 14:00 in Paris (13:00 UTC): before the tests' clock (2 March).
TUESDAY = datetime(2026, 2, 24, 13, 0, tzinfo=UTC)


def write_members(root: Path, members: str) -> None:
    """Set the ``[members]`` table of ``root``'s prices.toml (it is the file's last)."""
    path = root / "prices.toml"
    text = path.read_text().split("\n[members]\n")[0]
    path.write_text(text + "\n[members]\n" + members + "\n")


def charge(api: Api, root: Path, members: str) -> None:
    """Set the API's ``[members]`` prices and reload the profiles."""
    write_members(root, members)
    api.ctx.profiles = load_profiles(root)


def book(
    api: Api,
    member_id: int,
    start: datetime = TUESDAY,
    minutes: int = 120,
    *,
    machine: str = "printer",
    no_show: bool = False,
    cancelled: bool = False,
) -> int:
    with session_scope(api.ctx.sessions) as s:
        b = Booking(
            machine=machine,
            member_id=member_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            created_at=start - timedelta(days=3),
            created_by=member_id,
            no_show_at=start + timedelta(minutes=20) if no_show else None,
            cancelled_at=start - timedelta(days=1) if cancelled else None,
            cancelled_by=member_id if cancelled else None,
        )
        s.add(b)
        s.commit()
        assert b.id is not None
        return b.id


def member_job(
    api: Api, member_id: int, start: datetime, minutes: int, machine: str = "printer"
) -> int:
    """A member's own job (a benchy, 2 323 s by its analysis), made on ``machine``
    from ``start`` for ``minutes``."""
    job_id = counter_job(api)
    with session_scope(api.ctx.sessions) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.owner_id, job.machine = member_id, machine
        job.started_at, job.finished_at = start, start + timedelta(minutes=minutes)
        s.add(job)
        s.commit()
    return job_id
