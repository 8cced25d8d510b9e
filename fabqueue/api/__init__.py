"""JSON API under /api/v1. Routers are thin: parse, call a service, return *Public."""

from fastapi import APIRouter

from fabqueue.api import (
    clients,
    events,
    health,
    invoices,
    jobs,
    machines,
    quotes,
    reports,
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
api_router.include_router(invoices.router)
api_router.include_router(reports.router)

__all__ = ["api_router"]
