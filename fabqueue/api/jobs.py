"""Jobs: submit, list, inspect, act. Thin: parse, call a service, return a public shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import FileResponse, Response

from fabqueue.api.deps import CtxDep, CurrentUser, ReadSessionDep, SessionDep
from fabqueue.models import JobEventPublic, JobPublic, JobsPublic
from fabqueue.services import jobs as job_service
from fabqueue.services.errors import Forbidden, NotFound
from fabqueue.states import JobState
from fabqueue.storage import FileMissing
from jobs.base import MachineKind

router = APIRouter(prefix="/jobs", tags=["jobs"])

ACTIONS = ("cancel", "pause", "resume", "hold", "release", "requeue")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JobPublic)
def submit(
    ctx: CtxDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="the job file (G-code, SVG, DST, PES…)")],
    machine: Annotated[str | None, Form(description="a machine slug")] = None,
    kind: Annotated[MachineKind | None, Form(description="any machine of this kind")] = None,
    material: Annotated[str | None, Form()] = None,
    copies: Annotated[int, Form()] = 1,
    priority: Annotated[int, Form(description="staff only; higher runs first")] = 0,
    hold: Annotated[bool, Form(description="keep out of the queue until released")] = False,
    title: Annotated[str | None, Form()] = None,
) -> Response:
    """Submit a job file. It is analysed at once: a file that cannot be made is refused."""
    if user.role == "client":
        raise Forbidden("clients ask for a quote; staff turn it into jobs")
    job = job_service.submit_job(
        sessions=ctx.sessions,
        read_sessions=ctx.read_sessions,
        store=ctx.store,
        profiles=ctx.profiles,
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


@router.get("", response_model=JobsPublic)
def list_jobs(
    session: ReadSessionDep,
    user: CurrentUser,
    state: Annotated[list[JobState] | None, Query()] = None,
    machine: str | None = None,
    owner: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobsPublic:
    """Newest first. Members and clients see their own jobs only."""
    rows, total = job_service.list_jobs(
        session, user, states=state, machine=machine, owner_id=owner, limit=limit, offset=offset
    )
    return JobsPublic(
        data=[JobPublic.model_validate(j, from_attributes=True) for j in rows], count=total
    )


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: int, session: ReadSessionDep, user: CurrentUser) -> JobPublic:
    return JobPublic.model_validate(
        job_service.get_job(session, job_id, user), from_attributes=True
    )


@router.get("/{job_id}/events", response_model=list[JobEventPublic])
def job_events(job_id: int, session: ReadSessionDep, user: CurrentUser) -> list[JobEventPublic]:
    return [
        JobEventPublic.model_validate(e, from_attributes=True)
        for e in job_service.job_events(session, job_id, user)
    ]


@router.get("/{job_id}/file", response_class=FileResponse)
def job_file(job_id: int, ctx: CtxDep, session: ReadSessionDep, user: CurrentUser) -> FileResponse:
    """The file as it was submitted."""
    job = job_service.get_job(session, job_id, user)
    try:
        path = ctx.store.fetch(job.file_sha256)
    except FileMissing:
        raise NotFound(f"the file of job {job_id} is missing from the store") from None
    return FileResponse(path, filename=job.file_name)


@router.get("/{job_id}/preview", response_class=FileResponse)
def job_preview(
    job_id: int, ctx: CtxDep, session: ReadSessionDep, user: CurrentUser
) -> FileResponse:
    """A picture of the job (SVG or PNG) for the tablet; 404 when there is none."""
    job = job_service.get_job(session, job_id, user)
    path = job_service.job_preview(session=session, store=ctx.store, profiles=ctx.profiles, job=job)
    if path is None:
        raise NotFound(f"job {job_id} has no preview")
    media = {"svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg"}
    return FileResponse(
        path, media_type=media.get(path.suffix.lstrip("."), "application/octet-stream")
    )


def _action_route(action: str) -> None:
    def handler(job_id: int, ctx: CtxDep, session: SessionDep, user: CurrentUser) -> JobPublic:
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
