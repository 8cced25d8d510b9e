"""« Réserver »: a machine's week (a day on a phone) as the member may book it, the
length to choose in a free range, and their bookings to move or cancel. Every rule is
the booking service's; a refusal shows its sentence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.models.bookings import BookingCreate
from fabqueue.services import bookings, members
from fabqueue.services.booking_rules import calendar_for, policy_of, tz_of
from fabqueue.services.errors import Invalid, ServiceError
from fabqueue.services.hours import Calendar
from fabqueue.web.page import Page
from fabqueue.web.routes.member.access import HOME, MemberPage, refusal_words

router = APIRouter()

BOOK = HOME + "/book"
MINE = HOME + "/bookings"


def _day(text: str | None, today: date) -> date:
    """The first day shown: the one asked for, within a year of today (else today)."""
    if not text:
        return today
    try:
        asked = date.fromisoformat(text)
    except ValueError:
        return today
    return asked if abs((asked - today).days) <= 366 else today


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid("heure de début illisible") from None
    if at.tzinfo is None:
        raise Invalid("heure de début sans fuseau horaire")
    return at


def _machine_for(rights: list[members.MachineRight], wanted: str | None) -> str | None:
    bookable = [r for r in rights if r.bookable]
    if wanted and any(r.slug == wanted for r in bookable):
        return wanted
    allowed = [r for r in bookable if r.allowed]
    chosen = allowed or bookable
    return chosen[0].slug if chosen else None


@router.get(BOOK)
def week_page(page: MemberPage, machine: str | None = None, day: str | None = None) -> Response:
    assert page.user is not None
    now = page.ctx.clock.now()
    today = now.astimezone(tz_of(page.ctx.profiles)).date()
    first = _day(day, today)
    with page.ctx.read_sessions() as session:
        rights = members.rights(session, page.ctx.profiles, page.user, now)
        slug = _machine_for(rights, machine)
        days = members.week(session, page.ctx.profiles, page.user, slug, first, now) if slug else []
    right = next((r for r in rights if r.slug == slug), None)
    return page.render(
        "pages/member/book.html",
        {
            "rights": [r for r in rights if r.bookable],
            "machine": right,
            "days": days,
            "first": first,
            "today": today,
            "prev_week": first - timedelta(days=7),
            "next_week": first + timedelta(days=7),
            "prev_day": first - timedelta(days=1),
            "next_day": first + timedelta(days=1),
        },
    )


@dataclass(frozen=True)
class Choice:
    """A free range and what the member may choose inside it."""

    machine: members.MachineRight
    starts: list[datetime]
    lengths: list[int]
    chosen: datetime
    free_until: datetime


def _choice(session: Session, page: Page, machine: str, at: datetime) -> Choice | None:
    assert page.user is not None
    now = page.ctx.clock.now()
    profiles = page.ctx.profiles
    cal = calendar_for(profiles, machine)
    local_day = at.astimezone(cal.tz).date()
    rights = members.rights(session, profiles, page.user, now)
    right = next((r for r in rights if r.slug == machine), None)
    if right is None:
        return None
    (day,) = members.week(session, profiles, page.user, machine, local_day, now, days=1)
    segment = next(
        (s for s in day.segments if s.status == "free" and s.starts_at <= at < s.ends_at), None
    )
    if segment is None:
        return None
    policy = policy_of(profiles)
    step = timedelta(minutes=policy.slot_minutes)
    starts, t = [], _on_grid(cal, segment.starts_at, policy.slot_minutes)
    while t + timedelta(minutes=policy.min_minutes) <= segment.ends_at:
        starts.append(t)
        t += step
    if not starts:
        return None
    chosen = next((t for t in starts if t >= at), starts[-1])
    free_minutes = (segment.ends_at - chosen).total_seconds() / 60
    return Choice(right, starts, members.lengths(profiles, free_minutes), chosen, segment.ends_at)


def _on_grid(cal: Calendar, at: datetime, slot_minutes: int) -> datetime:
    """The first slot boundary at or after ``at`` (a free range may begin off the grid:
    "now plus the last-minute delay")."""
    t = at.replace(second=0, microsecond=0)
    if t < at:
        t += timedelta(minutes=1)
    return t + timedelta(minutes=-cal.minutes_into_day(t) % slot_minutes)


def _choose(
    page: Page, machine: str, at: datetime, error: str | None = None, status: int = 200
) -> Response:
    with page.ctx.read_sessions() as session:
        choice = _choice(session, page, machine, at)
    return page.render(
        "pages/member/choose.html",
        {"choice": choice, "error": error, "machine_slug": machine, "at": at},
        status=status if choice is not None or error else 404,
    )


@router.get(BOOK + "/new")
def choose_page(page: MemberPage, machine: str, start: str) -> Response:
    try:
        at = _instant(start)
    except Invalid as exc:
        return page.render(
            "pages/member/choose.html",
            {"choice": None, "error": refusal_words(exc.message), "machine_slug": machine},
            status=422,
        )
    return _choose(page, machine, at)


@router.post(MINE)
def book(
    page: MemberPage,
    machine: Annotated[str, Form()],
    starts_at: Annotated[str, Form()],
    minutes: Annotated[int, Form(ge=1, le=24 * 60)],
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> int | None:
        start = _instant(starts_at)
        data = BookingCreate(
            machine=machine, starts_at=start, ends_at=start + timedelta(minutes=minutes)
        )
        return bookings.create(session, page.ctx.profiles, data, page.me, page.ctx.clock.now()).id

    def refused(exc: ServiceError) -> Response:
        # An unreadable start (the refusal itself) shows the free ranges from now.
        try:
            at = _instant(starts_at)
        except Invalid:
            at = page.ctx.clock.now()
        return _choose(page, machine, at, refusal_words(exc.message), exc.status_code)

    return page.act(csrf, idem, change, lambda made: page.redirect(f"{MINE}?made={made}"), refused)


def _mine(page: Page, context: dict[str, Any] | None = None, status: int = 200) -> Response:
    assert page.user is not None
    now = page.ctx.clock.now()
    with page.ctx.read_sessions() as session:
        rows = members.upcoming_bookings(session, page.user, now)
        names = {r.slug: r.name for r in members.rights(session, page.ctx.profiles, page.user, now)}
    policy = policy_of(page.ctx.profiles)
    made = page.request.query_params.get("made")
    return page.render(
        "pages/member/bookings.html",
        {
            "bookings": rows,
            "names": names,
            "policy": policy,
            "made": int(made) if made and made.isdigit() else None,
            "feed": None,
            "error": None,
            "now": now,
            "change_deadline": timedelta(hours=policy.change_hours),
            **(context or {}),
        },
        status=status,
    )


@router.get(MINE)
def my_bookings(page: MemberPage) -> Response:
    return _mine(page)


@router.post(MINE + "/{booking_id}/cancel")
def cancel(
    booking_id: int,
    page: MemberPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        bookings.cancel(session, page.ctx.profiles, booking_id, page.me, page.ctx.clock.now())

    return page.act(
        csrf,
        idem,
        change,
        MINE,
        lambda exc: _mine(page, {"error": refusal_words(exc.message)}, exc.status_code),
    )


def _move_form(
    page: Page, booking_id: int, error: str | None = None, status: int = 200
) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        b = bookings.get(session, booking_id, page.user)
        session.expunge(b)
    policy = policy_of(page.ctx.profiles)
    tz = tz_of(page.ctx.profiles)
    minutes = int((b.ends_at - b.starts_at).total_seconds() // 60)
    return page.render(
        "pages/member/move.html",
        {
            "booking": b,
            "machine_name": page.ctx.profiles.machines[b.machine].name
            if b.machine in page.ctx.profiles.machines
            else b.machine,
            "day": b.starts_at.astimezone(tz).date().isoformat(),
            "start": b.starts_at.astimezone(tz).strftime("%H:%M"),
            "minutes": minutes,
            "lengths": members.lengths(page.ctx.profiles, policy.max_minutes),
            "step_s": policy.slot_minutes * 60,
            "error": error,
        },
        status=status,
    )


@router.get(MINE + "/{booking_id}/move")
def move_page(booking_id: int, page: MemberPage) -> Response:
    return _move_form(page, booking_id)


def _local(page: Page, day: str, start: str) -> datetime:
    try:
        d, t = date.fromisoformat(day), time.fromisoformat(start)
    except ValueError:
        raise Invalid("choisissez un jour et une heure") from None
    return datetime.combine(d, t, tzinfo=tz_of(page.ctx.profiles)).astimezone(UTC)


@router.post(MINE + "/{booking_id}/move")
def move(
    booking_id: int,
    page: MemberPage,
    day: Annotated[str, Form()],
    start: Annotated[str, Form()],
    minutes: Annotated[int, Form(ge=1, le=24 * 60)],
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        at = _local(page, day, start)
        bookings.move(
            session,
            page.ctx.profiles,
            booking_id,
            at,
            at + timedelta(minutes=minutes),
            page.me,
            page.ctx.clock.now(),
        )

    return page.act(
        csrf,
        idem,
        change,
        MINE,
        lambda exc: _move_form(page, booking_id, refusal_words(exc.message), exc.status_code),
    )


@router.post(HOME + "/calendar")
def calendar_link(
    page: MemberPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """A new personal feed address; the previous ones stop working (it is shown once)."""

    def change(session: Session) -> str:
        return members.renew_calendar(session, page.me, page.ctx.clock.now())

    def shown(token: str) -> Response:
        base = str(page.request.base_url).rstrip("/")
        return _mine(page, {"feed": f"{base}/api/v1/calendars/{token}.ics"})

    return page.act(csrf, idem, change, shown)
