"""The reminder of a booking, the day before (a scan)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from fabqueue.models.bookings import Booking
from fabqueue.models.machines import MachineRecord
from fabqueue.models.notifications import NoticeKind
from fabqueue.models.users import User
from fabqueue.notify import french
from fabqueue.notify.outbox import already_written, enqueue, user_recipient


def scan_tomorrow(session: Session, *, at: datetime, tz: ZoneInfo) -> int:
    """Remind each member of their bookings starting tomorrow (café's day), once each."""
    tomorrow = at.astimezone(tz).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(0), tz)
    end = datetime.combine(tomorrow + timedelta(days=1), time(0), tz)
    bookings = session.exec(
        select(Booking)
        .where(col(Booking.cancelled_at).is_(None))
        .where(col(Booking.starts_at) >= start)
        .where(col(Booking.starts_at) < end)
    ).all()
    made = 0
    for booking in bookings:
        key = f"booking_tomorrow:{booking.id}:{booking.starts_at.isoformat()}"
        member = session.get(User, booking.member_id)
        if member is None or not member.active or already_written(session, key):
            continue
        made += len(
            enqueue(
                session,
                [user_recipient(session, member)],
                NoticeKind.booking_tomorrow,
                params={
                    "booking_id": booking.id,
                    "machine": _machine_name(session, booking.machine),
                    "start_text": french.time_of_day(booking.starts_at, tz),
                    "end_text": french.time_of_day(booking.ends_at, tz),
                    "when_text": french.moment(booking.starts_at, tz),
                },
                link="/bookings",
                at=at,
                dedupe_key=key,
            )
        )
    return made


def _machine_name(session: Session, slug: str) -> str:
    record = session.get(MachineRecord, slug)
    return record.name if record is not None else slug
