"""The browser side: pages for the counter, rendered on the server (Jinja2 + htmx).

``install(app, settings)`` adds the session cookie, the page routes, the static files
and the API docs served from local assets. Pages call the same services as the API.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, RedirectResponse, Response

from fabqueue.services.errors import ServiceError
from fabqueue.settings import Settings
from fabqueue.web.errors import BadForm, NotAllowed, PageRedirect
from fabqueue.web.page import anonymous_page
from fabqueue.web.routes import (
    admin,
    auth,
    board,
    client,
    job_list,
    jobs,
    machines,
    member,
    nodes,
    notices,
    public,
    quotes,
)
from fabqueue.web.routes.books import exports as book_exports
from fabqueue.web.routes.books import invoices as invoice_pages
from fabqueue.web.routes.books import reports as report_pages
from fabqueue.web.sessions import SessionMiddleware, secret_key
from fabqueue.web.state import build_web_state


def _redirect(request: Request, location: str) -> Response:
    if request.headers.get("hx-request") == "true":
        # htmx would swap the sign-in page into a card: have it navigate instead.
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    page = anonymous_page(request)
    return page.render(
        "pages/error.html", {"status": status, "title": title, "detail": detail}, status=status
    )


def install(app: FastAPI, settings: Settings) -> None:
    web = build_web_state()
    app.state.web = web
    key = secret_key(settings.secret_key, settings.data_dir)
    app.add_middleware(SessionMiddleware, key=key, secure=settings.cookie_secure)

    @app.exception_handler(PageRedirect)
    async def _page_redirect(request: Request, exc: PageRedirect) -> Response:
        return _redirect(request, exc.location)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
        page = anonymous_page(request)
        if exc.needed == "admin":
            detail = page.gettext("This page is for the café's admins. Ask one if you need it.")
            return _error_page(request, 403, page.gettext("For admins only"), detail)
        detail = page.gettext(
            "This page is for the café's staff. Ask a facilitator if you need it."
        )
        return _error_page(request, 403, page.gettext("Not for your account"), detail)

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, _exc: BadForm) -> Response:
        page = anonymous_page(request)
        detail = page.gettext(
            "This form is too old (the page was open a long time, or you signed in again). "
            "Nothing was done: reload the page and try again."
        )
        return _error_page(request, 403, page.gettext("Form expired"), detail)

    for router in (
        auth.router,
        board.router,
        job_list.router,
        jobs.router,
        machines.router,
        nodes.router,
        quotes.router,
        notices.router,
        member.router,
        admin.router,
    ):
        app.include_router(router, include_in_schema=False)
    for router in (public.router, client.router):
        app.include_router(router, include_in_schema=False)
    for router in (invoice_pages.router, book_exports.router, report_pages.router):
        app.include_router(router, include_in_schema=False)
    app.add_route("/static/{digest}/{name:path}", web.assets.serve, include_in_schema=False)

    @app.get("/docs", include_in_schema=False)
    async def _docs() -> HTMLResponse:
        # FastAPI's page loads Swagger UI from a CDN; the café's internet is unreliable.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="fabqueue — API",
            swagger_js_url=web.assets.url("vendor/swagger-ui/swagger-ui-bundle.js"),
            swagger_css_url=web.assets.url("vendor/swagger-ui/swagger-ui.css"),
            swagger_favicon_url=web.assets.url("vendor/swagger-ui/favicon-32x32.png"),
        )


def page_service_error(request: Request, exc: ServiceError) -> Response:
    """A service refusal on a page: the error page in the person's words, not JSON."""
    page = anonymous_page(request)
    return _error_page(request, exc.status_code, page.gettext("That did not work"), exc.message)


__all__ = ["install", "page_service_error"]
