"""The pages of telling people: a member's notices (count, list, mark read, in their
language), staff's e-mails not sent with « Renvoyer », the unsubscribe link, and
« Mes e-mails »."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.db import session_scope
from fabqueue.models.notifications import MailPreference, MailState, Notification
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.jobs import run_job
from tests.support.notify import T0, mail_settings, make_sender, new_job
from tests.support.quotes import SetClock
from tests.support.smtp import free_port
from tests.support.web import add_person, csrf_of, idem_of, sign_in, text_of
from tests.support.workers import InlineWorkers


@pytest.fixture
def cafe(make_api: Any, settings: Settings, clock: SetClock) -> Api:
    api: Api = make_api(
        mail_settings(settings, None, start_dispatcher=False), clock=clock, workers=InlineWorkers()
    )
    api.user_ids["camille"] = add_person(api.ctx.sessions, "camille", "facilitator")
    api.user_ids["lea"] = add_person(api.ctx.sessions, "lea", "member")
    api.user_ids["noe"] = add_person(api.ctx.sessions, "noe", "member")
    return api


def client_for(api: Api, name: str, **headers: str) -> TestClient:
    client = TestClient(api.client.app, headers=headers)
    sign_in(client, name)
    return client


def job_done(api: Api, owner: str, title: str, to: JobState = JobState.succeeded) -> int:
    job_id = new_job(api.ctx.sessions, api.user_ids[owner], title=title)
    with session_scope(api.ctx.sessions) as s:
        run_job(s, job_id, to, machine="printer", at=T0)
    return job_id


def post(client: TestClient, path: str, page: str, **data: str) -> Any:
    form = {"csrf": csrf_of(page), "idem": idem_of(page), **data}
    return client.post(path, data=form, follow_redirects=False)


def test_a_member_sees_their_notices_and_marks_them_read(cafe: Api) -> None:
    job = job_done(cafe, "lea", "Support de téléphone")
    job_done(cafe, "noe", "Pas pour Léa")
    lea = client_for(cafe, "lea")

    board = lea.get("/")
    assert 'hx-get="/notices"' in board.text, "the header loads the notices of a member"
    page = lea.get("/notices", headers={"HX-Request": "true", "HX-Target": "notices"})
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Votre travail « Support de téléphone » est prêt à récupérer" in words
    assert "Pas pour Léa" not in words
    assert "Avis 1 non lus" in words
    assert f'href="/jobs/{job}"' in page.text

    r = post(lea, "/notices/read", page.text)
    assert r.status_code == 303 and r.headers["location"] == "/notices"
    after = text_of(lea.get("/notices").text)
    assert "non lus" not in after and "Tout marquer comme lu" not in after
    assert "prêt à récupérer" in after, "read notices stay in the list"


def test_notices_speak_the_page_language(cafe: Api) -> None:
    job_done(cafe, "lea", "Engrenage", JobState.failed)
    lea = client_for(cafe, "lea", **{"Accept-Language": "en"})
    assert "Your job “Engrenage” failed" in text_of(lea.get("/notices").text)


def test_staff_do_not_get_the_members_notices_in_their_header(cafe: Api) -> None:
    staff = client_for(cafe, "camille")
    board = staff.get("/")
    assert 'hx-get="/notices"' not in board.text
    assert 'href="/notifications"' in board.text


def test_staff_see_failed_emails_and_send_them_again(
    cafe: Api, settings: Settings, clock: SetClock
) -> None:
    with session_scope(cafe.ctx.sessions) as s:
        pref = MailPreference(user_id=cafe.user_ids["lea"], email="lea@exemple.fr", token="t-lea")
        pref.updated_at = T0
        s.add(pref)
    job_done(cafe, "lea", "Porte-clés")
    down = mail_settings(settings, None, mail_host="127.0.0.1", mail_port=free_port())
    make_sender(
        down.model_copy(update={"mail_max_tries": 1, "mail_from": "a@b.fr"}),
        cafe.ctx.sessions,
        clock,
    ).run_once()

    staff = client_for(cafe, "camille")
    page = staff.get("/notifications")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "E-mails non envoyés (1)" in words
    assert "Échec" in words and "lea@exemple.fr" in words and "ConnectionRefusedError" in words
    assert "Aucun serveur d'envoi n'est configuré" in words, "this app has no SMTP server"
    (note,) = _notes(cafe)
    r = post(staff, f"/notifications/{note.id}/retry", page.text)
    assert r.status_code == 303
    (note,) = _notes(cafe)
    assert note.state == MailState.pending and note.tries == 0

    # A second « Renvoyer » from a page left open (a new key: not a double tap).
    r = post(staff, f"/notifications/{note.id}/retry", page.text, idem="another-tap")
    assert r.status_code == 409
    assert "Cet e-mail ne peut pas être renvoyé" in text_of(r.text)

    lea = client_for(cafe, "lea")
    assert lea.get("/notifications").status_code == 403


def _notes(api: Api) -> list[Notification]:
    with api.ctx.read_sessions() as s:
        return list(s.exec(select(Notification)).all())


def test_the_unsubscribe_link_works_without_signing_in(cafe: Api) -> None:
    with session_scope(cafe.ctx.sessions) as s:
        s.add(MailPreference(email="durand@exemple.fr", token="tok-durand", updated_at=T0))
    visitor = TestClient(cafe.client.app)
    assert visitor.get("/unsubscribe/not-a-token").status_code == 404
    page = visitor.get("/unsubscribe/tok-durand?kind=job_ready")
    assert page.status_code == 200
    assert "Seulement : Travail prêt à récupérer" in text_of(page.text)
    r = post(visitor, "/unsubscribe/tok-durand", page.text, kind="job_ready")
    assert r.status_code == 200
    assert "vous ne recevrez plus ces e-mails : Travail prêt à récupérer" in text_of(r.text)
    page = visitor.get("/unsubscribe/tok-durand")
    r = post(visitor, "/unsubscribe/tok-durand", page.text, kind="all")
    assert "vous ne recevrez plus d'e-mails de notre part" in text_of(r.text)
    with cafe.ctx.read_sessions() as s:
        pref = s.exec(select(MailPreference).where(MailPreference.token == "tok-durand")).one()
    assert pref.off_all and pref.off_kinds == ["job_ready"]


def test_a_member_gives_an_address_and_chooses_their_emails(cafe: Api) -> None:
    lea = client_for(cafe, "lea")
    page = lea.get("/account/emails")
    assert page.status_code == 200
    r = post(lea, "/account/emails", page.text, email="pas une adresse")
    assert r.status_code == 422
    assert "« pas une adresse » n'est pas une adresse e-mail." in text_of(r.text)

    page = lea.get("/account/emails")
    form = {"csrf": csrf_of(page.text), "idem": idem_of(page.text), "email": "lea@exemple.fr"}
    r = lea.post(
        "/account/emails",
        data={**form, "off": ["job_failed", "booking_tomorrow"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    saved = lea.get(r.headers["location"])
    assert "C'est enregistré." in text_of(saved.text)
    assert 'value="lea@exemple.fr"' in saved.text
    with cafe.ctx.read_sessions() as s:
        pref = s.exec(
            select(MailPreference).where(MailPreference.user_id == cafe.user_ids["lea"])
        ).one()
    assert pref.email == "lea@exemple.fr" and pref.off_kinds == ["booking_tomorrow", "job_failed"]
    assert not pref.off_all
