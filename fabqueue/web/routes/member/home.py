"""« Mes habilitations »: the machines a member may use and until when, and the training
sessions that would let them use the others."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.services import members, trainings
from fabqueue.services.booking_rules import policy_of
from fabqueue.web.page import Page
from fabqueue.web.routes.member.access import HOME, MemberPage, refusal_words

router = APIRouter()


def _home(page: Page, error: str | None = None, status: int = 200) -> Response:
    assert page.user is not None
    now = page.ctx.clock.now()
    with page.ctx.read_sessions() as session:
        context: dict[str, Any] = {
            "rights": members.rights(session, page.ctx.profiles, page.user, now),
            "offers": members.upcoming_sessions(session, page.user, now),
            "bookings": members.upcoming_bookings(session, page.user, now)[:3],
            "error": error,
            "enrolled": page.request.query_params.get("enrolled"),
            "policy": policy_of(page.ctx.profiles),
            "names": {slug: m.name for slug, m in page.ctx.profiles.machines.items()},
        }
    return page.render("pages/member/home.html", context, status=status)


@router.get(HOME)
def home(page: MemberPage) -> Response:
    return _home(page)


@router.post(HOME + "/sessions/{session_id}/enrol")
def enrol(
    session_id: int,
    page: MemberPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        trainings.enrol(session, session_id, page.me.id or 0, page.me, page.ctx.clock.now())

    return page.act(
        csrf,
        idem,
        change,
        f"{HOME}?enrolled={session_id}",
        lambda exc: _home(page, refusal_words(exc.message), exc.status_code),
    )
