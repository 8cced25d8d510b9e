"""Helpers of the notification tests: a café with a public address, jobs to move,
people with an e-mail address, and a sender pointed at a test SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from fabqueue.auth import create_user
from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Job, Role, StoredFile
from fabqueue.models.notifications import NoticeKind
from fabqueue.notify import inbox
from fabqueue.notify.sender import MailSender
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.settings import Settings
from fabqueue.states import JobState, record_creation
from jobs.base import MachineKind
from tests.support.quotes import SetClock, quote_profiles
from tests.support.smtp import SmtpServer

PUBLIC_URL = "https://fab.cafe-port.example"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def cafe_profiles(root: Path) -> Path:
    """The quote tests' café (normal VAT regime) with a public address for links."""
    quote_profiles(root, "normal")
    site = root / "site.toml"
    site.write_text(f'public_url = "{PUBLIC_URL}"\n' + site.read_text())
    return root


def mail_settings(settings: Settings, server: SmtpServer | None, **more: object) -> Settings:
    """``settings`` sending through ``server`` (None: no SMTP server set up)."""
    update: dict[str, object] = {"start_mail_sender": False}
    if server is not None:
        update |= {
            "mail_host": server.host,
            "mail_port": server.port,
            "mail_from": "atelier@cafe-port.example",
        }
    return settings.model_copy(update=update | more)


def make_sender(
    settings: Settings,
    sessions: SessionFactory,
    clock: SetClock,
    profiles: ProfileSet | None = None,
    owner: str | None = None,
) -> MailSender:
    return MailSender(
        settings=settings,
        sessions=sessions,
        bus=None,
        clock=clock,
        profiles=profiles or load_profiles(settings.profiles_dir),
        owner=owner,
    )


def person(
    sessions: SessionFactory, name: str, role: Role, email: str | None, at: datetime = T0
) -> int:
    """A user, with ``email`` as their address for messages."""
    with session_scope(sessions) as s:
        user = create_user(session=s, name=name, role=role, at=at)
        assert user.id is not None
        uid = user.id
    if email is not None:
        with sessions() as s:
            user = s.get(type(user), uid)
            assert user is not None
            inbox.set_choices(s, user, email=email, off_all=False, off_kinds=[], at=at)
    return uid


def new_job(
    sessions: SessionFactory,
    owner_id: int,
    *,
    title: str = "Support de téléphone",
    customer_contact: str | None = None,
    customer_name: str | None = None,
) -> int:
    with session_scope(sessions) as s:
        if s.get(StoredFile, "b" * 64) is None:
            s.add(StoredFile(sha256="b" * 64, size=1, created_at=T0))
        job = Job(
            kind=MachineKind.fdm_printer,
            owner_id=owner_id,
            title=title,
            file_sha256="b" * 64,
            file_name="support.gcode",
            file_type="gcode",
            file_size=1,
            state=JobState.queued,
            created_at=T0,
            updated_at=T0,
            customer_contact=customer_contact,
            customer_name=customer_name,
        )
        s.add(job)
        s.flush()
        record_creation(s, job, actor="test", at=T0)
        assert job.id is not None
        return job.id


def unsubscribe(session: Session, token: str, kind: NoticeKind | None) -> None:
    inbox.unsubscribe(session, token, kind=kind, at=T0)
