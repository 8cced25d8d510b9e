"""Taking an offline node's work back from the board's banner."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.api.nodes import this_node
from fabqueue.services import nodes as node_service
from fabqueue.web.guards import local_path
from fabqueue.web.page import StaffPage

router = APIRouter()


@router.post("/nodes/{name}/take-back")
def take_back(
    name: str,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """The same service as ``POST /api/v1/nodes/{name}/take-back``."""

    def change(session: Session) -> None:
        node_service.take_back(
            session=session,
            name=name,
            user=page.me,
            now=page.ctx.clock.now(),
            offline_after_s=page.ctx.settings.offline_after_s,
            here=this_node(page.ctx),
        )

    return page.act(csrf, idem, change, local_path(next))
