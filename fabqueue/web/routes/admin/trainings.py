"""Trainings and their sessions: create them, enrol people, validate who attended (which
grants the authorisations), and the authorisations about to expire. Staff (facilitators
run sessions); :mod:`fabqueue.services.trainings` decides."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from fabqueue.models.trainings import SessionCreate, TrainingCreate
from fabqueue.services import training_desk, trainings
from fabqueue.services.errors import NotFound, ServiceError
from fabqueue.web.page import Page, once, site_tz
from fabqueue.web.routes.admin.access import (
    FormProblem,
    IdPath,
    StaffPage,
    in_words,
    local_time,
    not_found,
)
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


@router.get("/admin/trainings")
def trainings_page(page: StaffPage) -> Response:
    return _desk(page)


def _months(page: Page, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise FormProblem(page.gettext("Months are a whole number (or empty)."))
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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user
    chosen = unlocks or []
    kinds = [c.removeprefix("kind:") for c in chosen if c.startswith("kind:")]
    machines = [c for c in chosen if not c.startswith("kind:")]

    def run() -> Response:
        try:
            data = TrainingCreate(
                name=name,
                machines=machines,
                kinds=kinds,
                validity_months=_months(page, validity_months),
                unused_months=_months(page, unused_months),
            )
            with page.ctx.sessions() as session:
                trainings.create_training(session, data, by, page.ctx.clock.now())
        except FormProblem as exc:
            return _desk(page, error=exc.message, status=422)
        except ServiceError as exc:
            return _desk(page, error=in_words(page, exc.message), status=exc.status_code)
        return page.redirect("/admin/trainings")

    return once(page, idem, run)


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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            data = SessionCreate(
                starts_at=local_time(page, day, start),
                ends_at=local_time(page, day, end),
                places=places,
            )
            with page.ctx.sessions() as session:
                ts = trainings.create_session(session, training_id, data, by, page.ctx.clock.now())
        except FormProblem as exc:
            return _desk(page, error=exc.message, status=422)
        except ServiceError as exc:
            return _desk(page, error=in_words(page, exc.message), status=exc.status_code)
        return page.redirect(f"/admin/trainings/sessions/{ts.id}")

    return once(page, idem, run)


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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            with page.ctx.sessions() as session:
                trainings.enrol(session, session_id, member_id, by, page.ctx.clock.now())
        except ServiceError as exc:
            return _session(
                page, session_id, error=in_words(page, exc.message), status=exc.status_code
            )
        return page.redirect(f"/admin/trainings/sessions/{session_id}")

    return once(page, idem, run)


@router.post("/admin/trainings/sessions/{session_id}/validate")
def validate(
    session_id: IdPath,
    page: StaffPage,
    member_id: Annotated[list[int] | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """Who attended: one person (their row's button) or everyone enrolled."""
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            with page.ctx.sessions() as session:
                ids = member_id or [e.member_id for e in trainings.enrolments(session, session_id)]
                trainings.validate(session, session_id, ids, by, page.ctx.clock.now())
        except ServiceError as exc:
            return _session(
                page, session_id, error=in_words(page, exc.message), status=exc.status_code
            )
        return page.redirect(f"/admin/trainings/sessions/{session_id}")

    return once(page, idem, run)
