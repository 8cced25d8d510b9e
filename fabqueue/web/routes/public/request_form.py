"""The public quote-request form (``/demande-de-devis``) and its thank-you page."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from starlette.responses import Response

from fabqueue.quotes import public_requests as requests_svc
from fabqueue.quotes.links import REQUEST_PATH
from fabqueue.quotes.public_requests import (
    WANTS,
    Origin,
    RequestForm,
    RequestLimiter,
    RequestRefused,
    Upload,
)
from fabqueue.services.errors import ServiceError
from fabqueue.web.page import AnyPage, Page, once
from fabqueue.web.routes.public.words import say

log = logging.getLogger(__name__)
router = APIRouter()

LIMITER_KEY = "quote_request_limiter"
EMPTY: dict[str, Any] = {
    "organisation": "",
    "siret": "",
    "contact_name": "",
    "address": "",
    "email": "",
    "phone": "",
    "wants": "",
    "quantity": "1",
    "wanted_on": "",
    "details": "",
    "consent": False,
}


def limiter(page: Page) -> RequestLimiter:
    """One per app: the window and the count come from the settings."""
    found = page.web.extra.get(LIMITER_KEY)
    if found is None:
        settings = page.ctx.settings
        found = RequestLimiter(settings.quote_request_limit, settings.quote_request_window_s)
        page.web.extra[LIMITER_KEY] = found
    assert isinstance(found, RequestLimiter)
    return found


def address_of(page: Page) -> str:
    client = page.request.client
    return client.host if client else "unknown"


def _seconds(page: Page) -> float:
    """The limiter's time: the app's clock (tests move it), read from a worker thread
    (``monotonic()`` of the real clock needs the event loop)."""
    return page.ctx.clock.now().timestamp()


def _today(page: Page) -> date:
    return page.ctx.clock.now().astimezone(page.fmt.tz).date()


def _wants(page: Page) -> list[tuple[str, str]]:
    labels = {
        "window_lettering": page.gettext("Window lettering"),
        "stickers": page.gettext("Stickers"),
        "embroidered_shirts": page.gettext("Embroidered shirts or bags"),
        "printed_parts": page.gettext("Small 3D-printed parts"),
        "other": page.gettext("Something else"),
    }
    return [(key, labels[key]) for key in WANTS]


def _render(
    page: Page,
    values: dict[str, Any],
    *,
    problems: dict[str, str] | None = None,
    banner: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    response = page.render(
        "pages/public/request.html",
        {
            "form": {**EMPTY, **values},
            "problems": problems or {},
            "banner": banner,
            "wants": _wants(page),
            "today": _today(page).isoformat(),
            "max_files": requests_svc.MAX_FILES,
        },
        status=status,
    )
    response.headers.update(headers or {})
    return response


@router.get(REQUEST_PATH)
def request_page(page: AnyPage, organisation: str = "", siret: str = "") -> Response:
    """The form, empty, or prefilled with the organisation (from an expired devis)."""
    return _render(page, {"organisation": organisation[:200], "siret": siret[:20]})


def _limited(page: Page, values: dict[str, Any], wait_s: float) -> Response:
    minutes = max(1, round(wait_s / 60))
    banner = page.gettext(
        "You have sent several requests in a short time. Try again in %(minutes)s min, or "
        "call the café.",
        minutes=minutes,
    )
    return _render(
        page, values, banner=banner, status=429, headers={"Retry-After": str(round(wait_s))}
    )


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.post(REQUEST_PATH)
def send_request(
    page: AnyPage,
    organisation: Annotated[str, Form()] = "",
    siret: Annotated[str, Form()] = "",
    contact_name: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    wants: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "1",
    wanted_on: Annotated[str, Form()] = "",
    details: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    values: dict[str, Any] = {
        "organisation": organisation,
        "siret": siret,
        "contact_name": contact_name,
        "address": address,
        "email": email,
        "phone": phone,
        "wants": wants,
        "quantity": quantity,
        "wanted_on": wanted_on,
        "details": details,
        "consent": consent == "1",
    }
    uploads = [Upload(f.filename or "", f.file) for f in files or [] if f.filename]

    def run() -> Response:
        address, now_s = address_of(page), _seconds(page)
        wait = limiter(page).wait_s(address, now_s)
        if wait > 0:
            return _limited(page, values, wait)
        if website.strip():
            # A robot filled the field people never see: it is told the same as a
            # person, and nothing is kept.
            log.info("quote request from %s dropped: honeypot filled", address)
            limiter(page).count(address, now_s)
            return page.redirect(f"{REQUEST_PATH}/merci")
        return _submit(page, values, uploads, address)

    return once(page, idem, run)


def _form(values: dict[str, Any]) -> RequestForm:
    quantity = values["quantity"].strip()
    return RequestForm(
        organisation=values["organisation"],
        contact_name=values["contact_name"],
        email=values["email"],
        address=values["address"],
        phone=values["phone"],
        siret=values["siret"],
        wants=values["wants"],
        quantity=int(quantity) if quantity.isdigit() else None,
        wanted_on=_parse_date(values["wanted_on"]),
        details=values["details"],
        consent=values["consent"],
    )


def _submit(page: Page, values: dict[str, Any], uploads: list[Upload], address: str) -> Response:
    ctx = page.ctx
    try:
        requests_svc.submit_request(
            sessions=ctx.sessions,
            read_sessions=ctx.read_sessions,
            store=ctx.store,
            profiles=ctx.profiles,
            workers=ctx.pool,
            form=_form(values),
            uploads=uploads,
            origin=Origin(address, page.request.headers.get("user-agent", "")),
            upload_limit=ctx.settings.upload_limit_bytes,
            now=ctx.clock.now(),
            today=_today(page),
        )
    except RequestRefused as exc:
        problems = {name: say(page, problem) for name, problem in exc.problems.items()}
        return _render(page, values, problems=problems, status=exc.status_code)
    except ServiceError as exc:  # the workers are busy: nothing was kept, try again
        banner = page.gettext("That did not work: %(reason)s", reason=exc.message)
        return _render(page, values, banner=banner, status=exc.status_code)
    limiter(page).count(address, _seconds(page))
    return page.redirect(f"{REQUEST_PATH}/merci")


@router.get(f"{REQUEST_PATH}/merci")
def thanks(page: AnyPage) -> Response:
    site = page.ctx.profiles.site
    contact = {"phone": site.phone, "email": site.email} if site else {}
    return page.render("pages/public/thanks.html", {"contact": contact})
