"""iCalendar feeds (RFC 5545): one per machine, one per member, behind a secret token.

The token is in the feed's address, because calendar apps cannot send a header; only
its sha256 is stored, and revoking it ends the feed. Times are written in the café's
time zone with its VTIMEZONE, so a phone shows 14:00 on both sides of a clock change.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar as ICal
from icalendar import Event
from sqlmodel import Session, col, select

from fabqueue.models import BlockedTime, Booking, CalendarToken, MachineRecord, User
from fabqueue.services.errors import Forbidden, Invalid, NotFound

TOKEN_PREFIX = "cal_"
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=366)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, by: User, *, machine: str | None, member_id: int | None, at: datetime
) -> tuple[CalendarToken, str]:
    """A new feed address for a machine (anyone may follow when it is busy) or a member
    (themself, or staff for them). Returns the row and the token, shown once."""
    if (machine is None) == (member_id is None):
        raise Invalid("a feed is for one machine or one member")
    if machine is not None and session.get(MachineRecord, machine) is None:
        raise NotFound(f"no machine {machine!r}")
    if member_id is not None:
        if member_id != by.id and not by.is_staff:
            raise Forbidden("on ne s'abonne qu'à ses propres réservations")
        if session.get(User, member_id) is None:
            raise NotFound(f"no user {member_id}")
    assert by.id is not None
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    row = CalendarToken(
        token_hash=_hash(token),
        machine=machine,
        member_id=member_id,
        created_by=by.id,
        created_at=at,
    )
    session.add(row)
    session.commit()
    return row, token


def revoke_token(session: Session, token_id: int, by: User, at: datetime) -> CalendarToken:
    row = session.get(CalendarToken, token_id)
    if row is None:
        raise NotFound(f"no calendar feed {token_id}")
    if not by.is_staff and by.id not in (row.created_by, row.member_id):
        raise Forbidden("ce flux n'est pas le vôtre")
    if row.revoked_at is None:
        row.revoked_at = at
        session.add(row)
        session.commit()
    return row


def _feed_token(session: Session, token: str) -> CalendarToken:
    row = session.exec(
        select(CalendarToken)
        .where(CalendarToken.token_hash == _hash(token))
        .where(col(CalendarToken.revoked_at).is_(None))
    ).first()
    if row is None:
        raise NotFound("no such calendar feed (revoked?)")
    return row


def _event(
    uid: str, start: datetime, end: datetime, summary: str, tz: ZoneInfo, at: datetime
) -> Event:
    e = Event()
    e.add("uid", uid)
    e.add("dtstamp", at)
    e.add("dtstart", start.astimezone(tz))
    e.add("dtend", end.astimezone(tz))
    e.add("summary", summary)
    return e


def feed(
    session: Session, token: str, tz: ZoneInfo, now: datetime, host: str = "fabqueue"
) -> bytes:
    row = _feed_token(session, token)
    cal = ICal()
    cal.add("prodid", "-//fabqueue//bookings//FR")
    cal.add("version", "2.0")
    q = (
        select(Booking)
        .where(col(Booking.cancelled_at).is_(None))
        .where(Booking.ends_at > now - FEED_PAST, Booking.starts_at < now + FEED_AHEAD)
        .order_by(col(Booking.starts_at))
    )
    if row.machine is not None:
        cal.add("x-wr-calname", f"Réservations {row.machine}")
        for b in session.exec(q.where(Booking.machine == row.machine)):
            # A shared machine feed says when, never who.
            cal.add_component(
                _event(f"booking-{b.id}@{host}", b.starts_at, b.ends_at, "Réservé", tz, now)
            )
        blocks = session.exec(
            select(BlockedTime)
            .where(BlockedTime.machine == row.machine, col(BlockedTime.cancelled_at).is_(None))
            .where(BlockedTime.ends_at > now - FEED_PAST)
        )
        for bl in blocks:
            cal.add_component(
                _event(
                    f"block-{bl.id}@{host}",
                    bl.starts_at,
                    bl.ends_at,
                    f"Indisponible : {bl.reason}",
                    tz,
                    now,
                )
            )
    else:
        cal.add("x-wr-calname", "Mes réservations")
        for b in session.exec(q.where(Booking.member_id == row.member_id)):
            cal.add_component(
                _event(
                    f"booking-{b.id}@{host}",
                    b.starts_at,
                    b.ends_at,
                    f"Réservation {b.machine}",
                    tz,
                    now,
                )
            )
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
