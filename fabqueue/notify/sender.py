"""The sender: takes due e-mails from the outbox and hands them to the SMTP server.

One sender per process (started by the app's lifespan, like the dispatcher). Several
processes may share a database: a sender *claims* a row for ``LEASE_S`` with a guarded
``UPDATE … WHERE state = 'pending'`` (or a lease that ran out), so two senders never
send the same row; a process that dies mid-send leaves a lease that runs out, and the
row is sent again by whoever comes next — at least once, never silently lost.

A failed try waits 1, 2, 4 … minutes (at most an hour) and the row is marked
``failed`` after ``mail_max_tries``: staff see it (``/notifications``, ``fabqueue mail
list``) and send it again. Without an SMTP server, due rows become ``skipped``: the
notices stay on the pages and nothing piles up to be sent months later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import CursorResult, and_, or_, update
from sqlmodel import Session, col, select

from fabqueue.clock import Clock
from fabqueue.db import SessionFactory, session_scope
from fabqueue.events import EventBus, Message
from fabqueue.models.notifications import MailState, Notification
from fabqueue.notify.bookings import scan_tomorrow
from fabqueue.notify.outbox import QUEUED_TOPIC
from fabqueue.notify.quotes import scan_expiring
from fabqueue.notify.render import build_message, quote_pdf, render_bodies
from fabqueue.notify.smtp import MailConfig, mail_config, send_message
from fabqueue.profiles import ProfileSet
from fabqueue.settings import Settings

log = logging.getLogger(__name__)

LEASE_S = 300.0
STOP_WAIT_S = 5.0
BATCH = 20
NO_SERVER = "no SMTP server set up: notice on the page only"

Transport = Callable[[MailConfig, EmailMessage], None]


def backoff_s(tries: int) -> float:
    """Wait before try ``tries + 1``: 1, 2, 4 … minutes, at most an hour."""
    return float(min(60 * 2 ** max(tries - 1, 0), 3600))


def _due(now: datetime) -> object:
    return or_(
        and_(col(Notification.state) == MailState.pending, col(Notification.next_try_at) <= now),
        and_(col(Notification.state) == MailState.sending, col(Notification.lease_until) < now),
    )


def claim(session: Session, *, owner: str, now: datetime, limit: int = BATCH) -> list[int]:
    """Take up to ``limit`` due rows for ``owner``; the caller commits. Each row is taken
    by a guarded UPDATE: a row another sender took meanwhile matches nothing."""
    ids = session.exec(
        select(Notification.id)
        .where(_due(now))  # type: ignore[arg-type]
        .order_by(col(Notification.next_try_at), col(Notification.id))
        .limit(limit)
    ).all()
    taken = []
    for note_id in ids:
        result = session.execute(
            update(Notification)
            .where(col(Notification.id) == note_id)
            .where(_due(now))  # type: ignore[arg-type]
            .values(
                state=MailState.sending,
                lease_owner=owner,
                lease_until=now + timedelta(seconds=LEASE_S),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        if result.rowcount == 1 and note_id is not None:
            taken.append(note_id)
    return taken


def _finish(session: Session, note_id: int, owner: str, values: dict[str, object]) -> bool:
    result = session.execute(
        update(Notification)
        .where(col(Notification.id) == note_id)
        .where(col(Notification.state) == MailState.sending)
        .where(col(Notification.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


class MailSender:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        read_sessions: SessionFactory | None = None,
        bus: EventBus | None,
        clock: Clock,
        profiles: ProfileSet,
        transport: Transport | None = None,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.read_sessions = read_sessions or sessions
        self.bus = bus
        self.clock = clock
        self.profiles = profiles
        self.config = mail_config(settings, profiles.site)
        self.transport: Transport = transport or send_message
        self.owner = owner or f"{settings.node}/{socket.gethostname()}/{os.getpid()}/" + (
            secrets.token_hex(4)
        )
        self.sent = 0
        self.passes = 0
        """Completed looks at the outbox (tests wait on it instead of sleeping)."""
        self._last_scan: datetime | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._progress = threading.Condition()
        self._stopping = False

    # -- one pass (blocking: run in a thread) ---------------------------------------

    def run_once(self) -> int:
        """Scan for reminders when due, then send what is due. Returns e-mails sent."""
        with self._lock:
            now = self.clock.now()
            self._scan_if_due(now)
            sent = 0
            # A read first: most passes find nothing, and a write would queue behind
            # the SQLite writer for nothing.
            if self._anything_due(now):
                if self.config is None:
                    self._skip_due(now)
                else:
                    with session_scope(self.sessions) as session:
                        ids = claim(session, owner=self.owner, now=now)
                    sent = sum(self._send_one(note_id, self.config) for note_id in ids)
            with self._progress:
                self.sent += sent
                self.passes += 1
                self._progress.notify_all()
            return sent

    def wait_sent(self, count: int, timeout: float) -> bool:
        """Block until this sender has sent ``count`` e-mails, all marked sent (tests)."""
        with self._progress:
            return self._progress.wait_for(lambda: self.sent >= count, timeout)

    def _anything_due(self, now: datetime) -> bool:
        with self.read_sessions() as session:
            found = session.exec(
                select(Notification.id).where(_due(now)).limit(1)  # type: ignore[arg-type]
            ).first()
        return found is not None

    def _scan_if_due(self, now: datetime) -> None:
        site = self.profiles.site
        if site is None:
            return
        if self._last_scan and (now - self._last_scan).total_seconds() < self.settings.mail_scan_s:
            return
        self._last_scan = now
        days = self.config.expiry_notice_days if self.config else 3
        try:
            with session_scope(self.sessions) as session:
                scan_expiring(session, at=now, tz=site.tz, days_before=days, cafe=site.name)
                scan_tomorrow(session, at=now, tz=site.tz)
        except Exception:  # another node wrote the same reminder first: next scan skips it
            log.warning("reminder scan failed; it runs again later", exc_info=True)

    def _skip_due(self, now: datetime) -> None:
        with session_scope(self.sessions) as session:
            session.execute(
                update(Notification)
                .where(col(Notification.state) == MailState.pending)
                .where(col(Notification.next_try_at) <= now)
                .values(state=MailState.skipped, last_error=NO_SERVER, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def _send_one(self, note_id: int, config: MailConfig) -> int:
        now = self.clock.now()
        try:
            # A short write (the bodies, the unsubscribe secret), then the PDF from a
            # read session: the SQLite writer is not held while a devis is drawn.
            with session_scope(self.sessions) as session:
                note = session.get(Notification, note_id)
                assert note is not None
                bodies = render_bodies(
                    session, note, settings=self.settings, profiles=self.profiles, at=now
                )
                if note.body_text is None:
                    note.body_text, note.body_html = bodies.text, bodies.html
                    session.add(note)
                session.flush()
                session.expunge(note)
            pdf = None
            if note.attachment:
                with self.read_sessions() as session:
                    pdf = quote_pdf(session, note, self.profiles, now)
            message = build_message(
                note, sender=config.sender, at=now, unsubscribe=bodies.unsubscribe, attachment=pdf
            )
            self.transport(config, message)
        except Exception as exc:  # every failure is written on the row, to be seen
            self._failed(note_id, exc)
            return 0
        with session_scope(self.sessions) as session:
            ok = _finish(
                session,
                note_id,
                self.owner,
                {
                    "state": MailState.sent,
                    "sent_at": self.clock.now(),
                    "updated_at": now,
                    "tries": Notification.tries + 1,
                    "last_error": None,
                },
            )
        return 1 if ok else 0

    def _failed(self, note_id: int, exc: Exception) -> None:
        now = self.clock.now()
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("e-mail %d not sent: %s", note_id, error)
        with session_scope(self.sessions) as session:
            note = session.get(Notification, note_id)
            if note is None or note.lease_owner != self.owner:
                return
            tries = note.tries + 1
            last = tries >= self.settings.mail_max_tries
            _finish(
                session,
                note_id,
                self.owner,
                {
                    "state": MailState.failed if last else MailState.pending,
                    "tries": tries,
                    "last_error": error,
                    "next_try_at": now + timedelta(seconds=backoff_s(tries)),
                    "updated_at": now,
                },
            )

    # -- the task -------------------------------------------------------------------

    async def start(self) -> None:
        if self.bus is not None:
            self._unlisten = self.bus.add_listener(self._on_message)
        self._task = asyncio.create_task(self._loop(), name="mail-sender")

    async def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
        if self._task is None:
            return
        # Let a pass under way finish (its rows end sent or pending, not claimed until
        # the lease runs out), but do not hold the shutdown on a slow mail server.
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_message(self, message: Message) -> None:
        if message.topic == QUEUED_TOPIC:
            self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:  # the database may be away for a moment: try again later
                log.warning("mail sender pass failed", exc_info=True)
            if not self._stopping:
                await self._wait(self._next_wait_s())

    def _next_wait_s(self) -> float:
        return self.settings.mail_poll_s

    def wake(self) -> None:
        """Look at the outbox now (a message was written, or a test moved the clock)."""
        self._wake.set()

    async def _wait(self, seconds: float) -> None:
        # Real seconds, not the injected clock: this is only how often to look; whether
        # a row is due is decided on the clock (``next_try_at``).
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
