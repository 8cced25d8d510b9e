"""The counter board, its live stream, and the actions taken from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.api.events import event_stream
from fabqueue.events import Message
from fabqueue.models import Outcome
from fabqueue.services import counter, nodes
from fabqueue.services import jobs as job_service
from fabqueue.services import machines as machine_service
from fabqueue.web.guards import local_path
from fabqueue.web.page import SignedInPage, StaffPage

router = APIRouter()

LIVE_TOPICS = ("job", "machine")
JOB_ACTIONS = frozenset({"hold", "release", "cancel", "resume", "requeue", "pause"})


@router.get("/")
def board_page(page: StaffPage) -> Response:
    with page.ctx.read_sessions() as session:
        data = counter.board(
            session, page.ctx.profiles, now=page.ctx.clock.now(), prices=page.web.prices
        )
        offline = nodes.offline_nodes(
            session,
            now=page.ctx.clock.now(),
            offline_after_s=page.ctx.settings.offline_after_s,
            here=page.ctx.settings.node if page.ctx.dispatcher is not None else None,
        )
        return page.render(
            "pages/board.html",
            {"board": data, "profiles": page.ctx.profiles, "offline_nodes": offline},
        )


@router.get("/live")
async def live(request: Request, page: SignedInPage) -> StreamingResponse:
    """``changed`` whenever a job or a machine changes: each page then fetches its own
    block again (the HTML has one source: the page's template)."""

    async def line(message: Message) -> str:
        return f"id: {message.id}\nevent: changed\ndata: {message.topic}\n\n"

    return event_stream(request, page.ctx.bus, LIVE_TOPICS, "retry: 2000\n\n", line)


@router.post("/jobs/{job_id}/do/{action}")
def job_action(
    job_id: int,
    action: str,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> bool:
        if action in ("up", "down"):
            counter.nudge_priority(
                session=session,
                job_id=job_id,
                user=page.me,
                delta=1 if action == "up" else -1,
                at=page.ctx.clock.now(),
            )
        elif action in JOB_ACTIONS:
            job_service.act(
                session=session, job_id=job_id, action=action, user=page.me, at=page.ctx.clock.now()
            )
        else:
            return False
        return True

    def done(known: bool) -> Response:
        return page.redirect(local_path(next)) if known else Response(status_code=404)

    return page.act(csrf, idem, change, done)


@router.post("/machines/{slug}/outcome")
def machine_outcome(
    slug: str,
    page: StaffPage,
    outcome: Annotated[Outcome, Form()],
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        machine_service.confirm(
            session=session, slug=slug, outcome=outcome, actor=page.me, at=page.ctx.clock.now()
        )

    return page.act(csrf, idem, change, local_path(next))


@router.post("/machines/{slug}/emergency-stop")
def machine_emergency_stop(
    slug: str,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """The same service as ``POST /api/v1/machines/{slug}/emergency-stop``."""

    def change(session: Session) -> None:
        machine_service.emergency_stop(
            session=session, user=page.me, slug=slug, at=page.ctx.clock.now()
        )

    return page.act(csrf, idem, change, local_path(next))
