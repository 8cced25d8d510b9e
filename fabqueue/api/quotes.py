"""Quotes (devis): request → draft → sent → accepted | refused | expired → converted.

Thin: parse, call a service, return a public shape. The services own the unit of
work (they commit); routers never do. The client's secret link
(``/quotes/link/<token>``) needs no account: the token is the authorisation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from sqlmodel import Session

from fabqueue.api.deps import (
    MAX_ID,
    CtxDep,
    CurrentUser,
    IdPath,
    OptionalIdQuery,
    ReadSessionDep,
    SessionDep,
)
from fabqueue.context import AppContext
from fabqueue.models import JobPublic, JobsPublic, Quote, QuoteState, User
from fabqueue.models.quote_public import (
    Acceptance,
    ConvertIn,
    LineIn,
    LinePatch,
    PaperAcceptance,
    QuoteEventPublic,
    QuoteIn,
    QuotePatch,
    QuotePublic,
    QuoteSent,
    QuotesPublic,
    Refusal,
)
from fabqueue.quotes import answers as quote_answers
from fabqueue.quotes import archive as quote_archive
from fabqueue.quotes import convert as quote_convert
from fabqueue.quotes import lines as quote_lines
from fabqueue.quotes import sending as quote_sending
from fabqueue.quotes import workflow as svc
from fabqueue.quotes.views import to_public
from fabqueue.services.errors import Conflict

router = APIRouter(prefix="/quotes", tags=["quotes"])

LINK_PREFIX = "/api/v1/quotes/link/"


def _public(ctx: AppContext, session: Session, quote: Quote, user: User | None) -> QuotePublic:
    return to_public(session, quote, user, ctx.profiles, ctx.clock.now())


def _fresh(ctx: AppContext, quote_id: int | None, user: User | None) -> QuotePublic:
    """The quote as committed, read in a read-only session (the write one is done)."""
    assert quote_id is not None
    with ctx.read_sessions() as session:
        quote = session.get(Quote, quote_id)
        assert quote is not None
        return to_public(session, quote, user, ctx.profiles, ctx.clock.now())


def _sent(ctx: AppContext, quote: Quote, user: User, token: str) -> QuoteSent:
    public = _fresh(ctx, quote.id, user)
    return QuoteSent(**public.model_dump(), accept_token=token, accept_path=LINK_PREFIX + token)


def _pdf(ctx: AppContext, session: Session, quote: Quote) -> Response:
    pdf = quote_archive.pdf_bytes(session, quote, ctx.profiles, ctx.store, ctx.clock.now())
    name = quote.number or f"projet-devis-{quote.id}"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


# --- the client's secret link (declared first: "link" is not a quote id) -------------


@router.get("/link/{token}", response_model=QuotePublic)
def link_view(token: str, ctx: CtxDep, session: ReadSessionDep) -> QuotePublic:
    """The quote, as its client sees it, from the link sent with it (no account)."""
    return _public(ctx, session, quote_sending.quote_for_token(session, token), None)


@router.get("/link/{token}/pdf", response_class=Response)
def link_pdf(token: str, ctx: CtxDep, session: ReadSessionDep) -> Response:
    return _pdf(ctx, session, quote_sending.quote_for_token(session, token))


@router.post("/link/{token}/accept", response_model=QuotePublic)
def link_accept(token: str, body: Acceptance, ctx: CtxDep, session: SessionDep) -> QuotePublic:
    """« Bon pour accord » from the link: the signer's name and the ticked box."""
    quote = quote_answers.accept_link(
        session=session, token=token, data=body, profiles=ctx.profiles, at=ctx.clock.now()
    )
    return _fresh(ctx, quote.id, None)


@router.post("/link/{token}/refuse", response_model=QuotePublic)
def link_refuse(token: str, body: Refusal, ctx: CtxDep, session: SessionDep) -> QuotePublic:
    quote = quote_answers.refuse_link(
        session=session, token=token, data=body, profiles=ctx.profiles, at=ctx.clock.now()
    )
    return _fresh(ctx, quote.id, None)


# --- quotes -----------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, response_model=QuotePublic)
def create(body: QuoteIn, ctx: CtxDep, session: SessionDep, user: CurrentUser) -> QuotePublic:
    """A client asks for a quote (requested); staff start one for a client (draft).
    Add the designs next with ``POST /quotes/{id}/designs``."""
    quote = svc.create_quote(
        session=session, user=user, data=body, profiles=ctx.profiles, at=ctx.clock.now()
    )
    return _fresh(ctx, quote.id, user)


