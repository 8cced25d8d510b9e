"""The admins' pages (people, prices and profiles) and the staff's running of the café
(trainings, blocked time, machines in or out of service)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from fabqueue.models import Role
from fabqueue.web.routes.admin import cafe, people, profiles, trainings
from fabqueue.web.routes.admin.access import StaffPage

router = APIRouter()


@router.get("/admin")
def admin_home(page: StaffPage) -> Response:
    assert page.user is not None
    return page.render("pages/admin/index.html", {"is_admin": page.user.role == Role.admin})


for _part in (people.router, trainings.router, cafe.router, profiles.router):
    router.include_router(_part)
