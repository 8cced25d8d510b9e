"""Bookings of machine time and staff-blocked time. Every rule is in the service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from fabqueue.api.deps import (
    CtxDep,
    CurrentUser,
    IdPath,
    OptionalIdQuery,
    ReadSessionDep,
    SessionDep,
    StaffUser,
)
from fabqueue.models import BlockedTime, BookingEvent
from fabqueue.models.bookings import BlockCreate, BookingCreate, BookingMove, BookingPublic
from fabqueue.services import bookings as service

router = APIRouter(tags=["bookings"])


class CancelRequest(BaseModel):
    reason: str | None = None


@router.get("/bookings", response_model=list[BookingPublic])
def list_bookings(
    ctx: CtxDep,
    session: ReadSessionDep,
    user: CurrentUser,
    machine: str | None = None,
    member: OptionalIdQuery = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    cancelled: bool = False,
) -> list[BookingPublic]:
    """Staff see all; a member sees their own, and on a machine when it is busy (not who
    booked)."""
    rows = service.listing(
        session,
        user,
        machine=machine,
        member_id=member,
        starts=start,
        ends=end,
        cancelled=cancelled,
    )
    tz = service.tz_of(ctx.profiles)
    return [service.public(b, user, tz) for b in rows]


@router.post("/bookings", status_code=status.HTTP_201_CREATED, response_model=BookingPublic)
def create_booking(
    ctx: CtxDep, session: SessionDep, read: ReadSessionDep, user: CurrentUser, data: BookingCreate
) -> BookingPublic:
    b = service.create(session, ctx.profiles, data, user, ctx.clock.now(), read=read)
    return service.public(b, user, service.tz_of(ctx.profiles))


@router.get("/bookings/{booking_id}", response_model=BookingPublic)
def get_booking(
    ctx: CtxDep, session: ReadSessionDep, user: CurrentUser, booking_id: IdPath
) -> BookingPublic:
    return service.public(service.get(session, booking_id, user), user, service.tz_of(ctx.profiles))


@router.get("/bookings/{booking_id}/events", response_model=list[BookingEvent])
def booking_events(
    session: ReadSessionDep, user: CurrentUser, booking_id: IdPath
) -> list[BookingEvent]:
    return service.history(session, booking_id, user)


@router.post("/bookings/{booking_id}/move", response_model=BookingPublic)
def move_booking(
    ctx: CtxDep, session: SessionDep, user: CurrentUser, booking_id: IdPath, data: BookingMove
) -> BookingPublic:
    b = service.move(
        session, ctx.profiles, booking_id, data.starts_at, data.ends_at, user, ctx.clock.now()
    )
    return service.public(b, user, service.tz_of(ctx.profiles))


@router.post("/bookings/{booking_id}/cancel", response_model=BookingPublic)
def cancel_booking(
    ctx: CtxDep,
    session: SessionDep,
    user: CurrentUser,
    booking_id: IdPath,
    data: CancelRequest | None = None,
) -> BookingPublic:
    reason = data.reason if data else None
    b = service.cancel(session, ctx.profiles, booking_id, user, ctx.clock.now(), reason)
    return service.public(b, user, service.tz_of(ctx.profiles))


@router.post("/bookings/{booking_id}/no-show", response_model=BookingPublic)
def no_show(ctx: CtxDep, session: SessionDep, user: StaffUser, booking_id: IdPath) -> BookingPublic:
    b = service.no_show(session, booking_id, user, ctx.clock.now())
    return service.public(b, user, service.tz_of(ctx.profiles))


@router.post("/blocked-times", status_code=status.HTTP_201_CREATED, response_model=BlockedTime)
def block(ctx: CtxDep, session: SessionDep, user: StaffUser, data: BlockCreate) -> BlockedTime:
    return service.block(session, data, user, ctx.clock.now())


@router.get("/blocked-times", response_model=list[BlockedTime])
def list_blocks(
    session: ReadSessionDep,
    _user: CurrentUser,
    machine: str | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> list[BlockedTime]:
    return service.blocks(session, machine=machine, starts=start, ends=end)


@router.post("/blocked-times/{block_id}/cancel", response_model=BlockedTime)
def unblock(ctx: CtxDep, session: SessionDep, user: StaffUser, block_id: IdPath) -> BlockedTime:
    return service.unblock(session, block_id, user, ctx.clock.now())
