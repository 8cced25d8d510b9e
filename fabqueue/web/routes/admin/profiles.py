"""The machine, material and price profiles as the service runs them, and what
``check-profiles`` finds wrong in the files now. Read only: profiles are files an admin
edits on the node (docs/permissions.md). Admins only."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from fabqueue.services import profile_check
from fabqueue.web.routes.admin.access import AdminPage

router = APIRouter()


@router.get("/admin/profiles")
def profiles_page(page: AdminPage) -> Response:
    profiles = page.ctx.profiles
    return page.render(
        "pages/admin/profiles.html",
        {
            "machines": sorted(profiles.machines.values(), key=lambda m: m.name),
            "materials": sorted(profiles.materials.values(), key=lambda m: (m.kind, m.name)),
            "prices": profiles.prices,
            "site": profiles.site,
            "problems": profile_check.problems(profiles.root),
        },
    )
