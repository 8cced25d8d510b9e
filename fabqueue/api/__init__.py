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
    jobs,
    machines,
    privacy,
    quotes,
    reports,
    trainings,
    users,
)

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(machines.router)
api_router.include_router(jobs.router)
api_router.include_router(events.router)
api_router.include_router(users.router)
api_router.include_router(clients.router)
api_router.include_router(quotes.router)
api_router.include_router(reports.router)
api_router.include_router(activity.router)
api_router.include_router(trainings.router)
api_router.include_router(bookings.router)
api_router.include_router(availability.router)
api_router.include_router(calendars.router)
api_router.include_router(privacy.router)

__all__ = ["api_router"]
