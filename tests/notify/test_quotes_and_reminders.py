"""The shopkeeper's e-mails (quote sent, with its PDF; quote about to expire) and the
member's reminder the day before a booking, through a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Booking, Quote, Role
from fabqueue.models.notifications import Notification
from fabqueue.quotes.sending import hash_token
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.notify import PUBLIC_URL, mail_settings, make_sender, person
from tests.support.quotes import SetClock, draft_for, free_line, make_client, staff
from tests.support.smtp import SmtpServer, attachments, parts
from tests.support.workers import InlineWorkers


@pytest.fixture
def shop_api(make_api: Any, settings: Settings, clock: SetClock, smtp: SmtpServer) -> Api:
    return make_api(  # type: ignore[no-any-return]
        mail_settings(settings, smtp, start_dispatcher=False), clock=clock, workers=InlineWorkers()
    )


def send_quote(api: Api) -> dict[str, Any]:
    org, _client = make_client(api, email="contact@boulangerie-celeste.example")
    quote = draft_for(api, org, title="Lettrage de vitrine")
    assert (
        free_line(api, quote["id"], "Lettrage vinyle", "1", "120.00", vat="20").status_code == 201
    )
    r = api.client.post(f"/api/v1/quotes/{quote['id']}/send", headers=staff(api))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_sent_quote_reaches_the_shop_with_its_link_and_pdf(
    shop_api: Api, smtp: SmtpServer, clock: SetClock
) -> None:
    sent = send_quote(shop_api)
    sender = make_sender(mail_settings(shop_api.ctx.settings, smtp), shop_api.ctx.sessions, clock)
    assert sender.run_once() == 1

    (msg,) = smtp.mailbox.messages
    assert msg["To"] == "contact@boulangerie-celeste.example"
    assert msg["Subject"] == f"Votre devis {sent['number']} — Café numérique du Port"
    text, html = parts(msg)
    link = f"{PUBLIC_URL}/devis/{sent['accept_token']}"
    assert link in text and f'href="{link}"' in html
    assert "144,00" in text and "TTC" in text, "the total with VAT, written the French way"
    ((name, pdf),) = attachments(msg)
    assert name == f"{sent['number']}.pdf" and pdf.startswith(b"%PDF")
    with shop_api.ctx.read_sessions() as s:
        quote = s.get(Quote, sent["id"])
        assert quote is not None and quote.accept_token_hash == hash_token(sent["accept_token"])
        (note,) = s.exec(select(Notification)).all()
        assert note.user_id is not None, "the shop's client account sees it on its page"


def test_a_quote_about_to_expire_is_told_once(
    shop_api: Api, smtp: SmtpServer, clock: SetClock
) -> None:
    sent = send_quote(shop_api)
    config = mail_settings(shop_api.ctx.settings, smtp)
    make_sender(config, shop_api.ctx.sessions, clock).run_once()
    assert len(smtp.mailbox.messages) == 1

    valid_until = datetime.fromisoformat(sent["valid_until"]).replace(tzinfo=UTC)
    clock.at = valid_until - timedelta(days=5)
    assert make_sender(config, shop_api.ctx.sessions, clock).run_once() == 0, "not yet"
    clock.at = valid_until - timedelta(days=2)
    for _ in range(2):  # two nodes, or a restart: one message
        make_sender(config, shop_api.ctx.sessions, clock).run_once()
    assert len(smtp.mailbox.messages) == 2
    msg = smtp.mailbox.messages[1]
    assert msg["Subject"].startswith(f"Votre devis {sent['number']} expire le ")
    text, _html = parts(msg)
    assert "bon pour accord" in text


def test_a_member_is_reminded_of_tomorrows_booking(
    settings: Settings, sessions: SessionFactory, smtp: SmtpServer, clock: SetClock
) -> None:
    member = person(sessions, "lea", Role.member, "lea@exemple.fr")
    # 2 March 2026, 10:30 in Paris; the booking is on the 3rd at 14:00 Paris time.
    starts = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    later = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)
    with session_scope(sessions) as s:
        for at in (starts, later):
            s.add(
                Booking(
                    machine="printer",
                    member_id=member,
                    starts_at=at,
                    ends_at=at + timedelta(hours=1),
                    created_at=clock.now(),
                    created_by=member,
                )
            )
    config = mail_settings(settings, smtp)
    assert make_sender(config, sessions, clock).run_once() == 1
    assert make_sender(config, sessions, clock).run_once() == 0, "once per booking"
    (msg,) = smtp.mailbox.messages
    assert msg["To"] == "lea@exemple.fr"
    assert msg["Subject"] == "Rappel : votre réservation demain à 14:00 — printer"
    text, html = parts(msg)
    assert "mardi 3 mars 2026 à 14:00" in text and "jusqu'à 15:00" in text
    assert f"{PUBLIC_URL}/bookings" in html
