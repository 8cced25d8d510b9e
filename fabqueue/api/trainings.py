"""Trainings, their sessions, enrolment and validation; a member's authorisations."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field
from sqlmodel import col, select

from fabqueue.api.deps import CtxDep, CurrentUser, IdPath, ReadSessionDep, SessionDep, StaffUser
from fabqueue.models import Authorisation, Training, TrainingSession
from fabqueue.models.trainings import (
    AuthorisationPublic,
    SessionCreate,
    SessionPublic,
    TrainingCreate,
    TrainingPublic,
)
from fabqueue.models.types import MAX_ID
from fabqueue.services import trainings as service
from fabqueue.services.bookings import tz_of
from fabqueue.services.errors import Forbidden

router = APIRouter(tags=["trainings"])


class EnrolRequest(BaseModel):
    member_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    """Staff enrol someone; a member leaves it out to enrol themself."""


class ValidateRequest(BaseModel):
    member_ids: list[int]


class GrantRequest(BaseModel):
    machine: str
    """A machine slug, or a machine kind (every machine of it)."""
    expires_at: datetime | None = None
    unused_months: int | None = Field(default=None, ge=1, le=1200)
    reason: str | None = None


class RevokeRequest(BaseModel):
    reason: str


def _training(t: Training) -> TrainingPublic:
    return TrainingPublic.model_validate(t, from_attributes=True)


def _session(session: ReadSessionDep, ts: TrainingSession) -> SessionPublic:
    assert ts.id is not None
    out = SessionPublic.model_validate(ts, from_attributes=True)
    out.enrolled = [
        {"member_id": e.member_id, "validated_at": e.validated_at}
        for e in service.enrolments(session, ts.id)
    ]
    return out


def _auth(ctx: CtxDep, session: ReadSessionDep, a: Authorisation) -> AuthorisationPublic:
    out = AuthorisationPublic.model_validate(a, from_attributes=True)
    out.why_not = service.problem_with(session, a, ctx.clock.now(), tz_of(ctx.profiles))
    out.valid = out.why_not is None
    return out


@router.get("/trainings", response_model=list[TrainingPublic])
def list_trainings(session: ReadSessionDep, _user: CurrentUser) -> list[TrainingPublic]:
    return [_training(t) for t in session.exec(select(Training).order_by(col(Training.name)))]


@router.post("/trainings", status_code=status.HTTP_201_CREATED, response_model=TrainingPublic)
def create_training(
    ctx: CtxDep, session: SessionDep, user: StaffUser, data: TrainingCreate
) -> TrainingPublic:
    t = service.create_training(session, data, user, ctx.clock.now())
    return _training(t)


@router.get("/trainings/{training_id}/sessions", response_model=list[SessionPublic])
def list_sessions(
    session: ReadSessionDep, _user: CurrentUser, training_id: IdPath
) -> list[SessionPublic]:
    service.get_training(session, training_id)
    rows = session.exec(
        select(TrainingSession)
        .where(TrainingSession.training_id == training_id)
        .order_by(col(TrainingSession.starts_at))
    )
    return [_session(session, ts) for ts in rows]


@router.post(
    "/trainings/{training_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionPublic,
)
def create_session(
    ctx: CtxDep, session: SessionDep, user: StaffUser, training_id: IdPath, data: SessionCreate
) -> SessionPublic:
    ts = service.create_session(session, training_id, data, user, ctx.clock.now())
    return _session(session, ts)


@router.post("/trainings/sessions/{session_id}/enrolments", status_code=status.HTTP_201_CREATED)
def enrol(
    ctx: CtxDep, session: SessionDep, user: CurrentUser, session_id: IdPath, data: EnrolRequest
) -> dict[str, int]:
    assert user.id is not None
    e = service.enrol(session, session_id, data.member_id or user.id, user, ctx.clock.now())
    assert e.id is not None
    return {"id": e.id, "session_id": e.session_id, "member_id": e.member_id}


@router.post("/trainings/sessions/{session_id}/validate", response_model=list[AuthorisationPublic])
def validate(
    ctx: CtxDep, session: SessionDep, user: StaffUser, session_id: IdPath, data: ValidateRequest
) -> list[AuthorisationPublic]:
    granted = service.validate(session, session_id, data.member_ids, user, ctx.clock.now())
    return [_auth(ctx, session, a) for a in granted]


@router.get("/users/{user_id}/authorisations", response_model=list[AuthorisationPublic])
def list_authorisations(
    ctx: CtxDep, session: ReadSessionDep, user: CurrentUser, user_id: IdPath
) -> list[AuthorisationPublic]:
    if user_id != user.id and not user.is_staff:
        raise Forbidden("on ne voit que ses propres habilitations")
    return [_auth(ctx, session, a) for a in service.authorisations(session, user_id)]


@router.post(
    "/users/{user_id}/authorisations",
    status_code=status.HTTP_201_CREATED,
    response_model=AuthorisationPublic,
)
def grant(
    ctx: CtxDep, session: SessionDep, user: StaffUser, user_id: IdPath, data: GrantRequest
) -> AuthorisationPublic:
    a = service.grant(
        session,
        member_id=user_id,
        machine=data.machine,
        by=user,
        at=ctx.clock.now(),
        expires_at=data.expires_at,
        unused_months=data.unused_months,
        reason=data.reason,
    )
    return _auth(ctx, session, a)


@router.post("/users/{user_id}/authorisations/{auth_id}/revoke", response_model=AuthorisationPublic)
def revoke(
    ctx: CtxDep,
    session: SessionDep,
    user: StaffUser,
    user_id: IdPath,
    auth_id: IdPath,
    data: RevokeRequest,
) -> AuthorisationPublic:
    a = service.revoke(session, auth_id, data.reason, user, ctx.clock.now(), member_id=user_id)
    return _auth(ctx, session, a)
