"""iCalendar feeds: secret addresses calendar apps subscribe to, revocable."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from fabqueue.api.deps import CtxDep, CurrentUser, IdPath, ReadSessionDep, SessionDep
from fabqueue.models.types import MAX_ID
from fabqueue.services import calendars as service
from fabqueue.services.bookings import tz_of

router = APIRouter(tags=["calendars"])


class FeedRequest(BaseModel):
    machine: str | None = None
    member_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class FeedPublic(BaseModel):
    id: int
    url: str
    """Shown once: keep it secret, revoke it if it leaks."""


@router.post("/calendars", status_code=status.HTTP_201_CREATED, response_model=FeedPublic)
def create_feed(
    ctx: CtxDep, session: SessionDep, user: CurrentUser, data: FeedRequest, request: Request
) -> FeedPublic:
    row, token = service.create_token(
        session, user, machine=data.machine, member_id=data.member_id, at=ctx.clock.now()
    )
    assert row.id is not None
    return FeedPublic(id=row.id, url=str(request.url_for("calendar_feed", token=token)))


@router.post("/calendars/{feed_id}/revoke", status_code=status.HTTP_204_NO_CONTENT)
def revoke_feed(ctx: CtxDep, session: SessionDep, user: CurrentUser, feed_id: IdPath) -> None:
    service.revoke_token(session, feed_id, user, ctx.clock.now())


@router.get("/calendars/{token}.ics", name="calendar_feed", response_class=Response)
def calendar_feed(ctx: CtxDep, session: ReadSessionDep, token: str) -> Response:
    """No sign-in: the token in the address is the secret."""
    body = service.feed(session, token, tz_of(ctx.profiles), ctx.clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8")
