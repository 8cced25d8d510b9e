"""The public quote-request form: every rule, through the app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from fabqueue.models import Organisation, Quote, QuoteEvent, QuoteLine, QuoteState
from fabqueue.services.clients import siret_ok
from tests.conftest import Api
from tests.support.quotes import SetClock, admin
from tests.support.shopkeeper import LA_POSTE_SIRET, REQUEST, post_request
from tests.support.web import STICKER, sign_in, text_of

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64)


def _quotes(api: Api) -> list[Quote]:
    with api.ctx.read_sessions() as session:
        return list(session.exec(select(Quote)))


@pytest.mark.parametrize(
    ("siret", "ok"),
    [
        ("81234567600017", True),  # SIREN and SIRET both pass Luhn
        ("81234567600018", False),  # one digit off
        ("35600000000048", True),  # La Poste's head office keeps the Luhn key
        (LA_POSTE_SIRET, True),  # a La Poste office: digit sum 45, a multiple of 5
        ("35600000049838", False),  # La Poste, sum 46
        ("35600000049836", False),  # La Poste, sum 44
        ("8123456760001", False),  # 13 digits
        ("812345676000170", False),  # 15 digits
        ("8123456760001A", False),
        ("73282932000074", True),
        ("73282932100074", False),  # SIRET Luhn-valid? no: and its SIREN is then wrong too
    ],
)
def test_siret_check_digits(siret: str, ok: bool) -> None:
    assert siret_ok(siret) is ok


def test_a_request_makes_the_organisation_and_a_requested_quote_with_its_logo(
    qapi: Api,
) -> None:
    r = post_request(
        qapi.client,
        [(STICKER.name, STICKER.read_bytes())],
        siret="812 345 676 00017",
        headers={"user-agent": "Firefox de la boulangerie"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"{REQUEST}/merci", r.text
    thanks = text_of(qapi.client.get(r.headers["location"]).text)
    assert "Merci, votre demande est envoyée" in thanks and "deux jours ouvrés" in thanks
    assert "atelier@cafe-port.example" in thanks, "the café's contact, from site.toml"

    with qapi.ctx.read_sessions() as session:
        (quote,) = session.exec(select(Quote)).all()
        org = session.get(Organisation, quote.organisation_id)
        lines = session.exec(select(QuoteLine).where(QuoteLine.quote_id == quote.id)).all()
        (event,) = session.exec(select(QuoteEvent).where(QuoteEvent.quote_id == quote.id)).all()
    assert quote.state == QuoteState.requested and quote.title == "Lettrage de vitrine — 2 ex."
    assert "80 cm de large" in quote.request_notes and "04 78 12 34 56" in quote.request_notes
    assert org is not None and org.siret == "81234567600017" and org.email.endswith("example")
    assert org.address == "4 place du Marché\n69003 Lyon"
    assert [(ln.file_name, ln.quantity_milli, ln.file_type) for ln in lines] == [
        (STICKER.name, 2000, "svg")
    ]
    assert lines[0].description.startswith("Autocollant")
    assert event.actor == "form" and event.detail["consent_at"]
    assert event.detail["user_agent"] == "Firefox de la boulangerie"
    assert event.detail["address"] and event.detail["to_confirm"] is False


def test_consent_missing_is_refused_beside_the_box_and_nothing_is_kept(qapi: Api) -> None:
    r = post_request(qapi.client, consent="")
    assert r.status_code == 422
    words = text_of(r.text)
    assert "Cochez la case pour que nous puissions conserver vos informations" in words
    assert 'aria-describedby="consent-error"' in r.text
    assert 'value="Boulangerie Céleste"' in r.text, "what was typed is kept"
    assert _quotes(qapi) == []


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"siret": "81234567600018"}, "La clé de contrôle de ce SIRET ne correspond pas"),
        ({"siret": "1234"}, "Un SIRET compte 14 chiffres"),
        ({"email": "celeste@"}, "Cette adresse e-mail semble incorrecte"),
        ({"organisation": " "}, "Indiquez le nom de votre commerce"),
        ({"address": "  "}, "Indiquez votre adresse postale"),
        ({"wants": ""}, "Choisissez ce que vous souhaitez faire réaliser"),
        ({"quantity": "0"}, "un nombre entier de 1 à 1000"),
        ({"wanted_on": "2020-01-01"}, "Cette date est passée"),
    ],
)
def test_bad_fields_are_said_in_french_and_nothing_is_kept(
    qapi: Api, changes: dict[str, str], said: str
) -> None:
    r = post_request(qapi.client, **changes)
    assert r.status_code == 422
    assert said in text_of(r.text)
    assert _quotes(qapi) == []


def test_la_poste_siret_is_taken(qapi: Api) -> None:
    r = post_request(qapi.client, siret=LA_POSTE_SIRET, organisation="La Poste Lyon Tilleuls")
    assert r.status_code == 303, text_of(r.text)[:600]
    with qapi.ctx.read_sessions() as session:
        assert session.exec(select(Organisation.siret)).all() == [LA_POSTE_SIRET]


def test_the_honeypot_is_thanked_and_nothing_is_kept(qapi: Api) -> None:
    r = post_request(qapi.client, website="http://spam.example")
    assert r.status_code == 303 and r.headers["location"] == f"{REQUEST}/merci"
    assert _quotes(qapi) == []
    with qapi.ctx.read_sessions() as session:
        assert session.exec(select(Organisation)).all() == []


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("logo.svg", PNG, "logo.svg n’est pas un vrai fichier SVG : il contient une image PNG"),
        ("logo.svg", EXE, "il contient un programme Windows"),
        ("facture.pdf", EXE, "facture.pdf n’est pas un vrai fichier PDF"),
        ("pieces.gcode", b"\x7fELF\x02\x01\x01" + bytes(40), "il contient un programme"),
    ],
)
def test_a_disguised_file_is_refused_clearly(
    qapi: Api, name: str, content: bytes, said: str
) -> None:
    r = post_request(qapi.client, [(name, content)])
    assert r.status_code == 422
    words = text_of(r.text)
    assert said in words and "Rien n’a été conservé" in words
    assert _quotes(qapi) == []


def test_a_file_no_machine_can_make_is_refused_with_the_reason(qapi: Api) -> None:
    r = post_request(qapi.client, [("notes.txt", b"juste du texte")])
    assert r.status_code == 415
    assert "notes.txt ne peut pas être réalisé ici" in text_of(r.text)
    assert _quotes(qapi) == []


def test_the_upload_limit_holds(qapi: Api) -> None:
    small = qapi.ctx.settings.model_copy(update={"upload_limit_bytes": 1000})
    qapi.ctx.settings = small  # the form reads the limit per request
    big = STICKER.read_bytes()
    assert len(big) > 1000
    r = post_request(qapi.client, [(STICKER.name, big)])
    assert r.status_code == 413
    assert f"{STICKER.name} est trop lourd" in text_of(r.text)
    assert _quotes(qapi) == []


def test_the_sixth_request_from_one_address_waits_for_the_window(
    qapi: Api, clock: SetClock
) -> None:
    for n in range(5):
        r = post_request(qapi.client, organisation=f"Commerce {n}", email=f"c{n}@ex.example")
        assert r.status_code == 303, n
    r = post_request(qapi.client, organisation="Commerce 6", email="c6@ex.example")
    assert r.status_code == 429
    assert "Vous avez envoyé plusieurs demandes en peu de temps" in text_of(r.text)
    assert int(r.headers["retry-after"]) > 0
    assert len(_quotes(qapi)) == 5

    clock.advance(hours=1, seconds=1)
    r = post_request(qapi.client, organisation="Commerce 6", email="c6@ex.example")
    assert r.status_code == 303
    assert len(_quotes(qapi)) == 6


def test_the_window_and_the_count_are_settings(qapi: Api, clock: SetClock) -> None:
    qapi.ctx.settings = qapi.ctx.settings.model_copy(
        update={"quote_request_limit": 1, "quote_request_window_s": 60.0}
    )
    assert post_request(qapi.client).status_code == 303
    assert post_request(qapi.client, email="other@ex.example").status_code == 429
    clock.advance(seconds=61)
    assert post_request(qapi.client, email="other@ex.example").status_code == 303


def test_a_known_siret_attaches_to_its_organisation_for_staff_to_confirm(qapi: Api) -> None:
    body = {"name": "Boulangerie Céleste SARL", "siret": "81234567600017", "email": "a@b.example"}
    org = qapi.client.post("/api/v1/clients", headers=admin(qapi), json=body).json()["id"]
    r = post_request(qapi.client, siret="81234567600017", organisation="Boulangerie")
    assert r.status_code == 303
    (quote,) = _quotes(qapi)
    assert quote.organisation_id == org
    with qapi.ctx.read_sessions() as session:
        assert len(session.exec(select(Organisation)).all()) == 1

    from tests.support.web import add_person

    add_person(qapi.ctx.sessions, "camille", "facilitator")
    sign_in(qapi.client, "camille")
    desk = text_of(qapi.client.get(f"/quotes/{quote.id}").text)
    assert "Demande reçue par le formulaire public" in desk
    assert "Rattachée à Boulangerie Céleste SARL car le SIRET correspond" in desk


def test_a_known_email_attaches_too(qapi: Api) -> None:
    body = {"name": "Fleurs Rosa", "email": "Rosa@Fleurs.example"}
    org = qapi.client.post("/api/v1/clients", headers=admin(qapi), json=body).json()["id"]
    assert post_request(qapi.client, email="rosa@fleurs.example").status_code == 303
    (quote,) = _quotes(qapi)
    assert quote.organisation_id == org
    with qapi.ctx.read_sessions() as session:
        event = session.exec(select(QuoteEvent).where(QuoteEvent.quote_id == quote.id)).one()
    assert event.detail["attached_by"] == "email" and event.detail["to_confirm"] is True


def test_a_form_without_its_csrf_token_is_refused(qapi: Api) -> None:
    qapi.client.get(REQUEST)
    r = qapi.client.post(REQUEST, data={"organisation": "X", "consent": "1"})
    assert r.status_code == 403
    assert _quotes(qapi) == []


def test_a_double_tap_makes_one_request(qapi: Api) -> None:
    from tests.support.shopkeeper import form_fields, request_data

    data = {**form_fields(qapi.client), **request_data()}
    first = qapi.client.post(REQUEST, data=data, follow_redirects=False)
    again = qapi.client.post(REQUEST, data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert len(_quotes(qapi)) == 1


def test_french_first_english_when_the_browser_asks(qapi: Api) -> None:
    assert "Demander un devis" in qapi.client.get(REQUEST).text
    english = qapi.client.get(REQUEST, headers={"accept-language": "en-GB,en;q=0.9"})
    assert "Ask for a quote" in english.text and 'lang="en"' in english.text


def test_the_form_can_be_prefilled_with_the_organisation(qapi: Api, clock: SetClock) -> None:
    html = qapi.client.get(REQUEST, params={"organisation": "Fleurs Rosa", "siret": "123"}).text
    assert 'value="Fleurs Rosa"' in html and 'value="123"' in html
    tomorrow = (clock.at + timedelta(days=1)).date().isoformat()
    assert post_request(qapi.client, wanted_on=tomorrow).status_code == 303
