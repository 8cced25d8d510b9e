"""Server-sent events: job and machine changes, live, for the tablet and scripts.

Staff see every event. Members and clients see their own jobs' events in full and the
machines' states without anyone's job, name or message (docs/permissions.md).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from fabqueue.api.deps import CtxDep, CurrentUser, optional_user, unauthorized, user_for
from fabqueue.context import AppContext
from fabqueue.events import EventBus, Message
from fabqueue.models import Job, User
from fabqueue.services.machines import anonymous_status

router = APIRouter(tags=["events"])

HEARTBEAT_S = 15.0


class StreamTicket(BaseModel):
    ticket: str
    """Open ``/api/v1/events?ticket=…`` with it, once, within ``expires_in_s``."""
    expires_in_s: float


@router.post("/events/ticket", response_model=StreamTicket)
async def stream_ticket(ctx: CtxDep, user: CurrentUser) -> StreamTicket:
    """A one-connection ticket for the event stream, for browsers' ``EventSource``, which
    cannot send an Authorization header (a token in a URL ends up in logs and history)."""
    ticket = ctx.tickets.issue(user, ctx.clock.monotonic())
    return StreamTicket(ticket=ticket, expires_in_s=ctx.tickets.ttl_s)


async def stream_user(
    ctx: CtxDep,
    user: Annotated[User | None, Depends(optional_user)],
    ticket: Annotated[str | None, Query(description="from POST /events/ticket")] = None,
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> User:
    """The stream alone takes a credential in its URL: a ticket, or (for older scripts,
    during the transition) ``?access_token=``."""
    if user is None and ticket:
        user = ctx.tickets.take(ticket, ctx.clock.monotonic())
    if user is None and access_token:
        user = await user_for(ctx, access_token)
    if user is None:
        raise unauthorized()
    return user


# --- what each subscriber may see --------------------------------------------------------

OwnerOf = Callable[[int], Awaitable[int | None]]


def _anonymous_status(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": payload.get("machine"),
        "status": anonymous_status(payload.get("status") or {}),
    }


async def visible(message: Message, user: User, owner_of: OwnerOf) -> dict[str, Any] | None:
    """The payload ``user`` may see of ``message``, or None to send nothing."""
    if user.is_staff:
        return message.payload
    domain = message.topic.split(":")[0]
    if domain == "job":
        job_id = message.payload.get("job_id")
        if isinstance(job_id, int) and await owner_of(job_id) == user.id:
            return message.payload
        return None
    if message.topic == "machine:status":
        return _anonymous_status(message.payload)
    if message.topic in ("machine:runner", "machine:material"):
        return message.payload
    return None


class JobOwners:
    """job id → owner id, which never changes: one read per job, not per event."""

    def __init__(self, ctx: AppContext, size: int = 4096) -> None:
        self.ctx = ctx
        self.size = size
        self._known: OrderedDict[int, int | None] = OrderedDict()

    def _read(self, job_id: int) -> int | None:
        with self.ctx.read_sessions() as session:
            job = session.get(Job, job_id)
            return job.owner_id if job is not None else None

    async def __call__(self, job_id: int) -> int | None:
        if job_id in self._known:
            self._known.move_to_end(job_id)
            return self._known[job_id]
        owner = await run_in_threadpool(self._read, job_id)
        if owner is not None:
            self._known[job_id] = owner
            if len(self._known) > self.size:
                self._known.popitem(last=False)
        return owner


def _owners(request: Request, ctx: AppContext) -> JobOwners:
    owners: JobOwners | None = getattr(request.app.state, "job_owners", None)
    if owners is None or owners.ctx is not ctx:
        owners = request.app.state.job_owners = JobOwners(ctx)
    return owners


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request,
    ctx: CtxDep,
    user: Annotated[User, Depends(stream_user)],
    topics: Annotated[list[str] | None, Query(description="e.g. job, machine:status")] = None,
) -> StreamingResponse:
    """``text/event-stream``: one event per message, named by its topic
    (``job:state_changed``, ``job:progress``, ``machine:status``…). Authenticate with a
    bearer token, or from a browser with ``?ticket=`` (``POST /events/ticket``)."""
    owner_of = _owners(request, ctx)

    async def line(message: Message) -> str | None:
        payload = await visible(message, user, owner_of)
        if payload is None:
            return None
        data = json.dumps(payload, separators=(",", ":"))
        return f"id: {message.id}\nevent: {message.topic}\ndata: {data}\n\n"

    return event_stream(request, ctx.bus, topics, ": connected\n\n", line)


def event_stream(
    request: Request,
    bus: EventBus,
    topics: Iterable[str] | None,
    hello: str,
    line: Callable[[Message], Awaitable[str | None]],
) -> StreamingResponse:
    """A ``text/event-stream`` of ``hello``, then ``line(message)`` for each message on
    ``topics`` (None: nothing for that one), until the client goes. A comment every
    ``HEARTBEAT_S`` keeps proxies from closing a quiet stream. The API's stream and the
    pages' live streams are all this one."""

    async def stream() -> AsyncIterator[str]:
        async with bus.subscribe(topics) as queue:
            yield hello
            while not await request.is_disconnected():
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                text = await line(message)
                if text is not None:
                    yield text

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
