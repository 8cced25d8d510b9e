"""When a machine can be booked, for the person asking (or, for staff, a member)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from fabqueue.api.deps import CtxDep, CurrentUser, OptionalIdQuery, ReadSessionDep
from fabqueue.models import User
from fabqueue.services import bookings
from fabqueue.services.availability import Status, machine_availability
from fabqueue.services.errors import Forbidden, NotFound
from fabqueue.services.trainings import machine_ref, usage_problem

router = APIRouter(tags=["bookings"])


class SegmentPublic(BaseModel):
    starts_at: datetime
    ends_at: datetime
    starts_local: str
    ends_local: str
    status: Status
    reason: str | None
    mine: bool


class AvailabilityPublic(BaseModel):
    machine: str
    timezone: str
    member_id: int | None
    authorised: bool
    why_not: str | None
    """Why the member may not book this machine at all (their authorisation)."""
    segments: list[SegmentPublic]


@router.get("/availability", response_model=AvailabilityPublic)
def availability(
    ctx: CtxDep,
    session: ReadSessionDep,
    user: CurrentUser,
    machine: str,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    member: OptionalIdQuery = None,
) -> AvailabilityPublic:
    """Free ranges and, for every other range, why: closed, blocked, booked, or beyond
    the booking window."""
    viewer = user
    if member is not None and member != user.id:
        if not user.is_staff:
            raise Forbidden("on ne consulte que ses propres disponibilités")
        found = session.get(User, member)
        if found is None:
            raise NotFound(f"no user {member}")
        viewer = found
    ref = machine_ref(session, machine)
    cal = bookings.calendar_for(ctx.profiles, machine)
    now = ctx.clock.now()
    segments = machine_availability(session, cal, machine, viewer, start, end, now)
    why_not = usage_problem(session, viewer, ref, max(now, start), cal.tz)
    return AvailabilityPublic(
        machine=machine,
        timezone=str(cal.tz),
        member_id=viewer.id,
        authorised=why_not is None,
        why_not=why_not,
        segments=[
            SegmentPublic(
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                starts_local=s.starts_at.astimezone(cal.tz).isoformat(),
                ends_local=s.ends_at.astimezone(cal.tz).isoformat(),
                status=s.status,
                reason=s.reason,
                mine=s.mine,
            )
            for s in segments
        ],
    )
