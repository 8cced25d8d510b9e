"""A person's data: export (themself or staff), erase (staff)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fabqueue.api.deps import CtxDep, CurrentUser, IdPath, ReadSessionDep, SessionDep, StaffUser
from fabqueue.services import privacy

router = APIRouter(tags=["users"])


@router.get("/users/{user_id}/export")
def export(session: ReadSessionDep, user: CurrentUser, user_id: IdPath) -> dict[str, Any]:
    """Profile, authorisations, trainings, bookings and jobs, as JSON."""
    return privacy.export(session, user_id, user)


@router.post("/users/{user_id}/erase")
def erase(ctx: CtxDep, session: SessionDep, user: StaffUser, user_id: IdPath) -> dict[str, int]:
    """Name replaced, tokens and feeds ended; bookings and jobs kept, anonymous."""
    kept = privacy.erase(session, user_id, user, ctx.clock.now())
    ctx.tokens.clear()  # the erased person's cached token must stop working now
    return kept
