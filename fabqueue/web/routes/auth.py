"""Sign in, sign out, the locked tablet, and the person's language."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from fabqueue.models import Role
from fabqueue.services import accounts
from fabqueue.web.guards import local_path
from fabqueue.web.i18n import LOCALES
from fabqueue.web.page import AnyPage, Page, SignedInPage

router = APIRouter()


_HOMES = {Role.member: "/member", Role.client: "/client"}


def _address(page: Page) -> str:
    client = page.request.client
    return client.host if client else "unknown"


@router.get("/login")
def login_form(page: AnyPage, next: str | None = None) -> Response:
    return page.render("pages/login.html", {"next": local_path(next), "error": None, "name": ""})


def _refuse(page: Page, name: str, target: str, error: str) -> Response:
    return page.render(
        "pages/login.html", {"next": target, "error": error, "name": name}, status=401
    )


@router.post("/login")
def login(
    page: AnyPage,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    target = local_path(next)
    name_key, address_key = f"name:{name.strip().lower()}", f"addr:{_address(page)}"
    wait = max(
        page.web.name_attempts.blocked_for(name_key),
        page.web.address_attempts.blocked_for(address_key),
    )
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return _refuse(
            page,
            name,
            target,
            page.gettext("Too many attempts. Try again in %(minutes)s min.", minutes=minutes),
        )
    with page.ctx.read_sessions() as session:
        user = accounts.authenticate(session, name, password)
        user_id = user.id if user else None
        role = user.role if user is not None else None
    if user_id is None:
        page.web.name_attempts.failed(name_key)
        page.web.address_attempts.failed(address_key)
        return _refuse(page, name, target, page.gettext("Wrong name or password."))
    page.web.name_attempts.succeeded(name_key)
    page.session.sign_in(user_id)
    if target == "/" and role in _HOMES:
        # The board is the staff's; members and clients start on their own pages.
        target = _HOMES[role]
    return page.redirect(target)


@router.post("/logout")
def logout(page: AnyPage, csrf: Annotated[str | None, Form()] = None) -> Response:
    page.check_csrf(csrf)
    page.session.sign_out()
    return page.redirect("/login")


@router.get("/lock")
def lock_form(page: AnyPage, next: str | None = None) -> Response:
    if page.user is None:
        return page.redirect("/login")
    page.session.locked = True
    page.session.dirty = True
    return page.render("pages/lock.html", {"next": local_path(next), "error": None})


@router.post("/lock")
def unlock(
    page: AnyPage,
    pin: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    if page.user is None or page.user.id is None:
        return page.redirect("/login")
    key = f"pin:{page.user.id}"
    target = local_path(next)
    if page.web.pin_attempts.blocked_for(key) > 0:
        # Too many wrong PINs: the person signs in again with their password.
        page.session.sign_out()
        return page.redirect(f"/login?next={target}")
    with page.ctx.read_sessions() as session:
        ok = accounts.check_pin(session, page.user.id, pin)
    if not ok:
        page.web.pin_attempts.failed(key)
        error = page.gettext("Wrong PIN.")
        return page.render("pages/lock.html", {"next": target, "error": error}, status=401)
    page.web.pin_attempts.succeeded(key)
    page.session.locked = False
    page.session.seen = time.time()
    page.session.dirty = True
    return page.redirect(target)


@router.post("/language")
def language(
    page: SignedInPage,
    lang: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None and page.user.id is not None
    with page.ctx.sessions() as session:
        accounts.set_locale(
            session=session, user_id=page.user.id, locale=lang if lang in LOCALES else None
        )
    return page.redirect(local_path(next))
