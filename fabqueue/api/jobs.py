"""Jobs: submit, list, inspect, act. Thin: parse, call a service, return a public shape."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, Response

from fabqueue.api.deps import (
    MAX_ID,
    CtxDep,
    CurrentUser,
    IdPath,
    OptionalIdQuery,
    ReadSessionDep,
    SessionDep,
)
from fabqueue.api.intake import IntakeForm
from fabqueue.models import JobEventPublic, JobPage, JobPublic
from fabqueue.services import analysis as file_service
from fabqueue.services import jobs as job_service
from fabqueue.services.errors import Forbidden, NotFound
from fabqueue.states import JobState
from fabqueue.storage import FileMissing
from jobs.base import MachineKind

router = APIRouter(prefix="/jobs", tags=["jobs"])

ACTIONS = ("cancel", "pause", "resume", "hold", "release", "requeue")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses={503: {"description": "every file worker is busy: try again (Retry-After)"}},
)
async def submit(
    ctx: CtxDep,
    user: CurrentUser,
    intake: IntakeForm,
    file: Annotated[UploadFile, File(description="the job file (G-code, SVG, DST, PES…)")],
    machine: Annotated[str | None, Form(description="a machine slug")] = None,
    kind: Annotated[MachineKind | None, Form(description="any machine of this kind")] = None,
    material: Annotated[str | None, Form()] = None,
    copies: Annotated[int, Form()] = 1,
    priority: Annotated[int, Form(description="staff only; higher runs first")] = 0,
    hold: Annotated[bool, Form(description="keep out of the queue until released")] = False,
    title: Annotated[str | None, Form()] = None,
    mirror: Annotated[
        bool | None,
        Form(description="vinyl: cut from the back (default: the material's; on for flex)"),
    ] = None,
    weeding_border: Annotated[
        bool | None,
        Form(description="vinyl: a weeding border around each copy (default: the machine's)"),
    ] = None,
) -> Response:
    """Submit a job file. It is analysed at once, in a worker process with CPU and memory
    limits: a file that cannot be made, or that costs more than those limits, is refused
    (422, with the reason). 503 when every worker is busy and the waiting line is full."""
    if user.role == "client":
        raise Forbidden("clients ask for a quote; staff turn it into jobs")
    assert ctx.workers is not None
    job = await job_service.submit_job_async(
        sessions=ctx.sessions,
        read_sessions=ctx.read_sessions,
        store=ctx.store,
        profiles=ctx.profiles,
        workers=ctx.workers,
        owner=user,
        stream=file.file,
        request=job_service.SubmitRequest(
            filename=file.filename or "",
            machine=machine or None,
            kind=kind,
            material=material or None,
            copies=copies,
            priority=priority,
            hold=hold,
            title=title,
            intake=intake,
            choices={
                name: chosen
                for name, chosen in (("mirror", mirror), ("weeding_border", weeding_border))
                if chosen is not None
            },
        ),
        upload_limit=ctx.settings.upload_limit_bytes,
        now=ctx.clock.now(),
        catalog=ctx.machines,
    )
    # Serialised once here: the busiest route skips FastAPI's second validation.
    return Response(
        JobPublic.model_validate(job, from_attributes=True).model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


PAGE_MAX = 200


def _next_link(request: Request, rows: list[int], limit: int) -> str | None:
    if len(rows) < limit:
        return None
    kept = request.query_params.multi_items()
    params = [(k, v) for k, v in kept if k not in ("before", "offset")]
    params.append(("before", str(rows[-1])))
    return f"{request.url.path}?{urlencode(params)}"


@router.get("", response_model=JobPage)
async def list_jobs(
    request: Request,
    ctx: CtxDep,
    user: CurrentUser,
    state: Annotated[list[JobState] | None, Query()] = None,
    machine: str | None = None,
    owner: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="jobs per page")] = 50,
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="only jobs older than this id (the next page)"),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_ID, description="skip this many (prefer `next`)")
    ] = 0,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="words to find in the file name or title, the owner's name, the "
            "customer's name, phone or e-mail (accents and case ignored)",
        ),
    ] = None,
) -> Response:
    """Jobs, newest first, one page at a time: follow `next` (null on the last page)
    for the rest; `count` is the number of jobs matching the filters. The list leaves
    out each job's analysis and checkpoint: `GET /api/v1/jobs/{id}` has them.
    Members and clients see their own jobs only."""

    def page() -> str:
        rows, total = job_service.job_page(
            ctx.read_sessions,
            user,
            states=state,
            machine=machine,
            owner_id=owner,
            limit=limit,
            before=before,
            offset=offset,
            q=q,
        )
        next_page = _next_link(request, [r["id"] for r in rows], limit)
        return JobPage.model_construct(data=rows, count=total, next=next_page).model_dump_json()

    # One thread hop for the session, the query and the serialisation (a session
    # dependency and a sync route took three); serialised once, without FastAPI's
    # second validation; shared by identical reads asked at the same moment.
    body = await ctx.job_pages.run((user.id, request.url.path, request.url.query), page)
    return Response(body, media_type="application/json")


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: IdPath, session: ReadSessionDep, user: CurrentUser) -> JobPublic:
    return JobPublic.model_validate(
        job_service.get_job(session, job_id, user), from_attributes=True
    )


@router.get("/{job_id}/events", response_model=list[JobEventPublic])
def job_events(job_id: IdPath, session: ReadSessionDep, user: CurrentUser) -> list[JobEventPublic]:
    return [
        JobEventPublic.model_validate(e, from_attributes=True)
        for e in job_service.job_events(session, job_id, user)
    ]


@router.get("/{job_id}/file", response_class=FileResponse)
def job_file(
    job_id: IdPath, ctx: CtxDep, session: ReadSessionDep, user: CurrentUser
) -> FileResponse:
    """The file as it was submitted."""
    job = job_service.get_job(session, job_id, user)
    try:
        path = ctx.store.fetch(job.file_sha256)
    except FileMissing:
        raise NotFound(f"the file of job {job_id} is missing from the store") from None
    return FileResponse(path, filename=job.file_name)


@router.get("/{job_id}/preview", response_class=FileResponse)
async def job_preview(
    job_id: IdPath, ctx: CtxDep, session: ReadSessionDep, user: CurrentUser
) -> FileResponse:
    """A picture of the job (SVG or PNG) for the tablet, made in the worker pool the
    first time it is asked for; 404 when there is none."""
    assert ctx.workers is not None
    job = await anyio.to_thread.run_sync(job_service.get_job, session, job_id, user)
    path = await file_service.job_preview(
        session=session, store=ctx.store, profiles=ctx.profiles, workers=ctx.workers, job=job
    )
    if path is None:
        raise NotFound(f"job {job_id} has no preview")
    media = {"svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg"}
    return FileResponse(
        path, media_type=media.get(path.suffix.lstrip("."), "application/octet-stream")
    )


def _action_route(action: str) -> None:
    def handler(job_id: IdPath, ctx: CtxDep, session: SessionDep, user: CurrentUser) -> JobPublic:
        job = job_service.act(
            session=session, job_id=job_id, action=action, user=user, at=ctx.clock.now()
        )
        return JobPublic.model_validate(job, from_attributes=True)

    handler.__name__ = f"{action}_job"
    router.add_api_route(
        f"/{{job_id}}/{action}",
        handler,
        methods=["POST"],
        response_model=JobPublic,
        summary=f"{action.capitalize()} a job",
    )


for _action in ACTIONS:
    _action_route(_action)
