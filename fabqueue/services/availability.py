"""What a machine's time looks like to one person: free ranges, and why the rest is not.

``paint`` is pure (tested with tables); ``machine_availability`` reads the database.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import String, type_coerce
from sqlmodel import Session, col, select

from fabqueue.models import BlockedTime, Booking, User
from fabqueue.services.booking_rules import MAX_SPAN
from fabqueue.services.errors import Invalid
from fabqueue.services.hours import Calendar, Range, subtract

Status = Literal["free", "closed", "blocked", "booked", "beyond_window"]
MAX_QUERY_DAYS = 92


@dataclass(frozen=True)
class Segment:
    starts_at: datetime
    ends_at: datetime
    status: Status
    reason: str | None = None
    """In French, for members; None when free."""
    mine: bool = False
    """A range booked by the person asking."""


@dataclass(frozen=True)
class Busy:
    range: Range
    owner_id: int


def window(
    cal: Calendar, now: datetime, start: datetime, end: datetime, *, staff: bool
) -> list[tuple[Range, str]]:
    """Time the person may not book because of when it is: past, last minute, too far."""
    out: list[tuple[Range, str]] = []
    if staff:
        if start < now:
            out.append(((start, min(now, end)), "passé"))
        return out
    soon = now + timedelta(minutes=cal.policy.last_minute_minutes)
    if start < soon:
        why = "passé" if soon == now else "trop tard pour réserver"
        out.append(((start, min(soon, end)), why))
    far = now + timedelta(days=cal.policy.days_ahead)
    if end > far:
        out.append(((max(far, start), end), f"au-delà de {cal.policy.days_ahead} jours"))
    return out


def paint(
    cal: Calendar,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    blocked: Sequence[tuple[Range, str]],
    booked: Sequence[Busy],
    viewer_id: int | None,
    staff: bool,
) -> list[Segment]:
    """Cut [start, end) into free and unavailable ranges, each with its reason."""
    hours = cal.open_ranges(start, end, closures=False)
    layers: list[tuple[Status, list[tuple[Range, str, bool]]]] = [
        ("beyond_window", [(r, w, False) for r, w in window(cal, now, start, end, staff=staff)]),
        ("booked", [(b.range, "déjà réservé", b.owner_id == viewer_id) for b in booked]),
        ("blocked", [(r, why, False) for r, why in blocked]),
        (
            "closed",
            [(r, "fermé", False) for r in subtract([(start, end)], hours)]
            + [(r, why, False) for r, why in cal.closures(start, end)],
        ),
    ]
    # On POSIX seconds: comparing aware datetimes asks their zone each time, and a month
    # of a busy machine is thousands of comparisons.
    lo_t, hi_t = start.timestamp(), end.timestamp()
    points = {lo_t, hi_t}
    spans: list[tuple[Status, list[tuple[float, float, str, bool]]]] = []
    for status, items in layers:
        flat = [(s.timestamp(), e.timestamp(), why, mine) for (s, e), why, mine in items]
        for s_t, e_t, _, _ in flat:
            points.add(s_t)
            points.add(e_t)
        spans.append((status, flat))
    cuts = sorted(p for p in points if lo_t <= p <= hi_t)
    marks: list[tuple[Status, str | None, bool]] = [("free", None, False)] * (len(cuts) - 1)
    # Lowest priority first: a closed day that is also booked reads "closed".
    for status, flat in spans:
        for s_t, e_t, why, mine in flat:
            mark = (status, "votre réservation" if mine else why, mine)
            for i in range(bisect_left(cuts, max(s_t, lo_t)), bisect_left(cuts, min(e_t, hi_t))):
                marks[i] = mark
    return _joined(cuts, marks)


def _joined(cuts: list[float], marks: list[tuple[Status, str | None, bool]]) -> list[Segment]:
    out: list[Segment] = []
    first = 0
    for i in range(1, len(marks) + 1):
        # Runs of equal marks become one segment (made once: most cuts are inside runs).
        if i == len(marks) or marks[i] != marks[first]:
            status, why, mine = marks[first]
            out.append(Segment(_at(cuts[first]), _at(cuts[i]), status, why, mine))
            first = i
    return out


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("times need a time zone (e.g. 2026-03-03T14:00:00+01:00)")
    if end <= start:
        raise Invalid("the range ends before it starts")
    if end - start > timedelta(days=MAX_QUERY_DAYS):
        raise Invalid(f"ask for at most {MAX_QUERY_DAYS} days at a time")


def _instant(value: datetime | str) -> datetime:
    """A stored time without the column type's per-row processing (the busy-range
    query reads hundreds of rows): SQLite hands back its text, PostgreSQL a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def busy_ranges(session: Session, machine: str, start: datetime, end: datetime) -> list[Busy]:
    rows = session.exec(
        select(
            type_coerce(Booking.starts_at, String),
            type_coerce(Booking.ends_at, String),
            Booking.member_id,
        )
        .where(Booking.machine == machine)
        .where(col(Booking.cancelled_at).is_(None))
        .where(Booking.starts_at < end)
        .where(Booking.starts_at > start - MAX_SPAN)
        .where(Booking.ends_at > start)
    )
    return [Busy((_instant(s), _instant(e)), m) for s, e, m in rows]


def blocked_ranges(
    session: Session, machine: str, start: datetime, end: datetime
) -> list[tuple[Range, str]]:
    rows = session.exec(
        select(BlockedTime.starts_at, BlockedTime.ends_at, BlockedTime.reason)
        .where(BlockedTime.machine == machine)
        .where(col(BlockedTime.cancelled_at).is_(None))
        .where(BlockedTime.starts_at < end)
        .where(BlockedTime.ends_at > start)
    )
    return [((s, e), why) for s, e, why in rows]


def machine_availability(
    session: Session,
    cal: Calendar,
    machine: str,
    viewer: User,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Segment]:
    check_range(start, end)
    return paint(
        cal,
        start,
        end,
        now=now,
        blocked=blocked_ranges(session, machine, start, end),
        booked=busy_ranges(session, machine, start, end),
        viewer_id=viewer.id,
        staff=viewer.is_staff,
    )
