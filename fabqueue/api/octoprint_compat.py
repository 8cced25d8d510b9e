"""The part of OctoPrint's API that slicers use to "send to printer", on fabqueue's queue.

PrusaSlicer's and Cura's OctoPrint hosts, the octorest client and plain ``curl`` call
``GET /api/version`` to test the connection and ``POST /api/files/local`` (multipart
``file``, ``print``, ``select``, ``path``) to upload, with ``X-Api-Key``. Here the key is
a fabqueue API token and the upload becomes a job of the token's owner, with that
owner's rights: ``print=true`` queues it, otherwise it is held for the facilitator.

Base URLs: ``/octoprint/<machine slug>`` pins the job to one machine;
``/octoprint/any`` and the bare ``/api/...`` let the dispatcher choose. Answers follow
OctoPrint 1.x's shapes, errors included (``{"error": …}``, 403 for a bad key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    Request,
    UploadFile,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fabqueue import __version__
from fabqueue.api.deps import CtxDep, bearer_token, user_for
from fabqueue.api.errors import ErrorBody
from fabqueue.context import AppContext
from fabqueue.models import Job, User
from fabqueue.services import jobs as job_service
from fabqueue.services import octoprint_view
from fabqueue.services.errors import ServiceError
from fabqueue.services.intake import IntakeOptions
from fabqueue.services.octoprint_view import NotOperational


class OctoPrintErrorBody(BaseModel):
    """OctoPrint's error shape, which slicers show to their users."""

    error: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    # A body that is not multipart at all is refused before these routes, in the API's
    # own shape; an upload without its file, in OctoPrint's.
    400: {"model": OctoPrintErrorBody | ErrorBody, "description": "no file in the upload"},
}
_ERRORS |= {
    code: {"model": OctoPrintErrorBody, "description": what}
    for code, what in (
        (403, "unknown API key, or a role that may not upload"),
        (404, "no such machine on this node"),
        (409, "the file cannot be made here (OctoPrint answers 409 too)"),
        (413, "the file is over the upload limit"),
        (415, "a file type no machine takes"),
        (503, "the file workers are busy: try again"),
    )
}
router = APIRouter(tags=["octoprint-compatible upload"], responses=_ERRORS)

ANY = "any"
OCTOPRINT_API = "0.1"
SERVER = "1.11.8"
"""The OctoPrint version whose upload API this reproduces (the one the tests run)."""
FORBIDDEN = (
    "You don't have the permission to access the requested resource. "
    "It is either read-protected or not readable by the server."
)
"""OctoPrint's own words for a bad key, so slicers show what their users search for."""


