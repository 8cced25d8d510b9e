"""Telling people, on the pages: a person's notices (the header's list), their e-mail
choices, the unsubscribe link of every e-mail, and staff's list of e-mails not sent
(« Renvoyer »). The work is in ``fabqueue.notify.inbox``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from sqlmodel import Session
from starlette.responses import Response

from fabqueue.models.notifications import MailPreference, NoticeKind
from fabqueue.notify import inbox
from fabqueue.notify.smtp import mail_config
from fabqueue.services.errors import Conflict, ServiceError
from fabqueue.web.page import AnyPage, Page, SignedInPage, StaffPage

router = APIRouter()

KINDS = [k.value for k in NoticeKind]


@router.get("/notices")
def notices(page: SignedInPage) -> Response:
    assert page.user is not None and page.user.id is not None
    with page.ctx.read_sessions() as session:
        rows = inbox.notices_for(session, page.user.id)
        unread = inbox.unread_count(session, page.user.id)
    return page.render("partials/notices.html", {"notices": rows, "unread": unread})


@router.post("/notices/read")
def notices_read(
    page: SignedInPage,
    note: Annotated[int | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        inbox.mark_read(session, page.me, at=page.ctx.clock.now(), note_id=note)

    return page.act(csrf, idem, change, "/notices")


def _outbox(page: Page, *, error: str | None = None, status: int = 200) -> Response:
    with page.ctx.read_sessions() as session:
        rows = inbox.outbox(session)
    ready = mail_config(page.ctx.settings, page.ctx.profiles.site) is not None
    return page.render(
        "pages/notifications.html",
        {"rows": rows, "mail_ready": ready, "error": error},
        status=status,
    )


@router.get("/notifications")
def notifications(page: StaffPage) -> Response:
    return _outbox(page)


@router.post("/notifications/{note_id}/retry")
def notification_retry(
    note_id: int,
    page: StaffPage,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        inbox.retry(session, page.me, note_id, at=page.ctx.clock.now())

    def refused(exc: ServiceError) -> Response:
        if not isinstance(exc, Conflict):
            raise exc
        message = page.gettext(
            "This e-mail cannot be sent again: it is no longer failed (someone sent it "
            "again, or it left)."
        )
        return _outbox(page, error=message, status=409)

    return page.act(csrf, idem, change, "/notifications", refused)


@router.get("/unsubscribe/{token}")
def unsubscribe_form(token: str, page: AnyPage, kind: str | None = None) -> Response:
    with page.ctx.read_sessions() as session:
        inbox.preference_by_token(session, token)
    return page.render(
        "pages/unsubscribe.html",
        {"token": token, "kind": kind if kind in KINDS else None, "done": False},
    )


@router.post("/unsubscribe/{token}")
def unsubscribe(
    token: str,
    page: AnyPage,
    kind: Annotated[str, Form()] = "all",
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> MailPreference:
        chosen = NoticeKind(kind) if kind in KINDS else None
        return inbox.unsubscribe(session, token, kind=chosen, at=page.ctx.clock.now())

    def done(pref: MailPreference) -> Response:
        return page.render("pages/unsubscribe.html", {"token": token, "done": True, "pref": pref})

    return page.act(csrf, idem, change, done)


@router.get("/account/emails")
def mail_choices(page: SignedInPage, saved: bool = False) -> Response:
    return _choices(page, saved=saved)


def _choices(
    page: Page, *, saved: bool = False, error: str | None = None, status: int = 200
) -> Response:
    assert page.user is not None and page.user.id is not None
    with page.ctx.read_sessions() as session:
        pref = inbox.preference_for_user(session, page.user.id)
        address = inbox.user_address(session, page.user)
    return page.render(
        "pages/mail_choices.html",
        {
            "email": address,
            "off_all": pref.off_all if pref else False,
            "off_kinds": pref.off_kinds if pref else [],
            "kinds": KINDS,
            "saved": saved,
            "error": error,
        },
        status=status,
    )


@router.post("/account/emails")
def mail_choices_save(
    page: SignedInPage,
    email: Annotated[str, Form()] = "",
    off_all: Annotated[str | None, Form()] = None,
    off: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
    idem: Annotated[str | None, Form()] = None,
) -> Response:
    def change(session: Session) -> None:
        inbox.set_choices(
            session,
            page.me,
            email=email.strip() or None,
            off_all=bool(off_all),
            off_kinds=[NoticeKind(k) for k in (off or []) if k in KINDS],
            at=page.ctx.clock.now(),
        )

    def refused(_: ServiceError) -> Response:
        message = page.gettext("“%(value)s” is not an e-mail address.", value=email.strip())
        return _choices(page, error=message, status=422)

    return page.act(csrf, idem, change, "/account/emails?saved=1", refused)
