"""The café: opening hours and closures (read from site.toml, changed there), machine
time blocked by staff, and the machines in or out of service. Staff; the bookings and
machine services decide."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.models.bookings import BlockCreate
from fabqueue.profiles.booking import DAYS, BookingPolicy
from fabqueue.services import bookings, counter
from fabqueue.services import machines as machine_service
from fabqueue.services.errors import ServiceError
from fabqueue.services.hours import Calendar
from fabqueue.web.page import Page, site_tz
from fabqueue.web.routes.admin.access import IdPath, StaffPage, local_time, refusal

router = APIRouter()

CLOSURES_AHEAD = timedelta(days=366)


def _policy(page: Page) -> BookingPolicy:
    site = page.ctx.profiles.site
    return site.booking if site is not None else BookingPolicy()


def _cafe(page: Page, *, error: str | None = None, status: int = 200, **form: str) -> Response:
    now = page.ctx.clock.now()
    tz = site_tz(page.ctx)
    policy = _policy(page)
    cal = Calendar(policy, tz)
    with page.ctx.read_sessions() as session:
        blocked = bookings.blocks(session, machine=None, starts=now, ends=None)
        machines = machine_service.list_machines(session)
    names = {m.slug: m.name for m in machines}
    return page.render(
        "pages/admin/cafe.html",
        {
            "hours": [(i, list(getattr(policy.hours, d))) for i, d in enumerate(DAYS)],
            "closures": cal.closures(now, now + CLOSURES_AHEAD),
            "tz": str(tz),
            "blocked": blocked,
            "machines": machines,
            "names": names,
            "today": now.astimezone(tz).date().isoformat(),
            "error": error,
            "form": form,
        },
        status=status,
    )


def _refused(page: Page, **form: str) -> Callable[[ServiceError], Response]:
    """A refusal: the café's page again, the reason and what was typed kept."""
    return lambda exc: _cafe(page, error=refusal(page, exc), status=exc.status_code, **form)


@router.get("/admin/cafe")
def cafe_page(page: StaffPage) -> Response:
    return _cafe(page)


@router.post("/admin/cafe/blocks")
def block(
    page: StaffPage,
    machine: Annotated[str, Form(max_length=64)] = "",
    day: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    typed = {"machine": machine, "day": day, "start": start, "end": end, "reason": reason}

    def change(session: Session) -> None:
        data = BlockCreate(
            machine=machine,
            starts_at=local_time(page, day, start),
            ends_at=local_time(page, day, end),
            reason=reason,
        )
        bookings.block(session, data, page.me, page.ctx.clock.now())

    return page.act(csrf, idem, change, "/admin/cafe", _refused(page, **typed))


@router.post("/admin/cafe/blocks/{block_id}/remove")
def unblock(
    block_id: IdPath,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        bookings.unblock(session, block_id, page.me, page.ctx.clock.now())

    return page.act(csrf, idem, change, "/admin/cafe", _refused(page))


@router.post("/admin/cafe/machines/{slug}/service")
def machine_service_state(
    slug: str,
    page: StaffPage,
    in_service: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        counter.set_service_with_reason(
            session=session,
            slug=slug,
            in_service=in_service == "1",
            reason=reason,
            at=page.ctx.clock.now(),
        )

    return page.act(csrf, idem, change, "/admin/cafe", _refused(page))
