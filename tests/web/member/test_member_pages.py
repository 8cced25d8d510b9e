"""A member's pages through the app (no browser): where they land, their authorisations
and trainings, booking and its every refusal in French, moving and cancelling, the
calendar link, and their jobs among others' without others' names."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.models import Booking, Job, TrainingSession
from fabqueue.models.trainings import SessionCreate, TrainingCreate
from fabqueue.services import trainings
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.bookings import NOW, paris
from tests.support.factories import tiny_gcode
from tests.support.members import MemberCafe, member_cafe
from tests.support.web import STICKER, add_person, csrf_of, idem_of, sign_in, text_of

TUESDAY_2PM = paris(2026, 3, 3, 14)


@pytest.fixture
def cafe(make_api: Callable[..., Api], settings: Settings, tmp_path: Path) -> MemberCafe:
    cafe = member_cafe(make_api, settings, tmp_path)
    cafe.grant("mia", "plotter", expires_at=paris(2026, 9, 30, 12))
    return cafe


def _form(client: TestClient, path: str) -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def _fresh(client: TestClient) -> dict[str, str]:
    """The session's CSRF token and a new idempotency key (a form from another tab)."""
    return {"csrf": csrf_of(client.get("/member").text), "idem": uuid.uuid4().hex}


def _book(client: TestClient, start: datetime, minutes: int = 60, machine: str = "plotter") -> Any:
    data = {
        **_fresh(client),
        "machine": machine,
        "starts_at": start.isoformat(),
        "minutes": str(minutes),
    }
    return client.post("/member/bookings", data=data, follow_redirects=False)


def _bookings(cafe: MemberCafe) -> list[Booking]:
    with cafe.api.ctx.read_sessions() as s:
        return list(s.exec(select(Booking).order_by(Booking.id)))  # type: ignore[arg-type]


def test_a_member_lands_on_their_own_page_and_the_board_stays_staff_only(
    cafe: MemberCafe,
) -> None:
    client = cafe.client
    csrf = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"name": "mia", "password": "comptoir-2026-tilleuls", "csrf": csrf, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/member"
    assert client.get("/").status_code == 403
    home = text_of(client.get("/member").text)
    assert "Mes habilitations" in home and "Réserver" in home and "Mes travaux" in home


