"""New job (understand the file, then queue it), and a job's own page."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Form, UploadFile
from fastapi.responses import FileResponse
from starlette.responses import Response

from fabqueue.models import Job, User
from fabqueue.services import analysis as file_service
from fabqueue.services import counter
from fabqueue.services import intake as intake_service
from fabqueue.services import jobs as job_service
from fabqueue.services.errors import Invalid, NotFound, ServiceError
from fabqueue.storage import FileMissing
from fabqueue.web.page import Page, StaffPage, once
from fabqueue.web.problems import in_words, suggested_scale
from fabqueue.web.routes.job_form import PRESETS, JobForm, JobFormDep
from jobs.base import MachineKind
from jobs.registry import SOURCES, accepted_types, file_type_of

router = APIRouter()

MEDIA = {"svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg"}


def _choices(page: Page) -> dict[str, Any]:
    profiles = page.ctx.profiles
    return {
        "machines": sorted(profiles.machines.values(), key=lambda m: m.name),
        "materials": sorted(profiles.materials.values(), key=lambda m: (m.kind, m.name)),
        "kinds": list(MachineKind),
        "accept": ",".join("." + t for t in [*accepted_types(), *sorted(SOURCES)]),
        "intake": counter.intake_status(),
        "presets": PRESETS,
    }


def _context(page: Page, form: JobForm | None = None) -> dict[str, Any]:
    return {**_choices(page), **understood_context(form)}


def understood_context(form: JobForm | None = None) -> dict[str, Any]:
    """What ``partials/understood.html`` reads, before anything is understood (the
    counter's page and the member's)."""
    upload = form.upload if form is not None else None
    return {
        "presets": PRESETS,
        "form": form,
        "brought": file_type_of(upload.filename or "") if upload is not None else "",
        "understood": None,
        "error": None,
        "scale_to": None,
        "pages": None,
        "warnings": [],
        "picture": None,
    }


def _error(page: Page, context: dict[str, Any], exc: ServiceError) -> dict[str, Any]:
    context["error"] = in_words(exc.message, page.gettext, page.lang)
    context["scale_to"] = suggested_scale(exc.message)
    context["pages"] = exc.extra.get("pages")
    return context


@router.get("/jobs/new")
def new_job(page: StaffPage) -> Response:
    return page.render("pages/new_job.html", _context(page))


def _understand(page: Page, form: JobForm, upload: UploadFile) -> counter.Understood:
    return counter.understand(
        read_sessions=page.ctx.read_sessions,
        store=page.ctx.store,
        profiles=page.ctx.profiles,
        workers=page.ctx.pool,
        stream=upload.file,
        request=form.request(upload.filename or ""),
        upload_limit=page.ctx.settings.upload_limit_bytes,
        catalog=page.ctx.machines,
        size=form.size(),
    )


@router.post("/jobs/new/understand")
def understand(
    page: StaffPage, form: JobFormDep, csrf: Annotated[str | None, Form()] = None
) -> Response:
    """What fabqueue made of the file: preview, figures, price, problems. Queues nothing."""
    page.check_csrf(csrf)
    context = _context(page, form)
    upload = form.upload
    if upload is None:
        return page.render("pages/new_job.html", context)
    try:
        understood = _understand(page, form, upload)
    except ServiceError as exc:
        return page.render("pages/new_job.html", _error(page, context, exc))
    picture = counter.preview_upload(
        store=page.ctx.store, profiles=page.ctx.profiles, understood=understood
    )
    context["understood"] = understood
    context["warnings"] = [
        in_words(w, page.gettext, page.lang) for w in understood.analysis.warnings
    ]
    context["picture"] = (
        f"data:{picture[0]};base64,{base64.b64encode(picture[1]).decode()}" if picture else None
    )
    return page.render("pages/new_job.html", context)


@router.post("/jobs/new/trace-preview")
def trace_preview(
    page: StaffPage, form: JobFormDep, csrf: Annotated[str | None, Form()] = None
) -> Response:
    """The picture as it would be cut with the threshold as it is now: the slider asks
    again as it moves (the price follows when it is let go)."""
    page.check_csrf(csrf)
    upload = form.upload
    context: dict[str, Any] = {"traced": None, "error": None}
    if upload is not None:
        try:
            svg = intake_service.logo_preview(
                store=page.ctx.store,
                workers=page.ctx.pool,
                stream=upload.file,
                filename=upload.filename or "",
                options=form.intake(),
                upload_limit=page.ctx.settings.upload_limit_bytes,
            )
            context["traced"] = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
        except ServiceError as exc:
            context["error"] = in_words(exc.message, page.gettext, page.lang)
    return page.render("partials/trace_preview.html", context)


@router.post("/jobs/new")
def submit(
    page: StaffPage,
    form: JobFormDep,
    hold: Annotated[str, Form()] = "",
    customer_name: Annotated[str, Form()] = "",
    customer_contact: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None
    owner = page.user

    def run() -> Response:
        try:
            upload = form.upload
            if upload is None:
                raise Invalid("choose a file first")
            job = _submit(page, owner, form, upload, hold == "1")
        except ServiceError as exc:
            context = _error(page, _context(page, form), exc)
            return page.render("pages/new_job.html", context, status=422)
        assert job.id is not None
        if customer_name.strip() or customer_contact.strip():
            with page.ctx.sessions() as session:
                counter.set_customer(
                    session=session,
                    job_id=job.id,
                    user=owner,
                    name=customer_name,
                    contact=customer_contact,
                )
        return page.redirect(f"/jobs/{job.id}")

    return once(page, idem, run)


def _submit(page: Page, owner: User, form: JobForm, upload: UploadFile, hold: bool) -> Job:
    """The job as the page showed it: resized first when a size was asked (a model or
    a logo is then queued as the SVG it was made into, at its size)."""
    stream: BinaryIO = upload.file
    request = form.request(upload.filename or "", hold)
    if form.size() is not None:
        understood = _understand(page, form, upload)
        stream = counter.stored_upload(page.ctx.store, understood.sha256).open("rb")
        request = replace(request, filename=understood.made_name)
    try:
        return job_service.submit_job(
            sessions=page.ctx.sessions,
            read_sessions=page.ctx.read_sessions,
            store=page.ctx.store,
            profiles=page.ctx.profiles,
            workers=page.ctx.pool,
            owner=owner,
            stream=stream,
            request=request,
            upload_limit=page.ctx.settings.upload_limit_bytes,
            now=page.ctx.clock.now(),
            catalog=page.ctx.machines,
        )
    finally:
        if stream is not upload.file:
            stream.close()


@router.get("/jobs/{job_id}")
def job_page(job_id: int, page: StaffPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        job = job_service.get_job(session, job_id, page.user)
        events = job_service.job_events(session, job_id, page.user)
        owners = counter.owners_of(session, [job])
        actors = _actor_names(session, events)
    return page.render(
        "pages/job.html",
        {
            "job": job,
            "events": events,
            "owner": owners.get(job.owner_id, "?"),
            "actors": actors,
            "price": counter.job_price(page.ctx.profiles, job),
        },
    )


def _actor_names(session: Any, events: list[Any]) -> dict[str, str]:
    from fabqueue.models import User

    names: dict[str, str] = {}
    for event in events:
        kind, _, ref = event.actor.partition(":")
        if kind == "user" and ref.isdigit() and event.actor not in names:
            user = session.get(User, int(ref))
            names[event.actor] = user.name if user else event.actor
    return names


@router.get("/jobs/{job_id}/picture")
async def job_picture(job_id: int, page: StaffPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        job = job_service.get_job(session, job_id, page.user)
        path = await file_service.job_preview(
            session=session,
            store=page.ctx.store,
            profiles=page.ctx.profiles,
            workers=page.ctx.pool,
            job=job,
        )
    if path is None:
        raise NotFound(f"job {job_id} has no preview")
    media = MEDIA.get(path.suffix.lstrip("."), "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/jobs/{job_id}/download")
def job_download(job_id: int, page: StaffPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        job = job_service.get_job(session, job_id, page.user)
    try:
        path = page.ctx.store.fetch(job.file_sha256)
    except FileMissing as exc:
        raise NotFound(f"the file of job {job_id} is missing from the store") from exc
    return FileResponse(path, filename=job.file_name)
