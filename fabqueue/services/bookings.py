"""Booking machine time: every rule in one place, checked on the server.

``refusal`` runs the rules in order and says, in French, the first one a booking breaks;
``create``, ``move`` and the pages' "can I book this?" all go through it. Bookings are
never deleted: cancel, move and no-show each leave a ``BookingEvent`` with its actor.

Overlaps under concurrency: on SQLite every write session holds the database's writer
lock from its first statement (``BEGIN IMMEDIATE``), so the overlap check and the insert
cannot interleave with another booking's; on PostgreSQL the exclusion constraints of
migration 0008 refuse the loser at insert time, which is turned into the same 409.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from fabqueue.models import (
    BlockedTime,
    Booking,
    BookingAction,
    BookingEvent,
    Job,
    MachineRecord,
    User,
)
from fabqueue.models.bookings import BlockCreate, BookingCreate, BookingPublic
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.booking import BookingPolicy, MachineBooking
from fabqueue.services import french
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from fabqueue.services.hours import DEFAULT_TZ, Calendar, covers
from fabqueue.services.trainings import MachineRef, actor, machine_ref, usage_problem
from fabqueue.states import ACTIVE_STATES, queue_bus_event


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
    if a.starts_at < a.now:
        return "ce créneau est déjà passé"
    if a.privileged:
        return None
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
    row = a.session.exec(
        q.where(Booking.starts_at < a.ends_at).where(Booking.ends_at > a.starts_at)
    ).first()
    if row is None:
        return None
    return f"« {a.machine.name} » est déjà réservée {french.span(row.starts_at, row.ends_at, a.tz)}"


def _member_free(a: Attempt) -> str | None:
    q = a.live().where(Booking.member_id == a.member.id)
    row = a.session.exec(
        q.where(Booking.starts_at < a.ends_at).where(Booking.ends_at > a.starts_at)
    ).first()
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


RULES: tuple[tuple[str, Rule], ...] = (
    ("bookable", _bookable),
    ("shape", _shape),
    ("authorisation", _authorised),
    ("window", _window),
    ("hours", _open),
    ("blocked", _not_blocked),
    ("machine_overlap", _machine_free),
    ("member_overlap", _member_free),
    ("weekly_limit", _weekly),
)


def refusal(a: Attempt) -> tuple[str, str] | None:
    """The first rule ``a`` breaks, as (rule, message in French), or None: it may be booked."""
    for name, rule in RULES:
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


# --- acting on bookings -----------------------------------------------------------------


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None:
        raise Invalid(f"{what} needs a time zone (e.g. 2026-03-03T14:00:00+01:00)")
    return at


def _event(
    session: Session, b: Booking, action: BookingAction, by: str, at: datetime, why: str | None
) -> None:
    assert b.id is not None
    session.add(
        BookingEvent(
            booking_id=b.id,
            action=action,
            at=at,
            actor=by,
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            reason=why,
        )
    )
    queue_bus_event(
        session,
        "booking:changed",
        {"booking_id": b.id, "machine": b.machine, "action": action.value},
    )


def _save(session: Session, b: Booking) -> None:
    """Flush, turning PostgreSQL's exclusion constraint into the rule's refusal."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise refused(
            "machine_overlap", "ce créneau vient d'être réservé par quelqu'un d'autre"
        ) from exc


def _attempt(
    session: Session,
    profiles: ProfileSet,
    *,
    machine: str,
    member: User,
    by: User,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    replacing: int | None = None,
) -> Attempt:
    return Attempt(
        session=session,
        profiles=profiles,
        cal=calendar_for(profiles, machine),
        machine=machine_ref(session, machine),
        member=member,
        by=by,
        starts_at=_aware(starts_at, "starts_at"),
        ends_at=_aware(ends_at, "ends_at"),
        now=now,
        replacing=replacing,
    )


def check(a: Attempt) -> None:
    found = refusal(a)
    if found is not None:
        raise refused(*found)


def create(
    session: Session, profiles: ProfileSet, data: BookingCreate, by: User, now: datetime
) -> Booking:
    """Book ``data.machine`` for ``by`` (or, staff only, for ``data.member_id``)."""
    assert by.id is not None
    member = by
    if data.member_id is not None and data.member_id != by.id:
        if not by.is_staff:
            raise Forbidden("seule l'équipe peut réserver pour quelqu'un d'autre")
        member = _user(session, data.member_id)
    a = _attempt(
        session,
        profiles,
        machine=data.machine,
        member=member,
        by=by,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        now=now,
    )
    check(a)
    assert member.id is not None
    b = Booking(
        machine=data.machine,
        member_id=member.id,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        created_at=now,
        created_by=by.id,
        note=data.note[:500] if data.note else None,
    )
    session.add(b)
    _save(session, b)
    _event(session, b, BookingAction.created, actor(by), now, None)
    session.commit()
    return b


