"""« Mes travaux »: a member's jobs, the queue without other people's names, and a new
job understood before it is queued (the counter's services and its template's pieces)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.services import counter, members, trainings
from fabqueue.services import jobs as job_service
from fabqueue.services.booking_rules import policy_of, tz_of
from fabqueue.services.errors import Invalid, ServiceError
from fabqueue.web.page import Page, once
from fabqueue.web.problems import in_words
from fabqueue.web.routes.job_form import JobFormDep
from fabqueue.web.routes.jobs import _submit, _understand, understood_context
from fabqueue.web.routes.member.access import HOME, MemberPage
from jobs.registry import accepted_types

router = APIRouter()

WORK = HOME + "/jobs"
NEW = WORK + "/new"


def _choices(page: Page) -> dict[str, Any]:
    """Only the machines the member may use: the others are not a choice."""
    assert page.user is not None
    profiles = page.ctx.profiles
    with page.ctx.read_sessions() as session:
        rights = members.rights(session, profiles, page.user, page.ctx.clock.now())
    return {
        "machines": [r for r in rights if r.allowed],
        "refused": [r for r in rights if not r.allowed],
        "materials": sorted(profiles.materials.values(), key=lambda m: (m.kind, m.name)),
        "accept": ",".join("." + t for t in accepted_types()),
    }


def _booking_context(page: Page) -> dict[str, Any]:
    assert page.user is not None
    now = page.ctx.clock.now()
    with page.ctx.read_sessions() as session:
        current = members.current_booking(session, page.user, now)
        upcoming = members.upcoming_bookings(session, page.user, now)
    following = next((b for b in upcoming if b.starts_at > now), None)
    return {
        "names": {slug: m.name for slug, m in page.ctx.profiles.machines.items()},
        "current": current,
        "following": following,
        "during_booking": policy_of(page.ctx.profiles).member_jobs == "during_booking",
    }


@router.get(WORK)
def my_jobs(page: MemberPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        mine, _total = job_service.job_summaries(session, page.user, limit=30)
        line = members.queue(session, page.user)
    return page.render(
        "pages/member/jobs.html",
        {"mine": mine, "line": line, **_booking_context(page)},
    )


@router.get(NEW)
def new_job(page: MemberPage, machine: str = "") -> Response:
    context = {**_choices(page), **understood_context(), "request_machine": machine}
    return page.render("pages/member/new_job.html", context)


def _check_machine(page: Page, machine: str) -> None:
    """A member queues on a machine they may use: say so before the file is read."""
    assert page.user is not None
    if not machine:
        raise Invalid("choisissez une machine")
    with page.ctx.read_sessions() as session:
        ref = trainings.machine_ref(session, machine)
        trainings.ensure_may_use(
            session, page.user, ref, page.ctx.clock.now(), tz_of(page.ctx.profiles)
        )


@router.post(NEW + "/understand")
def understand(
    page: MemberPage, form: JobFormDep, csrf: Annotated[str | None, Form()] = None
) -> Response:
    """What fabqueue made of the file, as at the counter. Queues nothing."""
    page.check_csrf(csrf)
    context: dict[str, Any] = {**_choices(page), **understood_context(form)}
    try:
        _check_machine(page, form.machine)
        upload = form.upload
        if upload is None:
            raise Invalid("choisissez un fichier")
        understood = _understand(page, form, upload)
    except ServiceError as exc:
        context["error"] = in_words(exc.message, page.gettext, page.lang)
        return page.render("pages/member/new_job.html", context)
    picture = counter.preview_upload(
        store=page.ctx.store, profiles=page.ctx.profiles, understood=understood
    )
    context["understood"] = understood
    context["picture"] = (
        f"data:{picture[0]};base64,{base64.b64encode(picture[1]).decode()}" if picture else None
    )
    return page.render("pages/member/new_job.html", context)


@router.post(NEW)
def submit(
    page: MemberPage,
    form: JobFormDep,
    hold: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None
    owner = page.user

    def run() -> Response:
        try:
            _check_machine(page, form.machine)
            upload = form.upload
            if upload is None:
                raise Invalid("choisissez un fichier")
            job = _submit(page, owner, form, upload, hold == "1")
        except ServiceError as exc:
            context = {
                **_choices(page),
                **understood_context(form),
                "error": in_words(exc.message, page.gettext, page.lang),
            }
            return page.render("pages/member/new_job.html", context, status=exc.status_code)
        return page.redirect(f"{WORK}/{job.id}")

    return once(page, idem, run)


@router.get(WORK + "/{job_id}")
def job_page(job_id: int, page: MemberPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        job = job_service.get_job(session, job_id, page.user)
        events = job_service.job_events(session, job_id, page.user)
        session.expunge(job)
    return page.render(
        "pages/member/job.html",
        {
            "job": job,
            "events": events,
            "price": counter.job_price(page.ctx.profiles, job),
            **_booking_context(page),
        },
    )


@router.post(WORK + "/{job_id}/cancel")
def cancel(
    job_id: int,
    page: MemberPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        job_service.act(
            session=session, job_id=job_id, action="cancel", user=page.me, at=page.ctx.clock.now()
        )

    return page.act(csrf, idem, change, f"{WORK}/{job_id}")
