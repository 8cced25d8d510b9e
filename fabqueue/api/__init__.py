"""JSON API under /api/v1. Routers are thin: parse, call a service, return *Public."""

from fastapi import APIRouter

from fabqueue.api import (
    activity,
    availability,
    bookings,
    calendars,
    clients,
    events,
    health,
    intake,
    invoices,
    jobs,
    machines,
    nodes,
    privacy,
    quotes,
    reports,
    trainings,
    users,
)
from fabqueue.api.errors import COMMON, UPLOADS, WRITES

api_router = APIRouter(responses=COMMON)
api_router.include_router(health.router)
api_router.include_router(machines.router, responses=WRITES)
api_router.include_router(jobs.router, responses=UPLOADS)
api_router.include_router(events.router)
api_router.include_router(users.router, responses=WRITES)
api_router.include_router(clients.router, responses=WRITES)
api_router.include_router(quotes.router, responses=UPLOADS)
api_router.include_router(reports.router, responses=WRITES)
api_router.include_router(activity.router, responses=WRITES)
api_router.include_router(trainings.router, responses=WRITES)
api_router.include_router(bookings.router, responses=WRITES)
api_router.include_router(availability.router, responses=WRITES)
api_router.include_router(calendars.router)
api_router.include_router(privacy.router, responses=WRITES)
api_router.include_router(intake.router, responses=UPLOADS)
api_router.include_router(invoices.router, responses=WRITES)
api_router.include_router(nodes.router, responses=WRITES)

__all__ = ["api_router"]
