"""The outbox survives a restart (a new app on the same database sends what was
waiting, and what a dead process was sending), and staff see and resend failures from
the command line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import select

from fabqueue.clock import utcnow
from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Role
from fabqueue.models.notifications import MailState, Notification
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.support.cli import run_cli
from tests.support.jobs import run_job
from tests.support.notify import T0, mail_settings, make_sender, new_job, person
from tests.support.quotes import SetClock
from tests.support.smtp import SmtpServer, free_port
from tests.support.workers import InlineWorkers


def succeed(sessions: SessionFactory, job_id: int) -> None:
    with session_scope(sessions) as s:
        run_job(s, job_id, JobState.succeeded, machine="printer", at=T0)


def test_a_new_app_on_the_same_database_sends_what_was_waiting(
    make_api: Any, settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    waiting, mid_send = (
        new_job(sessions, member, title="En attente"),
        new_job(sessions, member, title="Coupé en plein envoi"),
    )
    succeed(sessions, waiting)
    succeed(sessions, mid_send)
    with session_scope(sessions) as s:
        # The process that claimed it died: its lease runs out, the row is not lost.
        s.execute(
            update(Notification)
            .where(Notification.params["job_id"].as_integer() == mid_send)  # type: ignore[index]
            .values(
                state=MailState.sending,
                lease_owner="dead-node/1234",
                lease_until=clock.now() - timedelta(seconds=1),
            )
        )
    config = mail_settings(settings, smtp, start_mail_sender=True, mail_poll_s=0.05)
    api = make_api(config, clock=clock, workers=InlineWorkers())
    assert api.client.app.state.mail_sender.wait_sent(2, timeout=15)
    got = smtp.mailbox.messages
    assert sorted(m["Subject"] for m in got) == [
        "Votre travail « Coupé en plein envoi » est prêt à récupérer",
        "Votre travail « En attente » est prêt à récupérer",
    ]
    with sessions() as s:
        assert {n.state for n in s.exec(select(Notification)).all()} == {MailState.sent}


def test_the_app_sender_wakes_on_a_new_message(
    make_api: Any, settings: Settings, smtp: SmtpServer, clock: SetClock
) -> None:
    # A long poll: only the bus message written with the job's move can wake it in time.
    config = mail_settings(settings, smtp, start_mail_sender=True, mail_poll_s=600)
    api = make_api(config, clock=clock, workers=InlineWorkers())
    member = person(api.ctx.sessions, "lea", Role.member, "lea@exemple.fr")
    job = new_job(api.ctx.sessions, member)
    succeed(api.ctx.sessions, job)
    (msg,) = smtp.mailbox.wait_for(1)
    assert msg["To"] == "lea@exemple.fr"


def test_staff_list_and_resend_failed_emails_from_the_command_line(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    succeed(sessions, new_job(sessions, member, title="Porte-clés"))
    down = mail_settings(settings, smtp, mail_port=free_port(), mail_max_tries=1)
    make_sender(down, sessions, clock).run_once()
    env = {"FABQUEUE_DB_URL": settings.db_url}

    listed = run_cli("mail", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "failed" in listed.stdout and "lea@exemple.fr" in listed.stdout
    assert "« Porte-clés » est prêt à récupérer" in listed.stdout
    assert "ConnectionRefusedError" in listed.stdout

    again = run_cli("mail", "retry", env=env)
    assert again.returncode == 0, again.stderr
    assert "1 e-mail(s) queued again" in again.stdout
    clock.at = utcnow()  # the command line queues it for now, on the wall clock
    assert make_sender(mail_settings(settings, smtp), sessions, clock).run_once() == 1
    assert run_cli("mail", "list", env=env).stdout.strip() == "no e-mail waiting or failed"
    wrong = run_cli("mail", "retry", "999", env=env)
    assert wrong.returncode == 2 and "no e-mail 999" in wrong.stderr