def get(session: Session, booking_id: int, viewer: User) -> Booking:
    b = session.get(Booking, booking_id)
    if b is None:
        raise NotFound(f"no booking {booking_id}")
    if not viewer.is_staff and b.member_id != viewer.id:
        raise Forbidden("cette réservation n'est pas la vôtre")
    return b


def _changeable(b: Booking, by: User, now: datetime, cal: Calendar, verb: str) -> None:
    if b.cancelled_at is not None:
        raise Conflict("cette réservation est annulée", state="cancelled")
    if by.is_staff:
        return
    if b.starts_at <= now:
        raise refused("change_deadline", f"on ne peut plus {verb} une réservation commencée")
    deadline = b.starts_at - timedelta(hours=cal.policy.change_hours)
    if now > deadline:
        raise refused(
            "change_deadline",
            f"on peut {verb} une réservation jusqu'à {french.hours(cal.policy.change_hours * 60)} "
            f"avant son début ; appelez l'équipe du café",
        )


def move(
    session: Session,
    profiles: ProfileSet,
    booking_id: int,
    starts_at: datetime,
    ends_at: datetime,
    by: User,
    now: datetime,
) -> Booking:
    b = get(session, booking_id, by)
    cal = calendar_for(profiles, b.machine)
    _changeable(b, by, now, cal, "déplacer")
    a = _attempt(
        session,
        profiles,
        machine=b.machine,
        member=_user(session, b.member_id),
        by=by,
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
        replacing=b.id,
    )
    check(a)
    before = french.span(b.starts_at, b.ends_at, cal.tz)
    b.starts_at, b.ends_at = a.starts_at, a.ends_at
    session.add(b)
    _save(session, b)
    _event(session, b, BookingAction.moved, actor(by), now, f"était {before}")
    session.commit()
    return b


def cancel(
    session: Session,
    profiles: ProfileSet,
    booking_id: int,
    by: User,
    now: datetime,
    reason: str | None = None,
) -> Booking:
    b = get(session, booking_id, by)
    _changeable(b, by, now, calendar_for(profiles, b.machine), "annuler")
    b.cancelled_at, b.cancelled_by = now, by.id
    session.add(b)
    _event(session, b, BookingAction.cancelled, actor(by), now, reason)
    session.commit()
    return b


def no_show(session: Session, booking_id: int, by: User, now: datetime) -> Booking:
    if not by.is_staff:
        raise Forbidden("réservé à l'équipe")
    b = get(session, booking_id, by)
    if b.cancelled_at is not None:
        raise Conflict("cette réservation est annulée", state="cancelled")
    if b.starts_at > now:
        raise Conflict("la réservation n'a pas encore commencé")
    if b.no_show_at is not None:
        raise Conflict("déjà marquée absente")
    b.no_show_at = now
    session.add(b)
    _event(session, b, BookingAction.no_show, actor(by), now, None)
    session.commit()
    return b


def history(session: Session, booking_id: int, viewer: User) -> list[BookingEvent]:
    get(session, booking_id, viewer)
    return list(
        session.exec(
            select(BookingEvent)
            .where(BookingEvent.booking_id == booking_id)
            .order_by(col(BookingEvent.id))
        )
    )


def listing(
    session: Session,
    viewer: User,
    *,
    machine: str | None = None,
    member_id: int | None = None,
    starts: datetime | None = None,
    ends: datetime | None = None,
    cancelled: bool = False,
    limit: int = 500,
) -> list[Booking]:
    """Staff see every booking. A member sees their own and, on a machine they name,
    when it is busy (``public`` hides who booked)."""
    q = select(Booking)
    if machine is not None:
        q = q.where(Booking.machine == machine)
    if not viewer.is_staff and machine is None:
        member_id = viewer.id
    if member_id is not None:
        if not viewer.is_staff and member_id != viewer.id:
            raise Forbidden("on ne voit que ses propres réservations")
        q = q.where(Booking.member_id == member_id)
    if not cancelled or not viewer.is_staff:
        q = q.where(col(Booking.cancelled_at).is_(None))
    if starts is not None:
        q = q.where(Booking.ends_at > _aware(starts, "from"))
    if ends is not None:
        q = q.where(Booking.starts_at < _aware(ends, "to"))
    return list(session.exec(q.order_by(col(Booking.starts_at), col(Booking.id)).limit(limit)))