class OctoPrintError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def key_owner(
    ctx: CtxDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> User:
    """The token's owner; 403 (not 401) for a missing or unknown key, as OctoPrint."""
    token = bearer_token(authorization, x_api_key)
    user = await user_for(ctx, token) if token else None
    if user is None:
        raise OctoPrintError(403, FORBIDDEN)
    return user


KeyOwner = Annotated[User, Depends(key_owner)]


def _machine(slug: str | None, ctx: AppContext) -> str | None:
    if slug is None or slug == ANY:
        return None
    assert ctx.machines is not None
    if slug not in {r.slug for r in ctx.machines.records()}:
        raise OctoPrintError(404, f"no machine {slug!r} here; use /octoprint/any for any printer")
    return slug


def version(user: KeyOwner) -> dict[str, str]:
    # PrusaSlicer accepts a host only when this text starts with "OctoPrint".
    text = f"OctoPrint {SERVER} (fabqueue {__version__})"
    return {"api": OCTOPRINT_API, "server": SERVER, "text": text}


@dataclass(frozen=True)
class UploadForm:
    file: UploadFile | None
    print_: str | None
    select: str | None
    path: str | None
    material: str | None
    preset: str | None


def upload_form(
    file: Annotated[UploadFile | None, File()] = None,
    print_: Annotated[str | None, Form(alias="print")] = None,
    select: Annotated[str | None, Form()] = None,
    path: Annotated[str | None, Form()] = None,
    material: Annotated[str | None, Form()] = None,
    preset: Annotated[str | None, Form()] = None,
) -> UploadForm:
    return UploadForm(file, print_, select, path, material, preset)


UploadFormDep = Annotated[UploadForm, Depends(upload_form)]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes", "on")


async def _submit(ctx: AppContext, user: User, form: UploadForm, slug: str | None) -> Job:
    file = form.file
    if file is None or not file.filename:
        raise OctoPrintError(400, "No file to upload and no folder to create")
    if user.role == "client":
        raise OctoPrintError(403, "clients ask for a quote; staff turn it into jobs")
    intake = IntakeOptions(preset=form.preset or "normal")
    try:
        # No thread waits while a model is sliced or a file analysed: slicers send big files.
        return await job_service.submit_job_async(
            sessions=ctx.sessions,
            read_sessions=ctx.read_sessions,
            store=ctx.store,
            profiles=ctx.profiles,
            workers=ctx.pool,
            owner=user,
            stream=file.file,
            request=job_service.SubmitRequest(
                filename=file.filename,
                machine=_machine(slug, ctx),
                material=form.material or None,
                hold=not _truthy(form.print_),
                intake=intake,
            ),
            upload_limit=ctx.settings.upload_limit_bytes,
            now=ctx.clock.now(),
            catalog=ctx.machines,
        )
    except ServiceError as exc:
        raise OctoPrintError(exc.status_code, exc.message) from exc


def _created(request: Request, job: Job, form: UploadForm) -> JSONResponse:
    """OctoPrint's 201 answer, its refs pointing at the job."""
    resource = f"{str(request.base_url).rstrip('/')}/api/v1/jobs/{job.id}"
    body = {
        "files": {
            "local": {
                "name": job.file_name,
                "path": job.file_name,
                "origin": "local",
                "refs": {"resource": resource, "download": f"{resource}/file"},
            }
        },
        "done": True,
        # No "selected file" in a queue: every job is its own.
        "effectiveSelect": False,
        "effectivePrint": job.state.value == "queued",
        "fabqueue": {"job": job.id, "state": job.state.value, "folder_ignored": bool(form.path)},
    }
    return JSONResponse(body, status_code=201, headers={"Location": resource})


async def upload(
    request: Request, ctx: CtxDep, user: KeyOwner, form: UploadFormDep
) -> JSONResponse:
    """Any printer: queued when ``print`` is true, held for the facilitator otherwise."""
    return _created(request, await _submit(ctx, user, form, None), form)


def pinned_version(slug: str, ctx: CtxDep, user: KeyOwner) -> dict[str, str]:
    _machine(slug, ctx)
    return version(user)


async def pinned_upload(
    slug: str, request: Request, ctx: CtxDep, user: KeyOwner, form: UploadFormDep
) -> JSONResponse:
    """One machine (or ``any``): the job waits for that machine."""
    return _created(request, await _submit(ctx, user, form, slug), form)


def _monitor(ctx: AppContext, slug: str | None, read: Any) -> dict[str, Any]:
    machine = _machine(slug, ctx)
    try:
        with ctx.read_sessions() as session:
            answer: dict[str, Any] = read(session, machine)
    except NotOperational as exc:
        raise OctoPrintError(409, str(exc)) from exc
    except ServiceError as exc:
        raise OctoPrintError(exc.status_code, exc.message) from exc
    return answer


def printer(ctx: CtxDep, user: KeyOwner) -> dict[str, Any]:
    """The queue as one printer: operational while any printer takes jobs, else 409
    (Cura's monitor polls this)."""
    return _monitor(ctx, None, octoprint_view.printer)


def pinned_printer(slug: str, ctx: CtxDep, user: KeyOwner) -> dict[str, Any]:
    """The machine's state and temperatures; 409 when it cannot print now (out of
    service, offline, not taking jobs)."""
    return _monitor(ctx, slug, octoprint_view.printer)


def current_job(ctx: CtxDep, user: KeyOwner) -> dict[str, Any]:
    """Your own job running on any printer, or "Operational" with no file."""
    now = ctx.clock.now()
    return _monitor(ctx, None, lambda s, m: octoprint_view.job(s, m, user, now))


def pinned_job(slug: str, ctx: CtxDep, user: KeyOwner) -> dict[str, Any]:
    """The job on the machine (someone else's without its name)."""
    now = ctx.clock.now()
    return _monitor(ctx, slug, lambda s, m: octoprint_view.job(s, m, user, now))


def settings(user: KeyOwner) -> dict[str, Any]:
    """What Cura reads of OctoPrint's settings: no webcam, no SD card, no plugins."""
    webcam = {"webcamEnabled": False, "streamUrl": "", "snapshotUrl": "", "flipH": False,
              "flipV": False, "rotate90": False}  # fmt: skip
    return {"api": {"enabled": True}, "feature": {"sdSupport": False}, "webcam": webcam,
            "plugins": {}}  # fmt: skip


def pinned_settings(slug: str, ctx: CtxDep, user: KeyOwner) -> dict[str, Any]:
    _machine(slug, ctx)
    return settings(user)


def _profiles(machine: str | None) -> dict[str, Any]:
    """One profile, current: the machine (or the queue) this base URL sends to."""
    name = "fabqueue (any printer)" if machine is None else machine
    axes = {a: {"speed": 6000 if a != "z" else 200, "inverted": False} for a in "xyze"}
    profile = {"id": machine or ANY, "name": name, "model": "fabqueue", "current": True,
               "default": True, "axes": axes}  # fmt: skip
    return {"profiles": {machine or ANY: profile}}


def printer_profiles(user: KeyOwner) -> dict[str, Any]:
    return _profiles(None)


def pinned_printer_profiles(slug: str, ctx: CtxDep, user: KeyOwner) -> dict[str, Any]:
    return _profiles(_machine(slug, ctx))


def login(user: KeyOwner) -> dict[str, Any]:
    """Cura's passive login: whose key it is."""
    return {"name": user.name, "active": user.active, "admin": user.role == "admin"}


def pinned_login(slug: str, ctx: CtxDep, user: KeyOwner) -> dict[str, Any]:
    _machine(slug, ctx)
    return login(user)


_MONITOR: tuple[tuple[str, Any, Any, str], ...] = (
    ("/api/printer", printer, pinned_printer, "GET"),
    ("/api/job", current_job, pinned_job, "GET"),
    ("/api/settings", settings, pinned_settings, "GET"),
    ("/api/printerprofiles", printer_profiles, pinned_printer_profiles, "GET"),
    ("/api/login", login, pinned_login, "POST"),
)
for _path, _root, _pinned, _method in _MONITOR:
    router.add_api_route(_path, _root, methods=[_method])
    router.add_api_route(f"/octoprint/{{slug}}{_path}", _pinned, methods=[_method])

router.add_api_route("/api/version", version, methods=["GET"])
router.add_api_route("/api/files/local", upload, methods=["POST"], status_code=201)
router.add_api_route("/octoprint/{slug}/api/version", pinned_version, methods=["GET"])
router.add_api_route(
    "/octoprint/{slug}/api/files/local", pinned_upload, methods=["POST"], status_code=201
)


def install(app: FastAPI) -> None:
    """Mount the routes at the root (where slicers look) with OctoPrint's error shape."""

    async def _error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OctoPrintError)
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    app.add_exception_handler(OctoPrintError, _error)
    app.include_router(router)
