"""A machine's page: what is on it, what is loaded, in or out of service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.services import counter
from fabqueue.services import machines as machine_service
from fabqueue.services.errors import ServiceError
from fabqueue.web.page import Page, StaffPage, site_tz

router = APIRouter()


def _start_of_day(page: Page) -> datetime:
    tz = site_tz(page.ctx)
    today = page.ctx.clock.now().astimezone(tz).date()
    return datetime.combine(today, time(0), tzinfo=tz)


def _render(page: Page, slug: str, error: str | None = None, status: int = 200) -> Response:
    with page.ctx.read_sessions() as session:
        card = counter.machine_card(session, slug, page.ctx.clock.now(), page.ctx.profiles)
        today = counter.machine_jobs_today(session, slug, since=_start_of_day(page))
    profile = page.ctx.profiles.machines.get(slug)
    materials = [
        m
        for m in page.ctx.profiles.materials.values()
        if m.kind == card.record.kind
        and (not profile or not profile.materials or m.slug in profile.materials)
    ]
    return page.render(
        "pages/machine.html",
        {
            "card": card,
            "today": today,
            "materials": materials,
            "profiles": page.ctx.profiles,
            "error": error,
        },
        status=status,
    )


def _refused(page: Page, slug: str) -> Callable[[ServiceError], Response]:
    return lambda exc: _render(page, slug, exc.message, 422)


@router.get("/machines/{slug}")
def machine_page(slug: str, page: StaffPage) -> Response:
    return _render(page, slug)


@router.post("/machines/{slug}/material")
def load_material(
    slug: str,
    page: StaffPage,
    material: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        machine_service.set_material(
            session=session,
            profiles=page.ctx.profiles,
            slug=slug,
            material=material or None,
            at=page.ctx.clock.now(),
        )

    return page.act(csrf, idem, change, f"/machines/{slug}", _refused(page, slug))


@router.post("/machines/{slug}/service")
def service(
    slug: str,
    page: StaffPage,
    in_service: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
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

    return page.act(csrf, idem, change, f"/machines/{slug}", _refused(page, slug))