def public(b: Booking, viewer: User, tz: ZoneInfo) -> BookingPublic:
    assert b.id is not None
    mine = b.member_id == viewer.id
    return BookingPublic(
        id=b.id,
        machine=b.machine,
        member_id=b.member_id if viewer.is_staff or mine else None,
        starts_at=b.starts_at,
        ends_at=b.ends_at,
        starts_local=b.starts_at.astimezone(tz).isoformat(),
        ends_local=b.ends_at.astimezone(tz).isoformat(),
        cancelled_at=b.cancelled_at,
        no_show_at=b.no_show_at,
        overrun_job_id=b.overrun_job_id,
        mine=mine,
    )


# --- staff-blocked time -------------------------------------------------------------------


def block(session: Session, data: BlockCreate, by: User, now: datetime) -> BlockedTime:
    if not by.is_staff:
        raise Forbidden("réservé à l'équipe")
    assert by.id is not None
    if session.get(MachineRecord, data.machine) is None:
        raise NotFound(f"no machine {data.machine!r}")
    start, end = _aware(data.starts_at, "starts_at"), _aware(data.ends_at, "ends_at")
    if end <= start:
        raise Invalid("the range ends before it starts")
    if not data.reason.strip():
        raise Invalid("say why the machine is blocked")
    clash = session.exec(
        select(Booking)
        .where(Booking.machine == data.machine, col(Booking.cancelled_at).is_(None))
        .where(Booking.starts_at < end, Booking.ends_at > start)
    ).all()
    if clash:
        raise Conflict(
            "members have booked this time: move or cancel their bookings first",
            bookings=[b.id for b in clash],
        )
    row = BlockedTime(
        machine=data.machine,
        starts_at=start,
        ends_at=end,
        reason=data.reason.strip()[:200],
        created_by=by.id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    queue_bus_event(session, "booking:blocked", {"machine": data.machine, "id": row.id})
    session.commit()
    return row


def unblock(session: Session, block_id: int, by: User, now: datetime) -> BlockedTime:
    if not by.is_staff:
        raise Forbidden("réservé à l'équipe")
    row = session.get(BlockedTime, block_id)
    if row is None:
        raise NotFound(f"no blocked time {block_id}")
    if row.cancelled_at is None:
        row.cancelled_at = now
        session.add(row)
        session.commit()
    return row


# --- the end of a booking while its owner's job still runs ------------------------------


def flag_overruns(session: Session, now: datetime, tz: ZoneInfo) -> list[Booking]:
    """Bookings that ended while their member's job still runs: the job goes on (it is
    never stopped), the booking is flagged, and the next booking's owner is told."""
    ended = session.exec(
        select(Booking)
        .where(col(Booking.cancelled_at).is_(None), col(Booking.overrun_job_id).is_(None))
        .where(Booking.ends_at <= now, Booking.ends_at > now - timedelta(hours=12))
    ).all()
    flagged = []
    for b in ended:
        job = session.exec(
            select(Job)
            .where(Job.machine == b.machine, Job.owner_id == b.member_id)
            .where(col(Job.state).in_([s.value for s in ACTIVE_STATES]))
        ).first()
        if job is None:
            continue
        b.overrun_job_id = job.id
        session.add(b)
        _event(session, b, BookingAction.overrun, "system", now, f"job {job.id} still running")
        nxt = session.exec(
            select(Booking)
            .where(Booking.machine == b.machine, col(Booking.cancelled_at).is_(None))
            .where(Booking.starts_at >= b.ends_at, Booking.id != b.id)
            .order_by(col(Booking.starts_at))
        ).first()
        queue_bus_event(
            session,
            "booking:overrun",
            {
                "machine": b.machine,
                "booking_id": b.id,
                "job_id": job.id,
                "next_booking_id": nxt.id if nxt else None,
                "next_member_id": nxt.member_id if nxt else None,
                "message": (
                    f"le travail en cours sur « {b.machine} » dépasse la réservation "
                    f"précédente : il n'est pas interrompu ; il reste "
                    f"{_eta_words(job)} environ"
                ),
            },
        )
        flagged.append(b)
    return flagged


def _eta_words(job: Job) -> str:
    return french.hours((job.eta_s or 0) / 60) if job.eta_s else "un temps inconnu"
