"""The devis behind its secret link (``/devis/<token>``): read it, download its PDF,
sign « bon pour accord » or refuse it. The token is the capability: no account.

Answers go through the same services as the JSON link routes; the page adds the
signer's address and browser to the event, as proof of the signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import FileResponse, Response

from fabqueue.models import Quote
from fabqueue.models.quote_public import Acceptance, Refusal
from fabqueue.quotes import answers as quote_answers
from fabqueue.quotes import pdf as quote_pdf
from fabqueue.quotes.links import QUOTE_PATH, REQUEST_PATH
from fabqueue.quotes.sending import quote_for_token
from fabqueue.quotes.views import to_public
from fabqueue.services.errors import NotFound, ServiceError
from fabqueue.web.page import AnyPage, Page
from fabqueue.web.routes.public.request_form import address_of

router = APIRouter()

LOGO_PATH = "/logo-du-cafe"
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}


def _new_request_url(quote: Quote | None) -> str:
    if quote is None:
        return REQUEST_PATH
    client = quote.client or {}
    prefill = {"organisation": client.get("name") or "", "siret": client.get("siret") or ""}
    return REQUEST_PATH + "?" + urlencode({k: v for k, v in prefill.items() if v})


def _gone(page: Page) -> Response:
    """A link that leads nowhere: replaced by a newer one, withdrawn, or mistyped."""
    return page.render(
        "pages/public/devis_gone.html", {"new_request": _new_request_url(None)}, status=404
    )


def _render(page: Page, token: str, *, error: str | None = None, status: int = 200) -> Response:
    ctx = page.ctx
    with ctx.read_sessions() as session:
        try:
            quote = quote_for_token(session, token)
        except NotFound:
            return _gone(page)
        public = to_public(session, quote, None, ctx.profiles, ctx.clock.now())
        context: dict[str, Any] = {
            "quote": public,
            "token": token,
            "base": QUOTE_PATH + token,
            "error": error,
            "today": ctx.clock.now().astimezone(page.fmt.tz).date(),
            "issuer": quote.issuer or {},
            "new_request": _new_request_url(quote),
            "logo": LOGO_PATH if _logo_file(page) else None,
        }
    response = page.render("pages/public/devis.html", context, status=status)
    # The token in the address is the capability: no search engine, no referrer.
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _logo_file(page: Page) -> Any:
    profiles = page.ctx.profiles
    site = profiles.site
    if site is None or site.logo is None or profiles.root is None:
        return None
    path = profiles.root / site.logo
    return path if path.suffix.lower() in LOGO_TYPES and path.is_file() else None


@router.get(LOGO_PATH)
def cafe_logo(page: AnyPage) -> Response:
    """The café's logo (site.toml's ``logo``), shown on the devis page as on its PDF."""
    path = _logo_file(page)
    if path is None:
        return Response(status_code=404)
    return FileResponse(
        path,
        media_type=LOGO_TYPES[path.suffix.lower()],
        headers={"Cache-Control": "max-age=3600", "Content-Security-Policy": "script-src 'none'"},
    )


@router.get(QUOTE_PATH + "{token}")
def devis_page(token: str, page: AnyPage) -> Response:
    return _render(page, token)


@router.get(QUOTE_PATH + "{token}/pdf")
def devis_pdf(token: str, page: AnyPage) -> Response:
    ctx = page.ctx
    with ctx.read_sessions() as session:
        try:
            quote = quote_for_token(session, token)
        except NotFound:
            return _gone(page)
        pdf = quote_pdf.render_pdf(session, quote, ctx.profiles, ctx.clock.now())
        name = quote.number or f"devis-{quote.id}"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


def _proof(page: Page) -> dict[str, Any]:
    """Who answered, as far as the web can tell: kept in the quote's event."""
    return {
        "address": address_of(page),
        "user_agent": page.request.headers.get("user-agent", "")[:300],
    }


def _answer(
    page: Page,
    token: str,
    action: str,
    csrf: str | None,
    idem: str | None,
    answer: Callable[[Session], Any],
) -> Response:
    """The shopkeeper's answer, by ``answer`` (a quote service); a refusal shows the devis
    with why, a link that leads nowhere the « gone » page."""

    def refused(exc: ServiceError) -> Response:
        if isinstance(exc, NotFound):
            return _gone(page)
        return _render(page, token, error=_why(page, exc, action), status=exc.status_code)

    return page.act(csrf, idem, answer, QUOTE_PATH + token, refused)


def _why(page: Page, exc: ServiceError, action: str) -> str:
    """The few refusals a shopkeeper can meet, in their words."""
    if exc.status_code == 422:
        return page.gettext("Type your name and tick « Bon pour accord » to accept the quote.")
    if action == "accept":
        return page.gettext("This quote can no longer be accepted online: see below.")
    return page.gettext("This quote can no longer be answered online: see below.")


@router.post(QUOTE_PATH + "{token}/accepter")
def accept(
    token: str,
    page: AnyPage,
    signer_name: Annotated[str, Form(max_length=200)] = "",
    agree: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    # The form is checked before an answer is kept under its key (Page.act checks the
    # token again).
    page.check_csrf(csrf)
    if not signer_name.strip() or agree != "1":
        return _render(
            page,
            token,
            error=page.gettext("Type your name and tick « Bon pour accord » to accept the quote."),
            status=422,
        )
    data = Acceptance(signer_name=signer_name.strip(), agree=True)

    def answer(session: Session) -> None:
        quote_answers.accept_link(
            session=session, token=token, data=data, profiles=page.ctx.profiles,
            at=page.ctx.clock.now(), detail=_proof(page),
        )  # fmt: skip

    return _answer(page, token, "accept", csrf, idem, answer)


@router.post(QUOTE_PATH + "{token}/refuser")
def refuse(
    token: str,
    page: AnyPage,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    data = Refusal(reason=reason.strip())

    def answer(session: Session) -> None:
        quote_answers.refuse_link(
            session=session, token=token, data=data, profiles=page.ctx.profiles,
            at=page.ctx.clock.now(), detail=_proof(page),
        )  # fmt: skip

    return _answer(page, token, "refuse", csrf, idem, answer)