def test_a_client_account_is_not_shown_the_member_pages(cafe: MemberCafe) -> None:
    add_person(cafe.api.ctx.sessions, "boulangerie", "client")
    client = cafe.sign_in("boulangerie")
    for path in ("/member", "/member/book", "/member/jobs", "/member/jobs/new"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "Mes habilitations" not in text_of(r.text), path


def test_staff_still_land_on_the_board(cafe: MemberCafe) -> None:
    sign_in(cafe.client, "anim")
    assert "File d'attente" in text_of(cafe.client.get("/").text)


def test_authorisations_say_until_when_and_why_not(cafe: MemberCafe) -> None:
    home = text_of(cafe.sign_in("mia").get("/member").text)
    assert "Découpe vinyle" in home and "Vous pouvez l'utiliser jusqu'au 30 septembre 2026" in home
    assert "vous n'avez pas d'habilitation pour « Test printer » : inscrivez-vous" in home
    english = text_of(cafe.client.get("/member", headers={"Accept-Language": "en"}).text)
    assert "My authorisations" in english and "until 30 September 2026" in english


def test_an_expired_authorisation_is_shown_with_its_date(cafe: MemberCafe) -> None:
    cafe.grant("max", "printer", at=paris(2025, 1, 6, 10), expires_at=paris(2026, 2, 1, 10))
    home = text_of(cafe.sign_in("max").get("/member").text)
    assert "votre habilitation « Test printer » a expiré le 1 février 2026" in home


def _training_session(cafe: MemberCafe, places: int) -> int:
    with cafe.api.ctx.sessions() as s:
        anim = cafe.desk.user(s, cafe.ids["anim"])
        t = trainings.create_training(
            s, TrainingCreate(name="Impression 3D", kinds=["fdm_printer"]), anim, NOW
        )
        assert t.id is not None
        ts = trainings.create_session(
            s,
            t.id,
            SessionCreate(
                starts_at=paris(2026, 3, 10, 18), ends_at=paris(2026, 3, 10, 20), places=places
            ),
            anim,
            NOW,
        )
        assert ts.id is not None
        return ts.id


def test_a_member_enrols_in_a_session_with_free_places(cafe: MemberCafe) -> None:
    session_id = _training_session(cafe, places=2)
    client = cafe.sign_in("mia")
    home = text_of(client.get("/member").text)
    assert "Impression 3D" in home and "mar. 10 mars 2026, 18:00 – 20:00" in home
    assert "places libres : 2" in home
    r = client.post(f"/member/sessions/{session_id}/enrol", data=_form(client, "/member"))
    assert r.status_code == 200
    after = text_of(r.text)
    assert "Vous êtes inscrit" in after and "places libres : 1" in after and "Inscrit" in after
    # A second tab still showing the form: the service refuses, the page says why.
    csrf = csrf_of(client.get("/member").text)
    again = client.post(
        f"/member/sessions/{session_id}/enrol", data={"csrf": csrf, "idem": "another-tab"}
    )
    assert again.status_code == 409 and "Déjà inscrit à cette session." in text_of(again.text)


def test_a_full_session_refuses_in_french(cafe: MemberCafe) -> None:
    session_id = _training_session(cafe, places=1)
    max_client = TestClient(cafe.client.app)
    sign_in(max_client, "max")
    max_client.post(f"/member/sessions/{session_id}/enrol", data=_form(max_client, "/member"))
    client = cafe.sign_in("mia")
    assert "Complet" in text_of(client.get("/member").text)
    r = client.post(f"/member/sessions/{session_id}/enrol", data=_fresh(client))
    assert r.status_code == 409 and "Cette session est complète (1 places)." in text_of(r.text)
    with cafe.api.ctx.read_sessions() as s:
        assert s.get(TrainingSession, session_id) is not None


def test_the_week_shows_free_and_closed_ranges_in_french(cafe: MemberCafe) -> None:
    html = cafe.sign_in("mia").get("/member/book?machine=plotter").text
    words = text_of(html)
    assert "mardi 3 mars 00:00 – 14:00 · fermé 14:00 – 19:00 · libre" in words
    assert "vendredi 6 mars 00:00 – 24:00 · fermé (assemblée générale)" in words
    start = quote(TUESDAY_2PM.isoformat())
    assert f"/member/book/new?machine=plotter&amp;start={start}" in html
    english = text_of(
        cafe.client.get("/member/book?machine=plotter", headers={"Accept-Language": "en"}).text
    )
    assert "Tuesday 3 March" in english and "14:00 – 19:00 · free" in english


def test_an_odd_day_in_the_address_shows_this_week(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    for day in ("9999-12-31", "demain"):
        r = client.get(f"/member/book?machine=plotter&day={day}")
        assert r.status_code == 200 and "lundi 2 mars" in text_of(r.text)


def test_a_free_range_offers_the_lengths_the_policy_allows(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    words = text_of(
        client.get(f"/member/book/new?machine=plotter&start={quote(TUESDAY_2PM.isoformat())}").text
    )
    assert "Libre jusqu'à 19:00" in words
    lengths = re.search(r"Pour combien de temps (.*?) Libre", words)
    assert lengths is not None
    assert lengths.group(1).split(" ", 1)[0] == "30"
    assert lengths.group(1).endswith("4 h 00"), "max_minutes = 240"
    assert "4 h 30" not in lengths.group(1)


def test_booking_then_seeing_it_as_mine_then_cancelling(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    r = _book(client, TUESDAY_2PM)
    assert r.status_code == 303 and r.headers["location"].startswith("/member/bookings?made=")
    mine = text_of(client.get(r.headers["location"]).text)
    assert "C'est réservé" in mine and "mar. 3 mars 2026, 14:00 – 15:00" in mine
    week = text_of(client.get("/member/book?machine=plotter").text)
    assert "14:00 – 15:00 · votre réservation 15:00 – 19:00 · libre" in week
    (booking,) = _bookings(cafe)
    r = client.post(
        f"/member/bookings/{booking.id}/cancel",
        data=_form(client, "/member/bookings"),
        follow_redirects=False,
    )
    assert r.status_code == 303
    (booking,) = _bookings(cafe)
    assert booking.cancelled_at is not None and booking.cancelled_by == cafe.ids["mia"]


def test_another_members_booking_is_busy_without_their_name(cafe: MemberCafe) -> None:
    cafe.grant("max", "plotter")
    cafe.desk.book(cafe.ids["max"], "plotter", TUESDAY_2PM, paris(2026, 3, 3, 15))
    client = cafe.sign_in("mia")
    week = text_of(client.get("/member/book?machine=plotter").text)
    assert "14:00 – 15:00 · réservé" in week and "max" not in week.split("Mes travaux")[1]
    r = _book(client, TUESDAY_2PM)
    assert r.status_code == 409
    assert "« Découpe vinyle » est déjà réservée le 3 mars 2026 de 14:00 à 15:00." in text_of(
        r.text
    )


@pytest.mark.parametrize(
    ("start", "minutes", "status", "words"),
    [
        (paris(2026, 4, 7, 14), 60, 422, "On réserve au plus 28 jours à l'avance."),
        (TUESDAY_2PM, 300, 422, "Une réservation dure au plus 4 h"),
        (paris(2026, 3, 3, 14, 10), 60, 422, "par pas de 30 min"),
        (paris(2026, 3, 3, 19), 60, 422, "en dehors des heures d'ouverture"),
        (
            paris(2026, 3, 6, 14),
            60,
            422,
            "Le café est fermé le 6 mars 2026 de 14:00 à 15:00 (assemblée",
        ),
        (paris(2026, 3, 2, 9, 30), 60, 422, "avant le début du créneau"),
    ],
)
def test_each_refused_booking_shows_its_rule(
    cafe: MemberCafe, start: datetime, minutes: int, status: int, words: str
) -> None:
    client = cafe.sign_in("mia")
    r = _book(client, start, minutes)
    assert r.status_code == status
    page = text_of(r.text)
    assert "Réservation refusée :" in page and words in page
    assert _bookings(cafe) == []


def test_an_expired_authorisation_refuses_the_booking_with_its_reason(
    cafe: MemberCafe,
) -> None:
    cafe.grant("max", "plotter", at=paris(2025, 1, 6, 10), expires_at=paris(2026, 2, 1, 10))
    client = cafe.sign_in("max")
    week = text_of(client.get("/member/book?machine=plotter").text)
    assert "a expiré le 1 février 2026" in week
    r = _book(client, TUESDAY_2PM)
    assert r.status_code == 403
    assert "Votre habilitation « Découpe vinyle » a expiré le 1 février 2026." in text_of(r.text)


def test_the_weekly_limit_is_the_services(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    assert _book(client, paris(2026, 3, 7, 10), 240).status_code == 303
    r = _book(client, paris(2026, 3, 8, 10), 180)
    assert r.status_code == 422 and "il vous en reste 2 h cette semaine-là" in text_of(r.text)


def test_moving_within_the_rules_and_too_late(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    _book(client, paris(2026, 3, 5, 14))
    (booking,) = _bookings(cafe)
    path = f"/member/bookings/{booking.id}/move"
    form = {**_form(client, path), "day": "2026-03-05", "start": "16:00", "minutes": "90"}
    assert client.post(path, data=form, follow_redirects=False).status_code == 303
    (booking,) = _bookings(cafe)
    assert booking.starts_at == paris(2026, 3, 5, 16) and booking.ends_at == paris(
        2026, 3, 5, 17, 30
    )
    cafe.clock.set(paris(2026, 3, 4, 17))
    form = {**_form(client, path), "day": "2026-03-05", "start": "17:00", "minutes": "60"}
    r = client.post(path, data=form)
    assert r.status_code == 422 and "jusqu'à 24 h avant son début" in text_of(r.text)
    assert "Trop tard pour la modifier ici" in text_of(client.get("/member/bookings").text)


def test_the_calendar_link_is_shown_once_and_a_new_one_ends_the_old(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    _book(client, TUESDAY_2PM)
    links = []
    for _ in range(2):
        r = client.post("/member/calendar", data=_form(client, "/member/bookings"))
        found = re.search(r'id="feed" readonly value="([^"]+)"', r.text)
        assert found, r.text[-2000:]
        links.append(found.group(1))
    old, new = (link.removeprefix("http://testserver") for link in links)
    feed = client.get(new)
    assert feed.status_code == 200 and "BEGIN:VEVENT" in feed.text
    assert client.get(old).status_code == 404
    assert client.get("/member/bookings").text.count('id="feed"') == 0


def test_forms_need_their_csrf_and_a_double_tap_books_once(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    data = {"machine": "plotter", "starts_at": TUESDAY_2PM.isoformat(), "minutes": "60"}
    r = client.post("/member/bookings", data={**data, "csrf": "forged"})
    assert r.status_code == 403 and _bookings(cafe) == []
    form = _form(client, "/member/bookings")
    first = client.post("/member/bookings", data={**data, **form}, follow_redirects=False)
    second = client.post("/member/bookings", data={**data, **form}, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert len(_bookings(cafe)) == 1


def _sticker(form: dict[str, str], machine: str) -> dict[str, Any]:
    return {
        "data": {**form, "machine": machine, "material": "vinyle-noir", "copies": "1"},
        "files": {"file": (STICKER.name, STICKER.read_bytes(), "image/svg+xml")},
    }


def test_a_member_understands_then_queues_a_job_on_their_machine(cafe: MemberCafe) -> None:
    client = cafe.sign_in("mia")
    new = client.get("/member/jobs/new").text
    assert '<option value="plotter"' in new and '<option value="printer"' not in new
    form = {"csrf": csrf_of(new), "idem": idem_of(new)}
    hx = {"HX-Request": "true", "HX-Target": "understood"}
    understood = client.post("/member/jobs/new/understand", headers=hx, **_sticker(form, "plotter"))
    assert understood.status_code == 200 and "<html" not in understood.text
    words = text_of(understood.text)
    assert "Ce que fabqueue a compris" in words and "€ HT" in words and "Mettre en file" in words
    r = client.post("/member/jobs/new", follow_redirects=False, **_sticker(form, "plotter"))
    assert r.status_code == 303 and r.headers["location"].startswith("/member/jobs/")
    job_page = text_of(client.get(r.headers["location"]).text)
    assert "en file" in job_page and "Vos travaux passent pendant vos réservations" in job_page


def test_a_job_on_a_machine_not_authorised_is_refused_with_the_reason(
    cafe: MemberCafe, tmp_path: Path
) -> None:
    client = cafe.sign_in("mia")
    form = _form(client, "/member/jobs/new")
    gcode = tiny_gcode(tmp_path)
    r = client.post(
        "/member/jobs/new",
        data={**form, "machine": "printer"},
        files={"file": (gcode.name, gcode.read_bytes(), "text/plain")},
    )
    assert r.status_code == 403
    assert "vous n'avez pas d'habilitation pour « Test printer »" in text_of(r.text)
    with cafe.api.ctx.read_sessions() as s:
        assert list(s.exec(select(Job))) == []


def test_others_jobs_are_in_the_queue_without_their_names(cafe: MemberCafe, tmp_path: Path) -> None:
    anim = TestClient(cafe.client.app)
    sign_in(anim, "anim")
    r = anim.post(
        "/jobs/new",
        data={**_form(anim, "/jobs/new"), "machine": "plotter", "material": "vinyle-noir"},
        files={"file": ("enseigne-boulangerie-dupont.svg", STICKER.read_bytes(), "image/svg+xml")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    other_id = int(r.headers["location"].rsplit("/", 1)[1])
    client = cafe.sign_in("mia")
    words = text_of(client.get("/member/jobs").text)
    assert "Travail d'une autre personne" in words and "en file" in words
    assert "boulangerie" not in words and "anim" not in words
    assert client.get(f"/member/jobs/{other_id}").status_code == 404
    live = client.get("/member/jobs?bg=1", headers={"HX-Request": "true", "HX-Target": "work"})
    assert "<html" not in live.text and "Travail d'une autre personne" in text_of(live.text)
