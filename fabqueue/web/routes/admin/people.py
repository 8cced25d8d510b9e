"""People: the list, a new person, their role, a new password, deactivation, and a
member's data (export, erasure). Admins only; :mod:`fabqueue.services.people` and
:mod:`fabqueue.services.privacy` decide."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from fabqueue.models import Role
from fabqueue.services import people as people_service
from fabqueue.services import privacy, trainings
from fabqueue.services.errors import NotFound, ServiceError
from fabqueue.web.page import Page, once, site_tz
from fabqueue.web.routes.admin.access import (
    AdminPage,
    FormProblem,
    IdPath,
    in_words,
    local_time,
    not_found,
)
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


def _role(page: Page, value: str) -> Role | None:
    return Role(value) if value in ROLES else None


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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        chosen = _role(page, role)
        if chosen is None:
            return _list(page, error=page.gettext("Choose a role."), status=422, name=name)
        try:
            with page.ctx.sessions() as session:
                person, password = people_service.create(
                    session, name=name, role=chosen, by=by, at=page.ctx.clock.now()
                )
        except ServiceError as exc:
            return _list(page, error=in_words(page, exc.message), status=exc.status_code, name=name)
        return _password_shown(page, person, password)

    return once(page, idem, run)


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


def _refused(page: Page, user_id: int, exc: ServiceError) -> Response:
    return _person(page, user_id, error=in_words(page, exc.message), status=exc.status_code)


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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        chosen = _role(page, role)
        if chosen is None:
            return _person(page, user_id, error=page.gettext("Choose a role."), status=422)
        try:
            with page.ctx.sessions() as session:
                people_service.set_role(session, user_id=user_id, role=chosen, by=by)
        except ServiceError as exc:
            return _refused(page, user_id, exc)
        # A cached token still carries the old role.
        page.ctx.tokens.clear()
        return page.redirect(f"/admin/people/{user_id}")

    return once(page, idem, run)


@router.post("/admin/people/{user_id}/password")
def reset_password(
    user_id: IdPath,
    page: AdminPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            with page.ctx.sessions() as session:
                person, password = people_service.reset_password(session, user_id=user_id, by=by)
        except ServiceError as exc:
            return _refused(page, user_id, exc)
        return _password_shown(page, person, password)

    return once(page, idem, run)


@router.post("/admin/people/{user_id}/deactivate")
def deactivate(
    user_id: IdPath,
    page: AdminPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            with page.ctx.sessions() as session:
                people_service.deactivate(session, user_id=user_id, by=by, at=page.ctx.clock.now())
        except ServiceError as exc:
            return _refused(page, user_id, exc)
        # Their tokens are revoked in the database; the cache must not keep them alive.
        page.ctx.tokens.clear()
        return page.redirect(f"/admin/people/{user_id}")

    return once(page, idem, run)


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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        with page.ctx.read_sessions() as session:
            person = people_service.get(session, user_id, by)
        if confirm.strip() != person.name:
            message = page.gettext(
                "Type the person's name exactly (“%(name)s”) to erase their data.",
                name=person.name,
            )
            return _person(page, user_id, error=message, status=422)
        try:
            with page.ctx.sessions() as session:
                privacy.erase(session, user_id, by, page.ctx.clock.now())
        except ServiceError as exc:
            return _refused(page, user_id, exc)
        page.ctx.tokens.clear()
        return page.redirect(f"/admin/people/{user_id}")

    return once(page, idem, run)


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
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            expires = local_time(page, until, "23:59") if until else None
            with page.ctx.sessions() as session:
                trainings.grant(
                    session,
                    member_id=user_id,
                    machine=machine,
                    by=by,
                    at=page.ctx.clock.now(),
                    expires_at=expires,
                )
        except FormProblem as exc:
            return _person(page, user_id, error=exc.message, status=422)
        except ServiceError as exc:
            return _refused(page, user_id, exc)
        return page.redirect(f"/admin/people/{user_id}")

    return once(page, idem, run)


@router.post("/admin/people/{user_id}/authorisations/{auth_id}/revoke")
def revoke(
    user_id: IdPath,
    auth_id: IdPath,
    page: AdminPage,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None
    by = page.user

    def run() -> Response:
        try:
            with page.ctx.sessions() as session:
                trainings.revoke(
                    session, auth_id, reason, by, page.ctx.clock.now(), member_id=user_id
                )
        except ServiceError as exc:
            return _refused(page, user_id, exc)
        return page.redirect(f"/admin/people/{user_id}")

    return once(page, idem, run)
