"""People: the list, a new person, their role, a new password, deactivation, and a
member's data (export, erasure). Admins only; :mod:`fabqueue.services.people` and
:mod:`fabqueue.services.privacy` decide."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.models import Role
from fabqueue.services import people as people_service
from fabqueue.services import privacy, trainings
from fabqueue.services.errors import NotFound, ServiceError
from fabqueue.web.errors import FormError
from fabqueue.web.page import Page, site_tz
from fabqueue.web.routes.admin.access import AdminPage, IdPath, local_time, not_found, refusal
from jobs.base import MachineKind

router = APIRouter()

ROLES = [Role.admin.value, Role.facilitator.value, Role.member.value]
"""The roles given here; client accounts are made from their organisation."""


def _list(page: Page, *, error: str | None = None, status: int = 200, **form: str) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        everyone = people_service.people(session, page.user)
    return page.render(
        "pages/admin/people.html",
        {"people": everyone, "roles": ROLES, "error": error, "form": form},
        status=status,
    )


@router.get("/admin/people")
def people_page(page: AdminPage) -> Response:
    return _list(page)


def _role(page: Page, value: str) -> Role:
    if value not in ROLES:
        raise FormError(page.gettext("Choose a role."))
    return Role(value)


def _password_shown(page: Page, person: people_service.Person, password: str) -> Response:
    return page.render("pages/admin/password.html", {"person": person, "password": password})


@router.post("/admin/people")
def create_person(
    page: AdminPage,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> tuple[people_service.Person, str]:
        return people_service.create(
            session, name=name, role=_role(page, role), by=page.me, at=page.ctx.clock.now()
        )

    return page.act(
        csrf,
        idem,
        change,
        lambda made: _password_shown(page, *made),
        lambda exc: _list(page, error=refusal(page, exc), status=exc.status_code, name=name),
    )


def _person(page: Page, user_id: int, *, error: str | None = None, status: int = 200) -> Response:
    assert page.user is not None
    now = page.ctx.clock.now()
    with page.ctx.read_sessions() as session:
        person = people_service.get(session, user_id, page.user)
        auths = trainings.authorisations(session, user_id)
        lapsed = {
            a.id: trainings.problem_with(session, a, now, site_tz(page.ctx)) is not None
            for a in auths
        }
    return page.render(
        "pages/admin/person.html",
        {
            "person": person,
            "roles": ROLES,
            "authorisations": auths,
            "lapsed": lapsed,
            "machines": sorted(page.ctx.profiles.machines.values(), key=lambda m: m.name),
            "kinds": [k.value for k in MachineKind],
            "now": now,
            "error": error,
            "me": person.id == page.user.id,
        },
        status=status,
    )


def _refused(page: Page, user_id: int) -> Callable[[ServiceError], Response]:
    """A refusal on a person's page: the page again, the reason above its forms."""
    return lambda exc: _person(page, user_id, error=refusal(page, exc), status=exc.status_code)


def _tokens_cleared(page: Page, user_id: int) -> Callable[[None], Response]:
    """Back to the person, once the token cache forgets what it knew of them."""

    def done(_: None) -> Response:
        page.ctx.tokens.clear()
        return page.redirect(f"/admin/people/{user_id}")

    return done


@router.get("/admin/people/{user_id}")
def person_page(user_id: IdPath, page: AdminPage) -> Response:
    try:
        return _person(page, user_id)
    except NotFound:
        return not_found(page, page.gettext("Nobody has this number: go back to the list."))


@router.post("/admin/people/{user_id}/role")
def set_role(
    user_id: IdPath,
    page: AdminPage,
    role: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        people_service.set_role(session, user_id=user_id, role=_role(page, role), by=page.me)

    # A cached token still carries the old role.
    return page.act(csrf, idem, change, _tokens_cleared(page, user_id), _refused(page, user_id))


@router.post("/admin/people/{user_id}/password")
def reset_password(
    user_id: IdPath,
    page: AdminPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> tuple[people_service.Person, str]:
        return people_service.reset_password(session, user_id=user_id, by=page.me)

    return page.act(
        csrf, idem, change, lambda made: _password_shown(page, *made), _refused(page, user_id)
    )


@router.post("/admin/people/{user_id}/deactivate")
def deactivate(
    user_id: IdPath,
    page: AdminPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        people_service.deactivate(session, user_id=user_id, by=page.me, at=page.ctx.clock.now())

    # Their tokens are revoked in the database; the cache must not keep them alive.
    return page.act(csrf, idem, change, _tokens_cleared(page, user_id), _refused(page, user_id))


@router.get("/admin/people/{user_id}/export")
def export(user_id: IdPath, page: AdminPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        data = privacy.export(session, user_id, page.user)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="fabqueue-personne-{user_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/admin/people/{user_id}/erase")
def erase(
    user_id: IdPath,
    page: AdminPage,
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        with page.ctx.read_sessions() as read:
            person = people_service.get(read, user_id, page.me)
        if confirm.strip() != person.name:
            raise FormError(
                page.gettext(
                    "Type the person's name exactly (“%(name)s”) to erase their data.",
                    name=person.name,
                )
            )
        privacy.erase(session, user_id, page.me, page.ctx.clock.now())

    return page.act(csrf, idem, change, _tokens_cleared(page, user_id), _refused(page, user_id))


@router.post("/admin/people/{user_id}/authorisations")
def grant(
    user_id: IdPath,
    page: AdminPage,
    machine: Annotated[str, Form(max_length=64)] = "",
    until: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    """Someone trained elsewhere: authorised directly, until a date or without end."""

    def change(session: Session) -> None:
        trainings.grant(
            session,
            member_id=user_id,
            machine=machine,
            by=page.me,
            at=page.ctx.clock.now(),
            expires_at=local_time(page, until, "23:59") if until else None,
        )

    return page.act(csrf, idem, change, f"/admin/people/{user_id}", _refused(page, user_id))


@router.post("/admin/people/{user_id}/authorisations/{auth_id}/revoke")
def revoke(
    user_id: IdPath,
    auth_id: IdPath,
    page: AdminPage,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        trainings.revoke(session, auth_id, reason, page.me, page.ctx.clock.now(), member_id=user_id)

    return page.act(csrf, idem, change, f"/admin/people/{user_id}", _refused(page, user_id))
