"""The café: opening hours and closures (read from site.toml, changed there), machine
time blocked by staff, and the machines in or out of service. Staff; the bookings and
machine services decide."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from fabqueue.models.bookings import BlockCreate
from fabqueue.profiles.booking import DAYS, BookingPolicy
from fabqueue.services import bookings, counter
from fabqueue.services import machines as machine_service
from fabqueue.services.errors import ServiceError
from fabqueue.services.hours import Calendar
from fabqueue.web.page import Page, once, site_tz
from fabqueue.web.routes.admin.access import FormProblem, IdPath, StaffPage, in_words, local_time

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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user
    typed = {"machine": machine, "day": day, "start": start, "end": end, "reason": reason}

    def run() -> Response:
        try:
            data = BlockCreate(
                machine=machine,
                starts_at=local_time(page, day, start),
                ends_at=local_time(page, day, end),
                reason=reason,
            )
            with page.ctx.sessions() as session:
                bookings.block(session, data, by, page.ctx.clock.now())
        except FormProblem as exc:
            return _cafe(page, error=exc.message, status=422, **typed)
        except ServiceError as exc:
            return _cafe(page, error=in_words(page, exc.message), status=exc.status_code, **typed)
        return page.redirect("/admin/cafe")

    return once(page, idem, run)


@router.post("/admin/cafe/blocks/{block_id}/remove")
def unblock(
    block_id: IdPath,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            with page.ctx.sessions() as session:
                bookings.unblock(session, block_id, by, page.ctx.clock.now())
        except ServiceError as exc:
            return _cafe(page, error=in_words(page, exc.message), status=exc.status_code)
        return page.redirect("/admin/cafe")

    return once(page, idem, run)


@router.post("/admin/cafe/machines/{slug}/service")
def machine_service_state(
    slug: str,
    page: StaffPage,
    in_service: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)

    def run() -> Response:
        try:
            with page.ctx.sessions() as session:
                counter.set_service_with_reason(
                    session=session,
                    slug=slug,
                    in_service=in_service == "1",
                    reason=reason,
                    at=page.ctx.clock.now(),
                )
        except ServiceError as exc:
            return _cafe(page, error=in_words(page, exc.message), status=exc.status_code)
        return page.redirect("/admin/cafe")

    return once(page, idem, run)
