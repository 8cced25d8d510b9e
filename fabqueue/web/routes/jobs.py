"""New job (understand the file, then queue it), and a job's own page."""

from __future__ import annotations

import base64
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse
from starlette.responses import Response

from fabqueue.models import Job, User
from fabqueue.services import analysis as file_service
from fabqueue.services import counter
from fabqueue.services import jobs as job_service
from fabqueue.services.errors import Invalid, NotFound, ServiceError
from fabqueue.storage import FileMissing
from fabqueue.web.page import Page, StaffPage, once
from fabqueue.web.problems import in_words
from jobs.base import MachineKind
from jobs.registry import accepted_types

router = APIRouter()

MEDIA = {"svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg"}


def _choices(page: Page) -> dict[str, Any]:
    profiles = page.ctx.profiles
    return {
        "machines": sorted(profiles.machines.values(), key=lambda m: m.name),
        "materials": sorted(profiles.materials.values(), key=lambda m: (m.kind, m.name)),
        "kinds": list(MachineKind),
        "accept": ",".join("." + t for t in accepted_types()),
    }


def _request(
    filename: str, kind: str, machine: str, material: str, copies: int, hold: bool = False
) -> job_service.SubmitRequest:
    return job_service.SubmitRequest(
        filename=filename,
        machine=machine or None,
        kind=MachineKind(kind) if kind else None,
        material=material or None,
        copies=copies,
        hold=hold,
    )


def _mm(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise Invalid("a size is a number of millimetres, e.g. 80") from None


def _size(width: str, height: str) -> counter.WantedSize | None:
    w, h = _mm(width), _mm(height)
    if w is None and h is None:
        return None
    # Aspect is kept: a width, when given, decides.
    return counter.WantedSize(width_mm=w, height_mm=None if w is not None else h)


@router.get("/jobs/new")
def new_job(page: StaffPage) -> Response:
    return page.render("pages/new_job.html", {**_choices(page), "understood": None, "error": None})


@router.post("/jobs/new/understand")
def understand(
    page: StaffPage,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form()] = "",
    machine: Annotated[str, Form()] = "",
    material: Annotated[str, Form()] = "",
    copies: Annotated[int, Form(ge=1, le=1000)] = 1,
    width_mm: Annotated[str, Form()] = "",
    height_mm: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """What fabqueue made of the file: preview, figures, price, problems. Queues nothing."""
    page.check_csrf(csrf)
    context: dict[str, Any] = {**_choices(page), "understood": None, "error": None}
    try:
        understood = counter.understand(
            read_sessions=page.ctx.read_sessions,
            store=page.ctx.store,
            profiles=page.ctx.profiles,
            workers=page.ctx.pool,
            stream=file.file,
            request=_request(file.filename or "", kind, machine, material, copies),
            upload_limit=page.ctx.settings.upload_limit_bytes,
            catalog=page.ctx.machines,
            size=_size(width_mm, height_mm),
        )
    except ServiceError as exc:
        context["error"] = in_words(exc.message, page.gettext, page.lang)
        return page.render("pages/new_job.html", context)
    picture = counter.preview_upload(
        store=page.ctx.store, profiles=page.ctx.profiles, understood=understood
    )
    context["understood"] = understood
    context["picture"] = (
        f"data:{picture[0]};base64,{base64.b64encode(picture[1]).decode()}" if picture else None
    )
    return page.render("pages/new_job.html", context)


@router.post("/jobs/new")
def submit(
    page: StaffPage,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str, Form()] = "",
    machine: Annotated[str, Form()] = "",
    material: Annotated[str, Form()] = "",
    copies: Annotated[int, Form(ge=1, le=1000)] = 1,
    width_mm: Annotated[str, Form()] = "",
    height_mm: Annotated[str, Form()] = "",
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
        request = _request(file.filename or "", kind, machine, material, copies, hold == "1")
        try:
            job = _submit(page, owner, file, request, _size(width_mm, height_mm))
        except ServiceError as exc:
            context = {
                **_choices(page),
                "understood": None,
                "error": in_words(exc.message, page.gettext, page.lang),
            }
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


def _submit(
    page: Page,
    owner: User,
    file: UploadFile,
    request: job_service.SubmitRequest,
    size: counter.WantedSize | None,
) -> Job:
    """The job as the page showed it: resized first when a size was asked."""
    stream: BinaryIO = file.file
    if size is not None:
        understood = counter.understand(
            read_sessions=page.ctx.read_sessions,
            store=page.ctx.store,
            profiles=page.ctx.profiles,
            workers=page.ctx.pool,
            stream=stream,
            request=request,
            upload_limit=page.ctx.settings.upload_limit_bytes,
            catalog=page.ctx.machines,
            size=size,
        )
        stream = counter.stored_upload(page.ctx.store, understood.sha256).open("rb")
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
        if stream is not file.file:
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
