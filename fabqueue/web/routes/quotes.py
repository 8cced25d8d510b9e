"""The quote desk: requests, a quote's lines from its designs, send (DEV-… number),
the PDF, and an accepted quote turned into jobs. The quote services do the work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.quotes import archive as quote_archive
from fabqueue.quotes import convert as quote_convert
from fabqueue.quotes import lines as quote_lines
from fabqueue.quotes import sending as quote_sending
from fabqueue.quotes import workflow as quote_flow
from fabqueue.quotes.links import absolute_link
from fabqueue.quotes.public_requests import request_origin
from fabqueue.quotes.views import to_public
from fabqueue.services.errors import NotFound, ServiceError
from fabqueue.services.intake import IntakeOptions
from fabqueue.web.page import Page, StaffPage, once
from fabqueue.web.problems import in_words
from jobs.registry import SOURCES, accepted_types

router = APIRouter()


@router.get("/quotes")
def quote_desk(page: StaffPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        rows, total = quote_flow.list_quotes(session, page.user, limit=100, offset=0)
        quotes = [
            to_public(session, q, page.user, page.ctx.profiles, page.ctx.clock.now()) for q in rows
        ]
    return page.render("pages/quotes.html", {"quotes": quotes, "total": total})


def _render(
    page: Page,
    quote_id: int,
    *,
    error: str | None = None,
    link: str | None = None,
    status: int = 200,
) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        quote = quote_flow.get_quote(session, quote_id, page.user)
        public = to_public(session, quote, page.user, page.ctx.profiles, page.ctx.clock.now())
        origin = request_origin(session, quote_id)
    materials = sorted(page.ctx.profiles.materials.values(), key=lambda m: (m.kind, m.name))
    context = {
        "quote": public,
        "error": error,
        "link": link,
        "qr": _qr_svg(link) if link else None,
        "origin": origin,
        "materials": materials,
        "accept": ",".join("." + t for t in [*accepted_types(), *sorted(SOURCES)]),
    }
    return page.render("pages/quote.html", context, status=status)


def _qr_svg(url: str) -> str:
    """The link as a QR code (inline SVG) for the shopkeeper to scan off the tablet."""
    import segno

    svg: str = segno.make(url, error="m").svg_inline(scale=6, border=2, omitsize=True)
    return svg


@router.get("/quotes/{quote_id}")
def quote_page(quote_id: int, page: StaffPage) -> Response:
    return _render(page, quote_id)


@router.get("/quotes/{quote_id}/pdf")
def quote_pdf_page(quote_id: int, page: StaffPage) -> Response:
    assert page.user is not None
    with page.ctx.read_sessions() as session:
        quote = quote_flow.get_quote(session, quote_id, page.user)
        pdf = quote_archive.pdf_bytes(
            session, quote, page.ctx.profiles, page.ctx.store, page.ctx.clock.now()
        )
        name = quote.number or f"projet-devis-{quote.id}"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.post("/quotes/{quote_id}/designs")
def add_design(
    quote_id: int,
    page: StaffPage,
    file: Annotated[UploadFile, File()],
    quantity: Annotated[int, Form(ge=1, le=1000)] = 1,
    material: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    preset: Annotated[str, Form()] = "normal",
    page_no: Annotated[str, Form(alias="page")] = "",
    threshold: Annotated[int, Form(ge=0, le=255)] = 128,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    page.check_csrf(csrf)
    assert page.user is not None
    user = page.user
    # What a model or a logo needs to become a design (ignored for ready files).
    number = page_no.strip()
    intake = IntakeOptions(
        preset=preset, page=int(number) if number.isdigit() else None, threshold=threshold
    )

    def run() -> Response:
        try:
            quote_lines.add_design(
                intake=intake,
                sessions=page.ctx.sessions,
                read_sessions=page.ctx.read_sessions,
                store=page.ctx.store,
                profiles=page.ctx.profiles,
                workers=page.ctx.pool,
                user=user,
                quote_id=quote_id,
                stream=file.file,
                filename=file.filename or "",
                quantity=quantity,
                material=material or None,
                description=description or None,
                upload_limit=page.ctx.settings.upload_limit_bytes,
                now=page.ctx.clock.now(),
            )
        except ServiceError as exc:
            return _render(
                page, quote_id, error=in_words(exc.message, page.gettext, page.lang), status=422
            )
        return page.redirect(f"/quotes/{quote_id}")

    return once(page, idem, run)


@router.post("/quotes/{quote_id}/do/{action}")
def quote_action(
    quote_id: int,
    action: str,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
    hold: Annotated[str, Form()] = "",
) -> Response:
    """draft (take a request), send (number it; the client's link shows once), link (a
    new link, the old one stops working), convert."""
    ctx = page.ctx

    def change(session: Session) -> str | None:
        if action != "convert":
            return _move(session, page, quote_id, action)
        # Converting queues a job per copy: it opens its own sessions, one per job.
        quote_convert.convert(
            sessions=ctx.sessions,
            read_sessions=ctx.read_sessions,
            store=ctx.store,
            profiles=ctx.profiles,
            user=page.me,
            quote_id=quote_id,
            hold=hold == "1",
            now=ctx.clock.now(),
        )
        return None

    def done(link: str | None) -> Response:
        if link is not None:
            # The secret link is shown once, on this answer: it is not kept in clear.
            return _render(page, quote_id, link=link)
        return page.redirect(f"/quotes/{quote_id}")

    return page.act(
        csrf,
        idem,
        change,
        done,
        lambda exc: _render(page, quote_id, error=exc.message, status=exc.status_code),
    )


def _move(session: Session, page: Page, quote_id: int, action: str) -> str | None:
    ctx = page.ctx
    if action == "draft":
        quote_flow.start_draft(
            session=session, user=page.me, quote_id=quote_id, profiles=ctx.profiles,
            at=ctx.clock.now(),
        )  # fmt: skip
        return None
    if action == "send":
        _quote, token = quote_archive.send_and_archive(
            session=session,
            user=page.me,
            quote_id=quote_id,
            profiles=ctx.profiles,
            at=ctx.clock.now(),
            store=ctx.store,
        )
        return absolute_link(ctx.settings, token, ctx.profiles.site)
    if action == "link":
        # The link is not kept in clear: showing it again means making a new one.
        _quote, token = quote_sending.new_link(
            session=session, user=page.me, quote_id=quote_id, profiles=ctx.profiles,
            at=ctx.clock.now(),
        )  # fmt: skip
        return absolute_link(ctx.settings, token, ctx.profiles.site)
    raise NotFound(f"no action {action!r}")
