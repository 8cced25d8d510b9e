"""An outbox row as an e-mail: French text and HTML from ``templates/mail``, the
absolute link back, the unsubscribe link, and the devis PDF when it carries one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session

from fabqueue.models.notifications import NoticeKind, Notification
from fabqueue.models.quotes import Quote
from fabqueue.models.users import User
from fabqueue.notify.links import absolute_link
from fabqueue.notify.outbox import ensure_preference
from fabqueue.profiles import ProfileSet
from fabqueue.settings import Settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
    keep_trailing_newline=True,
)

LINK_LABELS = {
    NoticeKind.job_ready: "Voir le travail",
    NoticeKind.job_failed: "Voir le travail",
    NoticeKind.job_interrupted: "Voir le travail",
    NoticeKind.quote_sent: "Lire le devis et donner votre accord",
    NoticeKind.quote_expiring: "Lire le devis",
    NoticeKind.booking_tomorrow: "Voir mes réservations",
}


@dataclass(frozen=True)
class Bodies:
    text: str
    html: str
    unsubscribe: str


def unsubscribe_path(token: str) -> str:
    return f"/unsubscribe/{token}"


def _name(session: Session, note: Notification) -> str | None:
    if note.user_id is not None:
        user = session.get(User, note.user_id)
        return user.name if user else None
    name = note.params.get("customer_name")
    return str(name) if name else None


def render_bodies(
    session: Session, note: Notification, *, settings: Settings, profiles: ProfileSet, at: datetime
) -> Bodies:
    """Both parts of the e-mail; writes the recipient's preference row if it is new
    (it holds the unsubscribe link's secret)."""
    site = profiles.site
    pref = ensure_preference(session, at=at, user_id=note.user_id, email=note.email)
    kind = NoticeKind(note.kind)
    values = {
        "p": note.params,
        "subject": note.subject,
        "name": _name(session, note),
        "link": absolute_link(settings, site, note.link) if note.link else None,
        "link_label": LINK_LABELS[kind],
        "cafe": site.name if site else "fabqueue",
        "cafe_address": ", ".join(site.address) if site else None,
        "unsubscribe": absolute_link(settings, site, unsubscribe_path(pref.token)),
    }
    text = _env.get_template(f"{kind.value}.txt").render(**values)
    html = _env.get_template(f"{kind.value}.html").render(**values)
    return Bodies(text, html, str(values["unsubscribe"]))


def quote_pdf(
    session: Session, note: Notification, profiles: ProfileSet, at: datetime
) -> tuple[str, bytes] | None:
    """The devis the message carries (file name, PDF), made now from the frozen quote."""
    from fabqueue.quotes.pdf import render_pdf

    quote_id = (note.attachment or {}).get("quote_id")
    quote = session.get(Quote, quote_id) if quote_id is not None else None
    if quote is None:
        return None
    return f"{quote.number or 'devis'}.pdf", render_pdf(session, quote, profiles, at)


def build_message(
    note: Notification,
    *,
    sender: str,
    at: datetime,
    unsubscribe: str | None,
    attachment: tuple[str, bytes] | None,
) -> EmailMessage:
    assert note.email is not None and note.body_text is not None and note.body_html is not None
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = note.email
    msg["Subject"] = note.subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = make_msgid(idstring=f"fabqueue-{note.id}")
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg.set_content(note.body_text)
    msg.add_alternative(note.body_html, subtype="html")
    if attachment is not None:
        name, data = attachment
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return msg
