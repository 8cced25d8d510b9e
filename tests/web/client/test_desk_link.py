"""The quote desk shows the customer's link and its QR code when a quote is sent, and
makes a new one on demand (the link is not kept in clear; the old one stops working)."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.support.shopkeeper import form_fields, link_of, sent_quote
from tests.support.web import add_person, sign_in, text_of


def test_a_new_link_replaces_the_old_one(qapi: Api) -> None:
    quote_id, old, _org = sent_quote(qapi)
    add_person(qapi.ctx.sessions, "camille", "facilitator")
    sign_in(qapi.client, "camille")
    desk = f"/quotes/{quote_id}"
    assert "Afficher un nouveau lien et son QR code" in text_of(qapi.client.get(desk).text)

    r = qapi.client.post(f"{desk}/do/link", data=form_fields(qapi.client, desk))
    assert r.status_code == 200
    new = link_of(r.text)
    assert new != old and 'class="segno"' in r.text
    assert "http://127.0.0.1:8000/devis/" in r.text, "absolute, on the served address"

    assert qapi.client.get(f"/devis/{old}").status_code == 404
    page = qapi.client.get(f"/devis/{new}")
    assert page.status_code == 200 and "Accepter le devis" in text_of(page.text)
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-robots-tag"] == "noindex"


@pytest.fixture
def regime() -> str:
    """The association's site, which has a logo."""
    return "association_exempt"


def test_the_devis_page_shows_the_cafes_logo(qapi: Api) -> None:
    _id, token, _org = sent_quote(qapi)
    html = qapi.client.get(f"/devis/{token}").text
    assert '<img src="/logo-du-cafe"' in html and "Café numérique des Tilleuls" in html
    logo = qapi.client.get("/logo-du-cafe")
    assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/svg+xml")
    assert logo.content.startswith(b"<svg")
