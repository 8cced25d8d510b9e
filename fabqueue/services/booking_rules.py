"""The booking rules, one function each, run in order by ``refusal``.

Each rule returns, in words a member understands, why a booking may not be made, or
None. Members are held to every rule; staff to none of the deadlines and limits (they
book for members and fix what needs fixing), but to the hours, blocks and overlaps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from fabqueue.models import BlockedTime, Booking, MachineRecord, User
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.booking import BookingPolicy, MachineBooking
from fabqueue.services import french
from fabqueue.services.errors import Forbidden, ServiceError
from fabqueue.services.hours import DEFAULT_TZ, Calendar, covers
from fabqueue.services.trainings import MachineRef, usage_problem


class Refused(ServiceError):
    """A booking rule says no. ``rule`` names it for programs; the message is for people."""

    status_code = 422


_STATUS = {"authorisation": 403, "machine_overlap": 409, "member_overlap": 409, "blocked": 409}


def refused(rule: str, message: str) -> Refused:
    err = Refused(message, rule=rule)
    err.status_code = _STATUS.get(rule, 422)
    return err


# --- the café's calendar ----------------------------------------------------------------


def policy_of(profiles: ProfileSet) -> BookingPolicy:
    return profiles.site.booking if profiles.site is not None else BookingPolicy()


def tz_of(profiles: ProfileSet) -> ZoneInfo:
    return profiles.site.tz if profiles.site is not None else ZoneInfo(DEFAULT_TZ)


def machine_booking(profiles: ProfileSet, slug: str) -> MachineBooking:
    profile = profiles.machines.get(slug)
    return profile.booking if profile is not None else MachineBooking()


def calendar_for(profiles: ProfileSet, slug: str) -> Calendar:
    return Calendar(policy_of(profiles), tz_of(profiles), machine_booking(profiles, slug).hours)


# --- the rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """Everything the rules look at."""

    session: Session
    profiles: ProfileSet
    cal: Calendar
    machine: MachineRef
    member: User
    by: User
    starts_at: datetime
    ends_at: datetime
    now: datetime
    replacing: int | None = None
    """The booking being moved: it does not collide with itself."""

    @property
    def privileged(self) -> bool:
        return self.by.is_staff

    @property
    def tz(self) -> ZoneInfo:
        return self.cal.tz

    def live(self) -> SelectOfScalar[Booking]:
        """Bookings that still hold their time (not cancelled, not the one moved)."""
        q = select(Booking).where(col(Booking.cancelled_at).is_(None))
        if self.replacing is not None:
            q = q.where(Booking.id != self.replacing)
        return q


Rule = Callable[[Attempt], str | None]

MAX_SPAN = timedelta(hours=24)
"""No booking is longer, staff's included (longer is blocked time): so a booking that
overlaps a range starts less than this before it, and the (machine, starts_at) and
(member_id, starts_at) indexes find it in a short range scan."""


def overlapping(
    q: SelectOfScalar[Booking], start: datetime, end: datetime
) -> SelectOfScalar[Booking]:
    return (
        q.where(Booking.starts_at < end)
        .where(Booking.starts_at > start - MAX_SPAN)
        .where(Booking.ends_at > start)
    )


def _bookable(a: Attempt) -> str | None:
    if not machine_booking(a.profiles, a.machine.slug).bookable:
        return f"« {a.machine.name} » ne se réserve pas"
    return None


def _shape(a: Attempt) -> str | None:
    p = a.cal.policy
    if a.ends_at <= a.starts_at:
        return "la fin de la réservation doit venir après son début"
    for at in (a.starts_at, a.ends_at):
        if a.cal.minutes_into_day(at) % p.slot_minutes or at.second or at.microsecond:
            return f"les réservations commencent et finissent par pas de {p.slot_minutes} min"
    if a.ends_at - a.starts_at > MAX_SPAN:
        return "une réservation dure au plus 24 h ; pour plus, l'équipe bloque la machine"
    if a.privileged:
        return None
    minutes = (a.ends_at - a.starts_at).total_seconds() / 60
    if minutes < p.min_minutes:
        return f"une réservation dure au moins {french.hours(p.min_minutes)}"
    if minutes > p.max_minutes:
        return f"une réservation dure au plus {french.hours(p.max_minutes)}"
    return None


def _authorised(a: Attempt) -> str | None:
    return usage_problem(a.session, a.member, a.machine, a.starts_at, a.tz)


def _window(a: Attempt) -> str | None:
    if a.privileged:
        # Staff may book the slot under way for a member who walks in.
        return "ce créneau est déjà passé" if a.ends_at <= a.now else None
    if a.starts_at < a.now:
        return "ce créneau est déjà passé"
    p = a.cal.policy
    if a.starts_at < a.now + timedelta(minutes=p.last_minute_minutes):
        return (
            f"on réserve au plus tard {french.hours(p.last_minute_minutes)} "
            "avant le début du créneau"
        )
    if a.starts_at > a.now + timedelta(days=p.days_ahead):
        return f"on réserve au plus {p.days_ahead} jours à l'avance"
    return None


def _open(a: Attempt) -> str | None:
    margin = timedelta(days=1)
    if covers(a.cal.open_ranges(a.starts_at - margin, a.ends_at + margin), a.starts_at, a.ends_at):
        return None
    for _, why in a.cal.closures(a.starts_at, a.ends_at):
        return f"le café est fermé {french.span(a.starts_at, a.ends_at, a.tz)} ({why})"
    return (
        f"« {a.machine.name} » n'est pas disponible "
        f"{french.span(a.starts_at, a.ends_at, a.tz)} : en dehors des heures d'ouverture"
    )


def _not_blocked(a: Attempt) -> str | None:
    row = a.session.exec(
        select(BlockedTime)
        .where(BlockedTime.machine == a.machine.slug)
        .where(col(BlockedTime.cancelled_at).is_(None))
        .where(BlockedTime.starts_at < a.ends_at)
        .where(BlockedTime.ends_at > a.starts_at)
    ).first()
    if row is None:
        return None
    return (
        f"« {a.machine.name} » est réservée par l'équipe "
        f"{french.span(row.starts_at, row.ends_at, a.tz)} ({row.reason})"
    )


def _machine_free(a: Attempt) -> str | None:
    q = a.live().where(Booking.machine == a.machine.slug)
    row = a.session.exec(overlapping(q, a.starts_at, a.ends_at)).first()
    if row is None:
        return None
    return f"« {a.machine.name} » est déjà réservée {french.span(row.starts_at, row.ends_at, a.tz)}"


def _member_free(a: Attempt) -> str | None:
    q = a.live().where(Booking.member_id == a.member.id)
    row = a.session.exec(overlapping(q, a.starts_at, a.ends_at)).first()
    if row is None:
        return None
    return (
        f"vous avez déjà une réservation {french.span(row.starts_at, row.ends_at, a.tz)} "
        f"sur « {row.machine} »"
    )


def _weekly(a: Attempt) -> str | None:
    if a.privileged:
        return None
    limit = a.cal.policy.max_hours_per_week
    week_start, week_end = a.cal.week_of(a.starts_at)
    q = a.live().where(Booking.member_id == a.member.id)
    rows = a.session.exec(
        q.where(Booking.starts_at >= week_start).where(Booking.starts_at < week_end)
    ).all()
    used = sum((b.ends_at - b.starts_at).total_seconds() for b in rows) / 3600
    wanted = (a.ends_at - a.starts_at).total_seconds() / 3600
    if used + wanted > limit + 1e-9:
        left = max(0.0, limit - used)
        return (
            f"vous pouvez réserver {french.hours(limit * 60)} par semaine ; "
            f"il vous en reste {french.hours(left * 60)} cette semaine-là"
        )
    return None


SETTLED: tuple[tuple[str, Rule], ...] = (
    ("bookable", _bookable),
    ("shape", _shape),
    ("authorisation", _authorised),
    ("window", _window),
    ("hours", _open),
)
"""Rules about the asker and the calendar: no concurrent booking changes their answer."""
CONTENDED: tuple[tuple[str, Rule], ...] = (
    ("blocked", _not_blocked),
    ("machine_overlap", _machine_free),
    ("member_overlap", _member_free),
    ("weekly_limit", _weekly),
)
"""Rules other bookings change: checked in the transaction that writes the booking."""
RULES = SETTLED + CONTENDED


def refusal(a: Attempt, rules: tuple[tuple[str, Rule], ...] = RULES) -> tuple[str, str] | None:
    """The first rule ``a`` breaks, as (rule, message in French), or None: it may be booked."""
    for name, rule in rules:
        message = rule(a)
        if message is not None:
            return name, message
    return None


def ensure_may_submit(
    session: Session,
    profiles: ProfileSet,
    owner: User,
    targets: Sequence[MachineRecord],
    at: datetime,
) -> None:
    """A member submits only for machines they may use; a job for "any machine of a kind"
    needs every machine of it, since the queue may give it to any."""
    tz = tz_of(profiles)
    problems = {
        r.slug: usage_problem(session, owner, MachineRef(r.slug, r.kind.value, r.name), at, tz)
        for r in targets
    }
    allowed = [slug for slug, p in problems.items() if p is None]
    if len(allowed) == len(problems):
        return
    if allowed:
        names = ", ".join(f"« {s} »" for s in allowed)
        raise Forbidden(f"choisissez une machine sur laquelle vous êtes habilité : {names}")
    raise Forbidden(next(p for p in problems.values() if p is not None), rule="authorisation")
