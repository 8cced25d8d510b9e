"""E-mails from the outbox through a real SMTP server (aiosmtpd): what each kind says,
retries on the injected clock, failures shown, restarts, unsubscribing, two senders."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.db import SessionFactory, make_engine, make_session_factory, session_scope
from fabqueue.models import Role
from fabqueue.models.notifications import MailPreference, MailState, NoticeKind, Notification
from fabqueue.notify.sender import backoff_s
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.support.jobs import run_job
from tests.support.notify import (
    PUBLIC_URL,
    T0,
    mail_settings,
    make_sender,
    new_job,
    person,
    unsubscribe,
)
from tests.support.quotes import SetClock
from tests.support.smtp import SmtpServer, free_port, parts


def finish(sessions: SessionFactory, job_id: int, to: JobState, **values: Any) -> None:
    with session_scope(sessions) as s:
        run_job(s, job_id, to, machine="printer", at=T0, values=values or None)


def notes(sessions: SessionFactory) -> list[Notification]:
    with sessions() as s:
        return list(s.exec(select(Notification).order_by(Notification.id)).all())


def test_each_job_kind_is_one_french_email_with_both_parts_and_its_link(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    ready = new_job(sessions, member, title="Support de téléphone")
    failed = new_job(sessions, member, title="Engrenage")
    stopped = new_job(sessions, member, title="Boîtier")
    finish(sessions, ready, JobState.succeeded)
    finish(sessions, failed, JobState.failed, message="buse bouchée")
    finish(sessions, stopped, JobState.interrupted)

    sender = make_sender(mail_settings(settings, smtp), sessions, clock)
    assert sender.run_once() == 3

    got = {m["Subject"]: m for m in smtp.mailbox.messages}
    assert set(got) == {
        "Votre travail « Support de téléphone » est prêt à récupérer",
        "Votre travail « Engrenage » a échoué",
        "Votre travail « Boîtier » a été interrompu",
    }
    for job_id, msg in zip((ready, failed, stopped), got.values(), strict=True):
        assert msg["To"] == "lea@exemple.fr"
        assert msg["From"] == "atelier@cafe-port.example"
        text, html = parts(msg)
        assert text.startswith("Bonjour lea,")
        assert (
            f"{PUBLIC_URL}/jobs/{job_id}" in text and f'href="{PUBLIC_URL}/jobs/{job_id}"' in html
        )
        assert re.search(rf"{PUBLIC_URL}/unsubscribe/[\w-]+", text)
        assert "/unsubscribe/" in html and "/unsubscribe/" in msg["List-Unsubscribe"]
    assert "buse bouchée" in parts(got["Votre travail « Engrenage » a échoué"])[0]
    assert {n.state for n in notes(sessions)} == {MailState.sent}
    assert sender.run_once() == 0, "a sent e-mail is never sent again"


def test_a_walk_in_customer_hears_only_that_it_is_ready(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    staff = person(sessions, "camille", Role.facilitator, None)
    first = new_job(
        sessions,
        staff,
        title="Autocollant",
        customer_name="M. Durand",
        customer_contact=" durand@exemple.fr ",
    )
    second = new_job(sessions, staff, title="Plaque", customer_contact="durand@exemple.fr")
    by_phone = new_job(sessions, staff, title="Badge", customer_contact="06 12 34 56 78")
    finish(sessions, first, JobState.succeeded)
    finish(sessions, second, JobState.failed)
    finish(sessions, by_phone, JobState.succeeded)

    sender = make_sender(mail_settings(settings, smtp), sessions, clock)
    assert sender.run_once() == 1
    (msg,) = smtp.mailbox.messages
    assert msg["To"] == "durand@exemple.fr"
    assert msg["Subject"] == "Votre travail « Autocollant » est prêt à récupérer"
    text, _html = parts(msg)
    assert text.startswith("Bonjour M. Durand,")
    assert "/jobs/" not in text, "a walk-in has no page to open"
    (note,) = notes(sessions)
    assert note.user_id is None and note.link == ""


def test_smtp_down_retries_with_backoff_then_fails_and_a_retry_sends_it(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    finish(sessions, new_job(sessions, member), JobState.succeeded)
    down = mail_settings(settings, smtp, mail_port=free_port(), mail_max_tries=3)
    sender = make_sender(down, sessions, clock)

    seen = []
    for _ in range(3):
        assert sender.run_once() == 0
        (note,) = notes(sessions)
        seen.append((note.state, note.tries))
        assert note.last_error and "Connection" in note.last_error
        wait = note.next_try_at - clock.now()
        if note.state == MailState.pending:
            assert wait == timedelta(seconds=backoff_s(note.tries))
            clock.advance(seconds=wait.total_seconds() - 1)
            assert sender.run_once() == 0
            assert notes(sessions)[0].tries == note.tries, "not tried before its time"
            clock.advance(seconds=1)
    assert seen == [(MailState.pending, 1), (MailState.pending, 2), (MailState.failed, 3)]
    assert backoff_s(1) == 60 and backoff_s(2) == 120 and backoff_s(30) == 3600

    clock.advance(days=1)
    assert sender.run_once() == 0, "a failed e-mail waits for staff"
    from fabqueue.notify import inbox

    with sessions() as s:
        inbox.retry(s, None, notes(sessions)[0].id or 0, at=clock.now())
    up = make_sender(mail_settings(settings, smtp), sessions, clock)
    assert up.run_once() == 1
    assert smtp.mailbox.messages[0]["To"] == "lea@exemple.fr"
    assert notes(sessions)[0].state == MailState.sent


def test_a_refusing_server_counts_as_a_failed_try(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    finish(sessions, new_job(sessions, member), JobState.succeeded)
    smtp.mailbox.refuse = True
    sender = make_sender(mail_settings(settings, smtp), sessions, clock)
    assert sender.run_once() == 0
    (note,) = notes(sessions)
    assert (note.state, note.tries) == (MailState.pending, 1)
    assert note.last_error and "451" in note.last_error
    smtp.mailbox.refuse = False
    clock.advance(minutes=1)
    assert sender.run_once() == 1 and len(smtp.mailbox.messages) == 1


def test_unsubscribing_stops_the_emails_but_not_the_notices(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    finish(sessions, new_job(sessions, member, title="Premier"), JobState.succeeded)
    sender = make_sender(mail_settings(settings, smtp), sessions, clock)
    assert sender.run_once() == 1
    text, _ = parts(smtp.mailbox.messages[0])
    token = re.search(r"/unsubscribe/([\w-]+)", text)
    assert token is not None

    with sessions() as s:
        unsubscribe(s, token.group(1), NoticeKind.job_failed)
    finish(sessions, new_job(sessions, member, title="Raté"), JobState.failed)
    finish(sessions, new_job(sessions, member, title="Second"), JobState.succeeded)
    assert sender.run_once() == 1
    assert smtp.mailbox.messages[-1]["Subject"].endswith("« Second » est prêt à récupérer")

    with sessions() as s:
        unsubscribe(s, token.group(1), None)
    finish(sessions, new_job(sessions, member, title="Troisième"), JobState.succeeded)
    assert sender.run_once() == 0
    assert len(smtp.mailbox.messages) == 2
    rows = notes(sessions)
    assert len(rows) == 4, "every notice is still written for the page"
    assert [n.state for n in rows] == [
        MailState.sent,
        MailState.skipped,
        MailState.sent,
        MailState.skipped,
    ]
    with sessions() as s:
        pref = s.exec(select(MailPreference).where(MailPreference.user_id == member)).one()
        assert pref.off_all and pref.off_kinds == ["job_failed"]


def test_without_smtp_the_notice_stays_on_the_page_and_nothing_piles_up(
    settings: Settings, sessions: SessionFactory, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    finish(sessions, new_job(sessions, member), JobState.succeeded)
    sender = make_sender(mail_settings(settings, None), sessions, clock)
    assert sender.config is None
    assert sender.run_once() == 0
    (note,) = notes(sessions)
    assert note.state == MailState.skipped and note.user_id == member
    assert note.last_error and "no SMTP server" in note.last_error


def test_two_senders_on_one_database_never_send_twice(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    two_senders_send_each_once(settings, sessions, smtp, clock)


def two_senders_send_each_once(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    jobs = [new_job(sessions, member, title=f"Pièce {i}") for i in range(24)]
    for job_id in jobs:
        finish(sessions, job_id, JobState.succeeded)
    config = mail_settings(settings, smtp)
    senders = [make_sender(config, sessions, clock, owner=f"node-{i}") for i in range(2)]
    start = threading.Barrier(2)
    counts: list[int] = []

    def run(sender: Any) -> None:
        start.wait()
        total = 0
        for _ in range(5):
            total += sender.run_once()
        counts.append(total)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    subjects = [m["Subject"] for m in smtp.mailbox.messages]
    assert len(subjects) == 24 and len(set(subjects)) == 24
    assert sum(counts) == 24
    assert {n.state for n in notes(sessions)} == {MailState.sent}


@pytest.mark.postgres
def test_two_senders_on_postgresql_never_send_twice(
    settings: Settings, pg_url: str, smtp: SmtpServer, clock: SetClock
) -> None:
    engine = make_engine(pg_url)
    try:
        pg_settings = settings.model_copy(update={"db_url": pg_url})
        two_senders_send_each_once(pg_settings, make_session_factory(engine, None), smtp, clock)
    finally:
        engine.dispose()