@router.get("", response_model=QuotesPublic)
def list_quotes(
    ctx: CtxDep,
    session: ReadSessionDep,
    user: CurrentUser,
    state: Annotated[list[QuoteState] | None, Query()] = None,
    organisation: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> QuotesPublic:
    """Newest first. Clients see their organisation's quotes only."""
    rows, total = svc.list_quotes(
        session, user, states=state, organisation_id=organisation, limit=limit, offset=offset
    )
    return QuotesPublic(data=[_public(ctx, session, q, user) for q in rows], count=total)


@router.get("/{quote_id}", response_model=QuotePublic)
def get(quote_id: IdPath, ctx: CtxDep, session: ReadSessionDep, user: CurrentUser) -> QuotePublic:
    return _public(ctx, session, svc.get_quote(session, quote_id, user), user)


@router.patch("/{quote_id}", response_model=QuotePublic)
def patch(
    quote_id: IdPath, body: QuotePatch, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    quote = svc.update_quote(
        session=session, user=user, quote_id=quote_id, data=body, at=ctx.clock.now()
    )
    return _fresh(ctx, quote.id, user)


@router.get("/{quote_id}/events", response_model=list[QuoteEventPublic])
def events(quote_id: IdPath, session: ReadSessionDep, user: CurrentUser) -> list[QuoteEventPublic]:
    return [
        QuoteEventPublic.model_validate(e, from_attributes=True)
        for e in svc.events(session, quote_id, user)
    ]


@router.get("/{quote_id}/pdf", response_class=Response)
def pdf(quote_id: IdPath, ctx: CtxDep, session: ReadSessionDep, user: CurrentUser) -> Response:
    """The devis. Staff may print a draft (marked as such, no number)."""
    quote = svc.get_quote(session, quote_id, user)
    if quote.number is None and not user.is_staff:
        raise Conflict("this quote has not been sent yet", state=quote.state.value)
    return _pdf(ctx, session, quote)


@router.get("/{quote_id}/jobs", response_model=JobsPublic)
def quote_jobs(quote_id: IdPath, session: ReadSessionDep, user: CurrentUser) -> JobsPublic:
    """The jobs the quote became, for the client to follow."""
    rows = svc.jobs_of(session, quote_id, user)
    return JobsPublic(
        data=[JobPublic.model_validate(j, from_attributes=True) for j in rows], count=len(rows)
    )


@router.post("/{quote_id}/designs", status_code=status.HTTP_201_CREATED, response_model=QuotePublic)
def add_design(
    quote_id: IdPath,
    ctx: CtxDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="the design (G-code, SVG, DST, PES…)")],
    quantity: Annotated[int, Form(description="copies wanted")] = 1,
    material: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form(max_length=500)] = None,
) -> QuotePublic:
    """A design to make: analysed at once (a file the machines cannot make is refused),
    priced when the quote is a draft."""
    assert ctx.workers is not None
    quote_lines.add_design(
        sessions=ctx.sessions,
        read_sessions=ctx.read_sessions,
        store=ctx.store,
        profiles=ctx.profiles,
        workers=ctx.workers,
        user=user,
        quote_id=quote_id,
        stream=file.file,
        filename=file.filename or "",
        quantity=quantity,
        material=material or None,
        description=description or None,
        upload_limit=ctx.settings.upload_limit_bytes,
        now=ctx.clock.now(),
    )
    return _fresh(ctx, quote_id, user)


