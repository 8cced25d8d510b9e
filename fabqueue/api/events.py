"""Server-sent events: job and machine changes, live, for the tablet and scripts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from fabqueue.api.deps import CtxDep, CurrentUser

router = APIRouter(tags=["events"])

HEARTBEAT_S = 15.0


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request,
    ctx: CtxDep,
    _user: CurrentUser,
    topics: Annotated[list[str] | None, Query(description="e.g. job, machine:status")] = None,
) -> StreamingResponse:
    """``text/event-stream``: one event per message, named by its topic
    (``job:state_changed``, ``job:progress``, ``machine:status``…)."""

    async def stream() -> AsyncIterator[str]:
        async with ctx.bus.subscribe(topics) as queue:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                data = json.dumps(message.payload, separators=(",", ":"))
                yield f"id: {message.id}\nevent: {message.topic}\ndata: {data}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
