"""A trained member's own pages: their authorisations and trainings, booking machine
time, and their jobs. Each route calls the services the API and the CLI call."""

from __future__ import annotations

from fastapi import APIRouter

from fabqueue.web.routes.member import booking, home, work

router = APIRouter()
for _part in (home.router, booking.router, work.router):
    router.include_router(_part)

__all__ = ["router"]
