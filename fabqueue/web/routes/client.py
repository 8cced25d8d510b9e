"""A client account's pages (a shopkeeper the café gave an account): its organisation's
quotes, and the jobs made from them, live. The quote services decide what it may see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from fabqueue.api.events import event_stream, visible
from fabqueue.events import Message
from fabqueue.models import Job, Quote, QuoteJob, Role, User
from fabqueue.models.quote_public import Acceptance, Refusal
from fabqueue.quotes import answers as quote_answers
from fabqueue.quotes import pdf as quote_pdf
from fabqueue.quotes import workflow as quote_flow
from fabqueue.quotes.links import REQUEST_PATH
from fabqueue.quotes.views import to_public
from fabqueue.services.clients import require_organisation
from fabqueue.services.errors import ServiceError
from fabqueue.web.errors import NotAllowed
from fabqueue.web.page import Page, signed_in_page

router = APIRouter()

HOME = "/client"


def client_page(page: Annotated[Page, Depends(signed_in_page)]) -> Page:
    if page.user is None or page.user.role != Role.client:
        raise NotAllowed("client")
    return page


ClientPage = Annotated[Page, Depends(client_page)]


def organisation_jobs(session: Session, organisation_id: int) -> list[Job]:
    """The jobs made from the organisation's quotes, newest first."""
    return list(
        session.exec(
            select(Job)
            .join(QuoteJob, col(QuoteJob.job_id) == col(Job.id))
            .join(Quote, col(Quote.id) == col(QuoteJob.quote_id))
            .where(Quote.organisation_id == organisation_id)
            .order_by(col(Job.id).desc())
            .limit(200)
        )
    )


@router.get(HOME)
def client_home(page: ClientPage) -> Response:
    assert page.user is not None
    ctx = page.ctx
    with ctx.read_sessions() as session:
        org = require_organisation(session, page.user)
        assert org.id is not None
        rows, _total = quote_flow.list_quotes(session, page.user, limit=100)
        quotes = [to_public(session, q, page.user, ctx.profiles, ctx.clock.now()) for q in rows]
        jobs = organisation_jobs(session, org.id)
        for job in jobs:
            session.expunge(job)
        name = org.name
    return page.render(
        "pages/client/home.html",
        {"organisation": name, "quotes": quotes, "jobs": jobs, "new_request": REQUEST_PATH},
    )


def _render_quote(
    page: Page, quote_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    assert page.user is not None
    ctx = page.ctx
    with ctx.read_sessions() as session:
        quote = quote_flow.get_quote(session, quote_id, page.user)
        public = to_public(session, quote, page.user, ctx.profiles, ctx.clock.now())
        context: dict[str, Any] = {
            "quote": public,
            "base": f"{HOME}/quotes/{quote_id}",
            "error": error,
            "today": ctx.clock.now().astimezone(page.fmt.tz).date(),
            "issuer": quote.issuer or {},
            "new_request": REQUEST_PATH,
        }
    template = "pages/public/devis.html" if public.number else "pages/client/request.html"
    return page.render(template, context, status=status)


@router.get(HOME + "/quotes/{quote_id}")
def client_quote(quote_id: int, page: ClientPage) -> Response:
    return _render_quote(page, quote_id)


@router.get(HOME + "/quotes/{quote_id}/pdf")
def client_quote_pdf(quote_id: int, page: ClientPage) -> Response:
    assert page.user is not None
    ctx = page.ctx
    with ctx.read_sessions() as session:
        quote = quote_flow.get_quote(session, quote_id, page.user)
        pdf = quote_pdf.render_pdf(session, quote, ctx.profiles, ctx.clock.now())
        name = quote.number or f"demande-{quote.id}"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


def _answer(
    page: Page, quote_id: int, csrf: str | None, idem: str | None, answer: Callable[[Session], Any]
) -> Response:
    """The client's answer, by ``answer`` (a quote service); a refusal shows the quote
    with why (an unknown quote is the 404 page)."""

    def refused(exc: ServiceError) -> Response:
        if exc.status_code == 404:
            raise exc
        error = page.gettext("This quote can no longer be answered online: see below.")
        return _render_quote(page, quote_id, error=error, status=exc.status_code)

    return page.act(csrf, idem, answer, f"{HOME}/quotes/{quote_id}", refused)


@router.post(HOME + "/quotes/{quote_id}/accepter")
def client_accept(
    quote_id: int,
    page: ClientPage,
    signer_name: Annotated[str, Form(max_length=200)] = "",
    agree: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    # The form is checked before an answer is kept under its key (Page.act checks the
    # token again).
    page.check_csrf(csrf)
    if not signer_name.strip() or agree != "1":
        error = page.gettext("Type your name and tick « Bon pour accord » to accept the quote.")
        return _render_quote(page, quote_id, error=error, status=422)
    data = Acceptance(signer_name=signer_name.strip(), agree=True)

    def accept(session: Session) -> None:
        quote_answers.accept_as(
            session=session, user=page.me, quote_id=quote_id, data=data,
            profiles=page.ctx.profiles, at=page.ctx.clock.now(),
        )  # fmt: skip

    return _answer(page, quote_id, csrf, idem, accept)


@router.post(HOME + "/quotes/{quote_id}/refuser")
def client_refuse(
    quote_id: int,
    page: ClientPage,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    data = Refusal(reason=reason.strip())

    def refuse(session: Session) -> None:
        quote_answers.refuse_as(
            session=session, user=page.me, quote_id=quote_id, data=data,
            profiles=page.ctx.profiles, at=page.ctx.clock.now(),
        )  # fmt: skip

    return _answer(page, quote_id, csrf, idem, refuse)


class OrganisationJobs:
    """Whether a job is one of the organisation's (made from its quotes): read once per
    job, as the API's stream reads owners once."""

    def __init__(self, page: Page, user: User, organisation_id: int) -> None:
        self.ctx = page.ctx
        self.user = user
        self.organisation_id = organisation_id
        self._known: dict[int, int | None] = {}

    def _read(self, job_id: int) -> int | None:
        with self.ctx.read_sessions() as session:
            org_id = session.exec(
                select(Quote.organisation_id)
                .join(QuoteJob, col(QuoteJob.quote_id) == col(Quote.id))
                .where(QuoteJob.job_id == job_id)
            ).first()
            if org_id == self.organisation_id:
                return self.user.id
            job = session.get(Job, job_id)
            return job.owner_id if job is not None else None

    async def __call__(self, job_id: int) -> int | None:
        """The job's owner as the stream's scoping sees it: this client, for the
        organisation's jobs."""
        if job_id not in self._known:
            self._known[job_id] = await run_in_threadpool(self._read, job_id)
        return self._known[job_id]


@router.get(HOME + "/live")
async def client_live(request: Request, page: ClientPage) -> StreamingResponse:
    """``changed`` when one of the organisation's jobs changes (issue 11's scoping:
    what the API's stream would show this client), nothing about anyone else's."""
    assert page.user is not None
    user = page.user
    with page.ctx.read_sessions() as session:
        org_id = require_organisation(session, user).id
    assert org_id is not None
    owner_of = OrganisationJobs(page, user, org_id)

    async def line(message: Message) -> str | None:
        if await visible(message, user, owner_of) is None:
            return None
        job_id = message.payload.get("job_id")
        return f"id: {message.id}\nevent: changed\ndata: job:{job_id}\n\n"

    return event_stream(request, page.ctx.bus, ("job",), "retry: 2000\n\n", line)
