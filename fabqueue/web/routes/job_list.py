"""« Travaux »: every job, for staff looking for one — by state, machine or a word typed
(``services/job_list.py``), a page at a time. Acting on a row posts to the board's
``/jobs/{id}/do/{action}`` with this page as where to come back to."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.responses import Response

from fabqueue.services import job_list
from fabqueue.services import machines as machine_service
from fabqueue.services.job_list import JobFilter, View
from fabqueue.web.page import StaffPage

router = APIRouter()

MAX_Q = 120


def page_url(f: JobFilter, after: str | None = None, view: View | None = None) -> str:
    """This page with these filters (only the ones set), at the page after ``after``."""
    params = [
        ("state", (view or f.view).value),
        ("machine", f.machine or ""),
        ("q", f.q),
        ("after", after or ""),
    ]
    query = urlencode([(k, v) for k, v in params if v and (k, v) != ("state", "all")])
    return f"/jobs?{query}" if query else "/jobs"


@router.get("/jobs")
def jobs_page(
    page: StaffPage,
    state: str | None = None,
    machine: str | None = None,
    q: str = "",
    after: str | None = None,
) -> Response:
    assert page.user is not None
    f = JobFilter(view=job_list.view_of(state), machine=machine or None, q=q.strip()[:MAX_Q])
    after = after or None
    with page.ctx.read_sessions() as session:
        listing = job_list.job_listing(
            session, page.ctx.profiles, page.user, f, after=after, prices=page.web.prices
        )
        machines = machine_service.all_machines(session)
        here = page_url(f, after)
        return page.render(
            "pages/jobs.html",
            {
                "listing": listing,
                "filter": f,
                "views": list(View),
                "machines": machines,
                "profiles": page.ctx.profiles,
                "here": here,
                "live_url": here + ("&" if "?" in here else "?") + "bg=1",
                "next_url": page_url(f, listing.next_key) if listing.next_key else None,
                "first_url": page_url(f) if after else None,
                "clear_url": page_url(JobFilter(view=f.view)),
                "view_url": {v: page_url(f, view=v) for v in View},
            },
        )
