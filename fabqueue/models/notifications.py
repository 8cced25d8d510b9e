"""Telling people: the outbox of messages (on-page notices and e-mails) and each
person's choice of which e-mails they want."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime, str_enum


class NoticeKind(StrEnum):
    job_ready = "job_ready"
    """The job succeeded: « prêt à récupérer »."""
    job_failed = "job_failed"
    job_interrupted = "job_interrupted"
    quote_sent = "quote_sent"
    quote_expiring = "quote_expiring"
    booking_tomorrow = "booking_tomorrow"


class MailState(StrEnum):
    pending = "pending"
    """Waiting for the sender (first try, or the next try after a failure)."""
    sending = "sending"
    """A sender claimed it until ``lease_until``; past that another sender may."""
    sent = "sent"
    failed = "failed"
    """Every try failed: staff see it and may send it again."""
    skipped = "skipped"
    """Not for e-mail: no address, the person unsubscribed, or no SMTP server is set
    up. The notice still shows on the person's page."""


class Notification(SQLModel, table=True):
    """One message to one person: a user (who also sees it on their page) or a plain
    e-mail address (a walk-in customer, a shop without an account)."""

    __tablename__ = "notification"
    __table_args__ = (
        # What the sender looks for: pending rows due, oldest first.
        Index("ix_notification_due", "state", "next_try_at"),
        Index("ix_notification_user_recent", "user_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    email: str | None = Field(default=None, max_length=200)
    """Where the e-mail goes; None: a notice on the page only."""
    kind: NoticeKind = Field(sa_type=str_enum(NoticeKind))
    subject: str = Field(max_length=200)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """What the message says (job title, quote number, dates), for the page's language."""
    body_text: str | None = None
    body_html: str | None = None
    """Written when the e-mail is first claimed: the absolute link needs the node's
    public address, which the state change that caused the message does not know."""
    link: str = Field(max_length=500)
    """The page the message points to, as a path (``/jobs/12``)."""
    attachment: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """``{"quote_id": n}``: the devis PDF, made when the e-mail is sent."""
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    """Scans (quote about to expire, booking tomorrow) write each message once."""
    state: MailState = Field(sa_type=str_enum(MailState))
    tries: int = 0
    next_try_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MailPreference(SQLModel, table=True):
    """A person's e-mail address for messages and what they unsubscribed from.

    Either a user (``user_id``) or a plain address (``user_id`` None). Notices on the
    page are never switched off: only e-mails are."""

    __tablename__ = "mail_preference"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", unique=True)
    email: str | None = Field(default=None, max_length=200, index=True)
    token: str = Field(max_length=64, unique=True)
    """The secret of the unsubscribe link in every e-mail (it can only unsubscribe)."""
    off_all: bool = False
    off_kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    def wants(self, kind: NoticeKind) -> bool:
        return not self.off_all and kind.value not in self.off_kinds
