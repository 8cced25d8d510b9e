"""The page context: who is asking, in which language, and how to answer (a whole page,
or the block htmx asked for)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from jinja2_fragments import render_block
from sqlmodel import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from fabqueue.context import AppContext
from fabqueue.models import User
from fabqueue.services.errors import ServiceError
from fabqueue.web.errors import BadForm, NotAllowed, SignInNeeded, TabletLocked
from fabqueue.web.guards import new_key, same_token
from fabqueue.web.i18n import Formats, negotiate
from fabqueue.web.sessions import SCOPE_KEY, WebSession
from fabqueue.web.state import WebState

T = TypeVar("T")

BACKGROUND_HEADER = "x-fq-background"
"""Sent by the board's own refreshes: they do not count as someone using the tablet."""


def site_tz(ctx: AppContext) -> ZoneInfo:
    site = ctx.profiles.site
    return site.tz if site is not None else ZoneInfo("Europe/Paris")


def lock_after_s(ctx: AppContext) -> float:
    site = ctx.profiles.site
    return 60.0 * (site.lock_after_minutes if site is not None else 10)


@dataclass
class Page:
    request: Request
    ctx: AppContext
    web: WebState
    session: WebSession
    user: User | None
    lang: str

    @property
    def fmt(self) -> Formats:
        return Formats(self.lang, site_tz(self.ctx))

    def gettext(self, message: str, **params: Any) -> str:
        text = self.web.translations[self.lang].gettext(message)
        return text % params if params else text

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def base_context(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "lang": self.lang,
            "fmt": self.fmt,
            "csrf": self.session.csrf,
            "idem": new_key,
            "path": self.request.url.path,
            "cafe": self.ctx.profiles.site.name if self.ctx.profiles.site else "fabqueue",
            "lock_after_s": int(lock_after_s(self.ctx)),
        }

    def render(
        self, template: str, context: dict[str, Any] | None = None, *, status: int = 200
    ) -> HTMLResponse:
        """The whole page, or, for htmx, the block named like the element it targets
        (one template is the one source of both)."""
        env = self.web.envs[self.lang]
        values = {**self.base_context(), **(context or {})}
        target = self.request.headers.get("hx-target")
        tpl = env.get_template(template)
        if self.is_htmx and target and target in tpl.blocks:
            html = render_block(env, template, target, **values)
        else:
            html = tpl.render(**values)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def redirect(self, location: str) -> Response:
        return RedirectResponse(location, status_code=303)

    def check_csrf(self, given: str | None) -> None:
        """Every form carries the session's CSRF token (htmx also sends it as a header)."""
        token = given or self.request.headers.get("x-csrf-token")
        if not same_token(token, self.session.csrf):
            raise BadForm()

    @property
    def me(self) -> User:
        """The signed-in person, on pages that need one (their dependency saw to it)."""
        assert self.user is not None
        return self.user

    def act(
        self,
        csrf: str | None,
        idem: str | None,
        change: Callable[[Session], T],
        done: str | Callable[[T], Response],
        refused: Callable[[ServiceError], Response] | None = None,
    ) -> Response:
        """A form's action: the CSRF token first; then, once per idempotency key (a
        double tap gets the first answer), ``change`` in a new session — the service it
        calls owns the unit of work — and ``done``: where to go, or the answer made from
        what ``change`` returned. A service's refusal is shown by ``refused`` (the form
        again with the reason, say); without it, by the error page."""
        self.check_csrf(csrf)

        def run() -> Response:
            try:
                with self.ctx.sessions() as session:
                    result = change(session)
            except ServiceError as exc:
                if refused is None:
                    raise
                return refused(exc)
            return self.redirect(done) if isinstance(done, str) else done(result)

        return once(self, idem, run)


def wall_clock() -> float:
    """Seconds since the epoch: the lock's clock (tests move it)."""
    return time.time()


def _web(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def _load_user(ctx: AppContext, user_id: int) -> User | None:
    with ctx.read_sessions() as session:
        user = session.get(User, user_id)
        if user is not None:
            session.expunge(user)
        return user if user is not None and user.active else None


def _next(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return urllib.parse.quote(path, safe="")


def anonymous_page(request: Request) -> Page:
    ctx: AppContext = request.app.state.ctx
    # Outside the session middleware (a static file's error): an empty session.
    session: WebSession = request.scope.get(SCOPE_KEY) or WebSession()
    user = _load_user(ctx, session.user_id) if session.user_id else None
    chosen = user.locale if user else None
    lang = negotiate(chosen, request.headers.get("accept-language"))
    return Page(request, ctx, _web(request), session, user, lang)


def signed_in_page(request: Request) -> Page:
    page = anonymous_page(request)
    if page.user is None:
        raise SignInNeeded(f"/login?next={_next(request)}")
    now = wall_clock()
    if not page.session.locked and now - page.session.seen > lock_after_s(page.ctx):
        page.session.locked = True
        page.session.dirty = True
    if page.session.locked:
        raise TabletLocked(f"/lock?next={_next(request)}")
    background = request.headers.get(BACKGROUND_HEADER) == "1"
    if not background and request.query_params.get("bg") != "1":
        page.session.touch()
    return page


def staff_page(page: Annotated[Page, Depends(signed_in_page)]) -> Page:
    if page.user is None or not page.user.is_staff:
        raise NotAllowed("staff")
    return page


AnyPage = Annotated[Page, Depends(anonymous_page)]
SignedInPage = Annotated[Page, Depends(signed_in_page)]
StaffPage = Annotated[Page, Depends(staff_page)]

Handler = Callable[[], Response]


def once(page: Page, key: str | None, action: Handler) -> Response:
    """Run ``action`` once per idempotency key; a repeat gets the first answer."""
    if not key:
        return action()
    owner = page.user.id if page.user else None
    first, entry = page.web.idempotency.begin(key, owner)
    if not first:
        entry.done.wait(30)
        if entry.response is not None:
            return entry.response
        return page.redirect(page.request.url.path)
    try:
        response = action()
    except BaseException:
        page.web.idempotency.forget(key, owner)
        raise
    page.web.idempotency.finish(entry, response)
    return response
