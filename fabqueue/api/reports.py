"""Reports for staff: estimates against actuals, per machine kind."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from fabqueue.api.deps import CtxDep, IdPath, ReadSessionDep, SessionDep, StaffUser
from fabqueue.services import reports as svc

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/estimates", response_model=list[svc.KindReport])
def estimates(
    session: ReadSessionDep,
    _user: StaffUser,
    since: datetime | None = None,
    quotes_only: bool = False,
) -> list[svc.KindReport]:
    """Per machine kind: median and worst ratio of actual to estimated machine time and
    material (1.0 = spot on; 1.25 = took 25 % more), over finished jobs."""
    return svc.estimates(session, since=since, quotes_only=quotes_only)


@router.put("/actuals/{job_id}", response_model=svc.ActualPublic)
def record_actual(
    job_id: IdPath, body: svc.ActualIn, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> svc.ActualPublic:
    """What the job really took, entered by the operator (machines that cannot report
    it, material weighed or measured after the job)."""
    row = svc.record_actual(
        session=session, user=user, job_id=job_id, data=body, at=ctx.clock.now()
    )
    return svc.ActualPublic.model_validate(row, from_attributes=True)
