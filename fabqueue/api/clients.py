"""Client organisations (shopkeepers) and their users."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import col, select

from fabqueue.api.deps import (
    AdminUser,
    CtxDep,
    CurrentUser,
    IdPath,
    ReadSessionDep,
    SessionDep,
    StaffUser,
)
from fabqueue.models import Job, JobPublic, JobsPublic, Quote, QuoteJob
from fabqueue.models.clients import (
    ClientUserIn,
    ClientUserPublic,
    OrganisationIn,
    OrganisationPublic,
)
from fabqueue.services import clients as svc

router = APIRouter(prefix="/clients", tags=["clients"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrganisationPublic)
def create(
    body: OrganisationIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> OrganisationPublic:
    """Staff; a price group or adjustment, admins only."""
    org = svc.create_organisation(
        session=session, data=body, profiles=ctx.profiles, at=ctx.clock.now(), by=user
    )
    return svc.to_public(org)


@router.get("", response_model=list[OrganisationPublic])
def list_all(
    session: ReadSessionDep, _user: StaffUser, include_inactive: bool = False
) -> list[OrganisationPublic]:
    return [
        svc.to_public(o) for o in svc.list_organisations(session, include_inactive=include_inactive)
    ]


@router.get("/me", response_model=OrganisationPublic)
def mine(session: ReadSessionDep, user: CurrentUser) -> OrganisationPublic:
    """The organisation the logged-in client acts for."""
    return svc.to_public(svc.require_organisation(session, user))


@router.get("/{org_id}", response_model=OrganisationPublic)
def get(org_id: IdPath, session: ReadSessionDep, user: CurrentUser) -> OrganisationPublic:
    return svc.to_public(svc.get_organisation(session, org_id, user))


@router.put("/{org_id}", response_model=OrganisationPublic)
def replace(
    org_id: IdPath, body: OrganisationIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> OrganisationPublic:
    """Staff; changing the price group or adjustment, admins only."""
    org = svc.update_organisation(
        session=session,
        org_id=org_id,
        data=body,
        profiles=ctx.profiles,
        at=ctx.clock.now(),
        by=user,
    )
    return svc.to_public(org)


@router.post(
    "/{org_id}/users", status_code=status.HTTP_201_CREATED, response_model=ClientUserPublic
)
def add_user(
    org_id: IdPath, body: ClientUserIn, ctx: CtxDep, session: SessionDep, _user: AdminUser
) -> ClientUserPublic:
    """A new client user (its API token is in the answer, once) or an existing one.
    Admins only: it makes an account and its credentials."""
    result = svc.add_user(session=session, org_id=org_id, data=body, at=ctx.clock.now())
    return result


@router.get("/{org_id}/users", response_model=list[ClientUserPublic])
def users(org_id: IdPath, session: ReadSessionDep, _user: StaffUser) -> list[ClientUserPublic]:
    return [
        ClientUserPublic(user_id=u.id or 0, name=u.name, organisation_id=org_id)
        for u in svc.members(session, org_id)
    ]


@router.get("/{org_id}/jobs", response_model=JobsPublic)
def jobs(org_id: IdPath, session: ReadSessionDep, user: CurrentUser) -> JobsPublic:
    """Every job made from the organisation's quotes, newest first."""
    svc.get_organisation(session, org_id, user)
    rows = list(
        session.exec(
            select(Job)
            .join(QuoteJob, col(QuoteJob.job_id) == col(Job.id))
            .join(Quote, col(Quote.id) == col(QuoteJob.quote_id))
            .where(Quote.organisation_id == org_id)
            .order_by(col(Job.id).desc())
        )
    )
    return JobsPublic(
        data=[JobPublic.model_validate(j, from_attributes=True) for j in rows], count=len(rows)
    )
