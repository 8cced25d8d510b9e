"""Trainings and their sessions: create them, enrol people, validate who attended (which
grants the authorisations), and the authorisations about to expire. Staff (facilitators
run sessions); :mod:`fabqueue.services.trainings` decides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.models.trainings import SessionCreate, TrainingCreate
from fabqueue.services import training_desk, trainings
from fabqueue.services.errors import NotFound, ServiceError
from fabqueue.web.errors import FormError
from fabqueue.web.page import Page, site_tz
from fabqueue.web.routes.admin.access import IdPath, StaffPage, local_time, not_found, refusal
from jobs.base import MachineKind

router = APIRouter()

MAX_PLACES = 100


def _desk(page: Page, *, error: str | None = None, status: int = 200) -> Response:
    now = page.ctx.clock.now()
    names = {m.slug: m.name for m in page.ctx.profiles.machines.values()}
    with page.ctx.read_sessions() as session:
        known = training_desk.trainings(session)
        context = {
            "trainings": known,
            "unlocked": {t.id: [names.get(slug, slug) for slug in t.machines] for t in known},
            "sessions": training_desk.sessions(session, since=now - timedelta(days=1)),
            "expiring": training_desk.expiring(session, now),
            "machines": sorted(page.ctx.profiles.machines.values(), key=lambda m: m.name),
            "kinds": [k.value for k in MachineKind],
            "today": now.astimezone(site_tz(page.ctx)).date().isoformat(),
            "error": error,
        }
    return page.render("pages/admin/trainings.html", context, status=status)


def _desk_refused(page: Page) -> Callable[[ServiceError], Response]:
    """A refusal on the desk: the desk again, the reason above its forms."""
    return lambda exc: _desk(page, error=refusal(page, exc), status=exc.status_code)


@router.get("/admin/trainings")
def trainings_page(page: StaffPage) -> Response:
    return _desk(page)


def _months(page: Page, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise FormError(page.gettext("Months are a whole number (or empty)."))
    return int(text)


@router.post("/admin/trainings")
def create_training(
    page: StaffPage,
    name: Annotated[str, Form()] = "",
    unlocks: Annotated[list[str] | None, Form()] = None,
    validity_months: Annotated[str, Form()] = "",
    unused_months: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    chosen = unlocks or []
    kinds = [c.removeprefix("kind:") for c in chosen if c.startswith("kind:")]
    machines = [c for c in chosen if not c.startswith("kind:")]

    def change(session: Session) -> None:
        data = TrainingCreate(
            name=name,
            machines=machines,
            kinds=kinds,
            validity_months=_months(page, validity_months),
            unused_months=_months(page, unused_months),
        )
        trainings.create_training(session, data, page.me, page.ctx.clock.now())

    return page.act(csrf, idem, change, "/admin/trainings", _desk_refused(page))


@router.post("/admin/trainings/sessions")
def create_session(
    page: StaffPage,
    training_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
    day: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    places: Annotated[int, Form(ge=1, le=MAX_PLACES)] = 6,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> int | None:
        data = SessionCreate(
            starts_at=local_time(page, day, start),
            ends_at=local_time(page, day, end),
            places=places,
        )
        return trainings.create_session(
            session, training_id, data, page.me, page.ctx.clock.now()
        ).id

    return page.act(
        csrf,
        idem,
        change,
        lambda session_id: page.redirect(f"/admin/trainings/sessions/{session_id}"),
        _desk_refused(page),
    )


def _session(
    page: Page, session_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    with page.ctx.read_sessions() as session:
        detail = training_desk.session_detail(session, session_id)
        enrolled = {a.enrolment.member_id for a in detail.attendees}
        candidates = [m for m in training_desk.members(session) if m.id not in enrolled]
    started = detail.row.session.starts_at <= page.ctx.clock.now()
    return page.render(
        "pages/admin/session.html",
        {
            "detail": detail,
            "candidates": candidates,
            "started": started,
            "full": detail.row.enrolled >= detail.row.session.places,
            "error": error,
        },
        status=status,
    )


def _session_refused(page: Page, session_id: int) -> Callable[[ServiceError], Response]:
    """A refusal on a session's page: the page again, the reason above its forms."""
    return lambda exc: _session(page, session_id, error=refusal(page, exc), status=exc.status_code)


@router.get("/admin/trainings/sessions/{session_id}")
def session_page(session_id: IdPath, page: StaffPage) -> Response:
    try:
        return _session(page, session_id)
    except NotFound:
        return not_found(page, page.gettext("There is no such training session."))


@router.post("/admin/trainings/sessions/{session_id}/enrol")
def enrol(
    session_id: IdPath,
    page: StaffPage,
    member_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        trainings.enrol(session, session_id, member_id, page.me, page.ctx.clock.now())

    return page.act(
        csrf,
        idem,
        change,
        f"/admin/trainings/sessions/{session_id}",
        _session_refused(page, session_id),
    )


@router.post("/admin/trainings/sessions/{session_id}/validate")
def validate(
    session_id: IdPath,
    page: StaffPage,
    member_id: Annotated[list[int] | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """Who attended: one person (their row's button) or everyone enrolled."""

    def change(session: Session) -> None:
        ids = member_id or [e.member_id for e in trainings.enrolments(session, session_id)]
        trainings.validate(session, session_id, ids, page.me, page.ctx.clock.now())

    return page.act(
        csrf,
        idem,
        change,
        f"/admin/trainings/sessions/{session_id}",
        _session_refused(page, session_id),
    )