@router.post("/{quote_id}/lines", status_code=status.HTTP_201_CREATED, response_model=QuotePublic)
def add_line(
    quote_id: IdPath, body: LineIn, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    """A free line priced by hand: design work, fitting, delivery…"""
    quote_lines.add_line(
        session=session,
        user=user,
        quote_id=quote_id,
        data=body,
        profiles=ctx.profiles,
        at=ctx.clock.now(),
    )
    return _fresh(ctx, quote_id, user)


@router.patch("/{quote_id}/lines/{line_id}", response_model=QuotePublic)
def patch_line(
    quote_id: IdPath,
    line_id: IdPath,
    body: LinePatch,
    ctx: CtxDep,
    session: SessionDep,
    user: CurrentUser,
) -> QuotePublic:
    quote_lines.update_line(
        session=session,
        user=user,
        quote_id=quote_id,
        line_id=line_id,
        data=body,
        profiles=ctx.profiles,
        at=ctx.clock.now(),
    )
    return _fresh(ctx, quote_id, user)


@router.delete("/{quote_id}/lines/{line_id}", response_model=QuotePublic)
def delete_line(
    quote_id: IdPath, line_id: IdPath, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    quote_lines.remove_line(
        session=session, user=user, quote_id=quote_id, line_id=line_id, at=ctx.clock.now()
    )
    return _fresh(ctx, quote_id, user)


@router.post("/{quote_id}/draft", response_model=QuotePublic)
def start_draft(
    quote_id: IdPath, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    """Staff take a request: each design is priced from its analysis."""
    quote = svc.start_draft(
        session=session, user=user, quote_id=quote_id, profiles=ctx.profiles, at=ctx.clock.now()
    )
    return _fresh(ctx, quote.id, user)


@router.post("/{quote_id}/reprice", response_model=QuotePublic)
def reprice(quote_id: IdPath, ctx: CtxDep, session: SessionDep, user: CurrentUser) -> QuotePublic:
    quote = svc.reprice(
        session=session, user=user, quote_id=quote_id, profiles=ctx.profiles, at=ctx.clock.now()
    )
    return _fresh(ctx, quote.id, user)


@router.post("/{quote_id}/send", response_model=QuoteSent)
def send(quote_id: IdPath, ctx: CtxDep, session: SessionDep, user: CurrentUser) -> QuoteSent:
    """Number (DEV-YYYY-NNNN), freeze and send. The answer carries the client's secret
    link once; give it with the PDF."""
    quote, token = quote_archive.send_and_archive(
        session=session,
        user=user,
        quote_id=quote_id,
        profiles=ctx.profiles,
        at=ctx.clock.now(),
        store=ctx.store,
    )
    return _sent(ctx, quote, user, token)


@router.post("/{quote_id}/link", response_model=QuoteSent)
def new_link(quote_id: IdPath, ctx: CtxDep, session: SessionDep, user: CurrentUser) -> QuoteSent:
    """A new secret link for a sent quote; the previous one stops working."""
    quote, token = quote_sending.new_link(
        session=session, user=user, quote_id=quote_id, profiles=ctx.profiles, at=ctx.clock.now()
    )
    return _sent(ctx, quote, user, token)


def _answered(
    answer: Callable[..., Quote],
    quote_id: int,
    body: Acceptance | PaperAcceptance | Refusal,
    ctx: AppContext,
    session: Session,
    user: User,
) -> QuotePublic:
    """The quote once ``answer`` (one of the quote's answers) took ``body``."""
    quote = answer(
        session=session,
        user=user,
        quote_id=quote_id,
        data=body,
        profiles=ctx.profiles,
        at=ctx.clock.now(),
    )
    return _fresh(ctx, quote.id, user)


@router.post("/{quote_id}/accept", response_model=QuotePublic)
def accept(
    quote_id: IdPath, body: Acceptance, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    """« Bon pour accord »: by the client logged in, or by staff for a signed paper."""
    return _answered(quote_answers.accept_as, quote_id, body, ctx, session, user)


@router.post("/{quote_id}/paper-acceptance", response_model=QuotePublic)
def paper_acceptance(
    quote_id: IdPath, body: PaperAcceptance, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    """Staff record a paper copy signed « bon pour accord » on ``signed_on``: it counts
    if signed within the quote's validity, even when it reached the café later."""
    return _answered(quote_answers.record_paper_acceptance, quote_id, body, ctx, session, user)


@router.post("/{quote_id}/refuse", response_model=QuotePublic)
def refuse(
    quote_id: IdPath, body: Refusal, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    return _answered(quote_answers.refuse_as, quote_id, body, ctx, session, user)


@router.post("/{quote_id}/cancel", response_model=QuotePublic)
def cancel(
    quote_id: IdPath, body: Refusal, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> QuotePublic:
    """Abandon a request or a draft (a sent quote is never removed)."""
    quote = svc.cancel(
        session=session, user=user, quote_id=quote_id, reason=body.reason, at=ctx.clock.now()
    )
    return _fresh(ctx, quote.id, user)


@router.post("/{quote_id}/revise", status_code=status.HTTP_201_CREATED, response_model=QuotePublic)
def revise(quote_id: IdPath, ctx: CtxDep, session: SessionDep, user: CurrentUser) -> QuotePublic:
    """A new draft version of a sent, refused or expired quote."""
    quote = svc.revise(session=session, user=user, quote_id=quote_id, at=ctx.clock.now())
    return _fresh(ctx, quote.id, user)


@router.post("/{quote_id}/convert", response_model=QuotePublic)
def convert(quote_id: IdPath, body: ConvertIn, ctx: CtxDep, user: CurrentUser) -> QuotePublic:
    """An accepted quote becomes jobs: one per copy of each design, queued (or held)."""
    quote_convert.convert(
        sessions=ctx.sessions,
        read_sessions=ctx.read_sessions,
        store=ctx.store,
        profiles=ctx.profiles,
        user=user,
        quote_id=quote_id,
        hold=body.hold,
        now=ctx.clock.now(),
    )
    if ctx.dispatcher is not None:
        ctx.dispatcher.wake()
    return _fresh(ctx, quote_id, user)
