"""Booking machine time: every rule in one place, checked on the server.

``booking_rules.refusal`` runs the rules in order and says, in French, the first one a
booking breaks; ``create``, ``move`` and the pages' "can I book this?" all go through it.
Bookings are never deleted: cancel, move and no-show each leave a ``BookingEvent`` with its actor.

Overlaps under concurrency: on SQLite every write session holds the database's writer
lock from its first statement (``BEGIN IMMEDIATE``), so the overlap check and the insert
cannot interleave with another booking's; on PostgreSQL the exclusion constraints of
migration 0008 refuse the loser at insert time, which is turned into the same 409.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from fabqueue.events import queue_bus_event
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
from fabqueue.services import french
from fabqueue.services.booking_rules import (
    CONTENDED,
    RULES,
    SETTLED,
    Attempt,
    Refused,
    Rule,
    calendar_for,
    ensure_may_submit,
    machine_booking,
    policy_of,
    refusal,
    refused,
    tz_of,
)
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound
from fabqueue.services.hours import Calendar
from fabqueue.services.trainings import actor, machine_ref
from fabqueue.states import ACTIVE_STATES

__all__ = [
    "Attempt",
    "Refused",
    "calendar_for",
    "ensure_may_submit",
    "machine_booking",
    "policy_of",
    "refusal",
    "tz_of",
]

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


class _Contended(Exception):
    """PostgreSQL chose this transaction as a deadlock's victim: two bookings raced on
    both constraints (machine and member). Trying again sees the winner's booking."""


DEADLOCK = "40P01"
TRIES = 3


def _save(session: Session) -> None:
    """Flush, turning PostgreSQL's exclusion constraint into the rule's refusal."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if "booking_no_overlap_member" in str(exc.orig):
            raise refused(
                "member_overlap", "vous venez de réserver une autre machine à ces heures-là"
            ) from exc
        raise refused(
            "machine_overlap", "ce créneau vient d'être réservé par quelqu'un d'autre"
        ) from exc
    except OperationalError as exc:
        session.rollback()
        if getattr(exc.orig, "sqlstate", None) == DEADLOCK:
            raise _Contended from exc
        raise


def _retrying(fn: Callable[[], Booking]) -> Booking:
    for _ in range(TRIES - 1):
        try:
            return fn()
        except _Contended:
            continue
    try:
        return fn()
    except _Contended as exc:
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


def check(a: Attempt, rules: tuple[tuple[str, Rule], ...] = RULES) -> None:
    found = refusal(a, rules)
    if found is not None:
        raise refused(*found)


def _checked(a: Attempt, write: Session, read: Session | None) -> Attempt:
    """Run every rule; with a ``read`` session the settled ones run there first, so a
    refusal costs no write lock and the lock is held only for the contended ones."""
    if read is None:
        check(a)
        return a
    check(a, SETTLED)
    a = replace(a, session=write)
    check(a, CONTENDED)
    return a


def create(
    session: Session,
    profiles: ProfileSet,
    data: BookingCreate,
    by: User,
    now: datetime,
    *,
    read: Session | None = None,
) -> Booking:
    """Book ``data.machine`` for ``by`` (or, staff only, for ``data.member_id``).

    ``read``: a read-only session for the rules no other booking can change."""
    return _retrying(lambda: _create(session, profiles, data, by, now, read))


def _create(
    session: Session,
    profiles: ProfileSet,
    data: BookingCreate,
    by: User,
    now: datetime,
    read: Session | None,
) -> Booking:
    assert by.id is not None
    looking = read or session
    member = by
    if data.member_id is not None and data.member_id != by.id:
        if not by.is_staff:
            raise Forbidden("seule l'équipe peut réserver pour quelqu'un d'autre")
        member = _user(looking, data.member_id)
    a = _attempt(
        looking,
        profiles,
        machine=data.machine,
        member=member,
        by=by,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        now=now,
    )
    a = _checked(a, session, read)
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
    _save(session)
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
    return _retrying(lambda: _move(session, profiles, booking_id, starts_at, ends_at, by, now))


def _move(
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
    _save(session)
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
    if not viewer.is_staff:
        if member_id is not None and member_id != viewer.id:
            raise Forbidden("on ne voit que ses propres réservations")
        if machine is None:
            member_id = viewer.id
    if member_id is not None:
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


def blocks(
    session: Session, *, machine: str | None, starts: datetime | None, ends: datetime | None
) -> list[BlockedTime]:
    """Live blocked time (members see it as « blocked » in the availability, with why)."""
    q = select(BlockedTime).where(col(BlockedTime.cancelled_at).is_(None))
    if machine is not None:
        q = q.where(BlockedTime.machine == machine)
    if starts is not None:
        q = q.where(BlockedTime.ends_at > _aware(starts, "from"))
    if ends is not None:
        q = q.where(BlockedTime.starts_at < _aware(ends, "to"))
    return list(session.exec(q.order_by(col(BlockedTime.starts_at))))


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


OVERRUN_LOOKBACK = timedelta(hours=12)


def _overrunning(session: Session, now: datetime) -> list[tuple[Booking, Job]]:
    ended = session.exec(
        select(Booking)
        .where(col(Booking.cancelled_at).is_(None), col(Booking.overrun_job_id).is_(None))
        .where(Booking.ends_at <= now, Booking.ends_at > now - OVERRUN_LOOKBACK)
    ).all()
    found = []
    for b in ended:
        job = session.exec(
            select(Job)
            .where(Job.machine == b.machine, Job.owner_id == b.member_id)
            .where(col(Job.state).in_([s.value for s in ACTIVE_STATES]))
        ).first()
        if job is not None:
            found.append((b, job))
    return found


def overruns_pending(session: Session, now: datetime) -> bool:
    """Is there a booking to flag? (Asked on a read session, so the watcher takes the
    write lock only when there is.)"""
    return bool(_overrunning(session, now))


def flag_overruns(session: Session, now: datetime, tz: ZoneInfo) -> list[Booking]:
    """Bookings that ended while their member's job still runs: the job goes on (it is
    never stopped), the booking is flagged, and the next booking's owner is told."""
    flagged = []
    for b, job in _overrunning(session, now):
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
                    f"le travail en cours sur « {b.machine} » dépasse la réservation qui "
                    f"finissait à {french.hour(b.ends_at, tz)} : il n'est pas interrompu ; "
                    f"{_eta_words(job)}"
                ),
            },
        )
        flagged.append(b)
    return flagged


def _eta_words(job: Job) -> str:
    if job.eta_s:
        return f"il reste environ {french.hours(job.eta_s / 60)}"
    return "on ne sait pas encore quand il finira"
