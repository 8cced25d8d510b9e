from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from fabqueue import __version__
from fabqueue.api.deps import CtxDep, ReadSessionDep
from fabqueue.services.intake import unavailable as intake_unavailable

router = APIRouter(tags=["health"])


@router.get("/health")
def health(ctx: CtxDep, session: ReadSessionDep) -> dict[str, Any]:
    """Is the service up, and can it reach its database? (no token needed)"""
    session.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "version": __version__,
        "node": ctx.settings.node,
        "machines": sorted(ctx.profiles.machines),
        "dispatcher": ctx.dispatcher is not None,
        "unavailable": intake_unavailable(),
    }
