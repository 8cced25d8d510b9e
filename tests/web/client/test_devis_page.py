"""The devis behind its secret link: read, PDF, « bon pour accord », refusal, and the
quotes that can no longer be answered."""

from __future__ import annotations

import re

from sqlmodel import col, select

from fabqueue.models import Quote, QuoteEvent, QuoteState
from tests.conftest import Api
from tests.support.quotes import SetClock, staff
from tests.support.shopkeeper import form_fields, sent_quote
from tests.support.web import text_of


def _events(api: Api, quote_id: int) -> list[QuoteEvent]:
    with api.ctx.read_sessions() as session:
        return list(
            session.exec(
                select(QuoteEvent)
                .where(QuoteEvent.quote_id == quote_id)
                .order_by(col(QuoteEvent.id))
            )
        )


def _state(api: Api, quote_id: int) -> QuoteState:
    with api.ctx.read_sessions() as session:
        quote = session.get(Quote, quote_id)
        assert quote is not None
        return QuoteState(quote.state)


def test_the_shopkeeper_reads_the_devis_and_signs_bon_pour_accord(qapi: Api) -> None:
    quote_id, token, _org = sent_quote(qapi)
    page = f"/devis/{token}"
    html = qapi.client.get(page).text
    words = text_of(html)
    assert re.search(r"Devis DEV-\d{4}-\d{4}", words)
    assert re.search(r"valable jusqu’au \d{1,2} \w+ \d{4}", words)
    assert "Pour Boulangerie Céleste" in words and "Total TTC" in words
    assert "Télécharger le PDF" in words and "Nom du signataire" in words
    assert "« Bon pour accord », le 2 mars 2026" in words, "the date beside the box"
    pdf = qapi.client.get(f"{page}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # The box unticked: said, nothing recorded.
    r = qapi.client.post(
        f"{page}/accepter", data={**form_fields(qapi.client, page), "signer_name": "Céleste"}
    )
    assert r.status_code == 422
    assert "cochez « Bon pour accord »" in text_of(r.text)
    assert _state(qapi, quote_id) == QuoteState.sent

    r = qapi.client.post(
        f"{page}/accepter",
        data={**form_fields(qapi.client, page), "signer_name": "Céleste Martin", "agree": "1"},
        headers={"user-agent": "Safari mobile"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == page
    assert _state(qapi, quote_id) == QuoteState.accepted
    accepted = [e for e in _events(qapi, quote_id) if e.to_state == QuoteState.accepted]
    assert len(accepted) == 1
    detail = accepted[0].detail
    assert accepted[0].actor == "link" and detail["signer"] == "Céleste Martin"
    assert detail["user_agent"] == "Safari mobile" and detail["address"]
    after = text_of(qapi.client.get(page).text)
    assert "Vous avez accepté ce devis le" in after and "signé par Céleste Martin" in after
    assert "Accepter le devis" not in after


def test_a_double_tap_on_accept_signs_once(qapi: Api) -> None:
    quote_id, token, _org = sent_quote(qapi)
    page = f"/devis/{token}"
    data = {**form_fields(qapi.client, page), "signer_name": "Céleste", "agree": "1"}
    first = qapi.client.post(f"{page}/accepter", data=data, follow_redirects=False)
    again = qapi.client.post(f"{page}/accepter", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert sum(e.to_state == QuoteState.accepted for e in _events(qapi, quote_id)) == 1


def test_the_shopkeeper_declines_with_a_reason(qapi: Api) -> None:
    quote_id, token, _org = sent_quote(qapi)
    page = f"/devis/{token}"
    r = qapi.client.post(
        f"{page}/refuser",
        data={**form_fields(qapi.client, page), "reason": "Trop cher pour nous"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _state(qapi, quote_id) == QuoteState.refused
    refused = [e for e in _events(qapi, quote_id) if e.to_state == QuoteState.refused]
    assert refused[0].detail["reason"] == "Trop cher pour nous"
    assert refused[0].detail["address"]
    html = qapi.client.get(page).text
    assert "Vous avez refusé ce devis le" in text_of(html)
    assert 'href="/demande-de-devis?organisation=Boulangerie+C%C3%A9leste"' in html


def test_an_expired_devis_says_so_and_cannot_be_accepted(qapi: Api, clock: SetClock) -> None:
    quote_id, token, _org = sent_quote(qapi)
    page = f"/devis/{token}"
    fields = form_fields(qapi.client, page)
    clock.advance(days=31)
    words = text_of(qapi.client.get(page).text)
    assert "Ce devis a expiré le 1 avril 2026" in words
    assert "Demander un nouveau devis" in words and "Accepter le devis" not in words
    r = qapi.client.post(
        f"{page}/accepter", data={**fields, "signer_name": "Céleste", "agree": "1"}
    )
    assert r.status_code == 409
    assert "Ce devis ne peut plus être accepté en ligne" in text_of(r.text)
    assert _state(qapi, quote_id) == QuoteState.sent  # the sweep marks it; nobody accepted


def test_a_replaced_version_says_so(qapi: Api, clock: SetClock) -> None:
    quote_id, token, _org = sent_quote(qapi)
    new = qapi.client.post(f"/api/v1/quotes/{quote_id}/revise", headers=staff(qapi)).json()
    r = qapi.client.post(f"/api/v1/quotes/{new['id']}/send", headers=staff(qapi))
    assert r.status_code == 200, r.text
    words = text_of(qapi.client.get(f"/devis/{token}").text)
    assert "Ce devis a été remplacé par une autre version" in words
    assert "Accepter le devis" not in words
    new_words = text_of(qapi.client.get(f"/devis/{r.json()['accept_token']}").text)
    assert "Accepter le devis" in new_words


def test_an_unknown_or_replaced_link_leads_to_a_new_request(qapi: Api) -> None:
    quote_id, token, _org = sent_quote(qapi)
    r = qapi.client.post(f"/api/v1/quotes/{quote_id}/link", headers=staff(qapi))
    assert r.status_code == 200, r.text
    for dead in (token, "pas-un-vrai-lien"):
        gone = qapi.client.get(f"/devis/{dead}")
        assert gone.status_code == 404
        assert "Ce lien de devis ne fonctionne plus" in text_of(gone.text)
        assert 'href="/demande-de-devis"' in gone.text
    assert qapi.client.get(f"/devis/{token}/pdf").status_code == 404


def test_the_devis_page_in_english_when_the_browser_asks(qapi: Api) -> None:
    _id, token, _org = sent_quote(qapi)
    html = qapi.client.get(f"/devis/{token}", headers={"accept-language": "en"}).text
    assert "Accept the quote" in html and "Download the PDF" in html
