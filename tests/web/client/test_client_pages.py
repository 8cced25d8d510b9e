"""A client account's pages: its organisation's quotes and the jobs made from them, live,
and nothing of anyone else's."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Api
from tests.support.live import live_server
from tests.support.quotes import BENCHY, add_design, draft_for, make_client, staff
from tests.support.shopkeeper import client_person, form_fields, sent_quote
from tests.support.web import PASSWORD, add_person, csrf_of, sign_in, text_of


def _accept_and_convert(api: Api, quote_id: int, token: str) -> list[int]:
    r = api.client.post(
        f"/api/v1/quotes/link/{token}/accept", json={"signer_name": "Céleste", "agree": True}
    )
    assert r.status_code == 200, r.text
    r = api.client.post(f"/api/v1/quotes/{quote_id}/convert", headers=staff(api), json={})
    assert r.status_code == 200, r.text
    jobs = api.client.get(f"/api/v1/quotes/{quote_id}/jobs", headers=staff(api)).json()
    return [job["id"] for job in jobs["data"]]


def _other_organisations_job(api: Api) -> tuple[int, list[int]]:
    org, _headers = make_client(api, name="Fleurs Rosa", user="rosa")
    quote = draft_for(api, org, "Vases imprimés")
    assert add_design(api, quote["id"], BENCHY, staff(api)).status_code == 201
    sent = api.client.post(f"/api/v1/quotes/{quote['id']}/send", headers=staff(api)).json()
    return quote["id"], _accept_and_convert(api, quote["id"], sent["accept_token"])


def test_a_client_sees_its_quotes_and_their_jobs_not_anyone_elses(qapi: Api) -> None:
    quote_id, token, org = sent_quote(qapi)
    mine = _accept_and_convert(qapi, quote_id, token)
    other_quote, _other_jobs = _other_organisations_job(qapi)
    client_person(qapi, org)
    sign_in(qapi.client, "celeste-web")

    html = qapi.client.get("/client").text
    words = text_of(html)
    assert "Boulangerie Céleste" in words and "Vos devis" in words
    assert "Bateaux pour la vitrine" in words and "converti en travaux" in words
    assert "Vases imprimés" not in words
    jobs = re.findall(r"(DEV-\d{4}-\d{4}) · Pièce imprimée en 3D [^(]*\((\d)/2\)", words)
    assert len(mine) == 2 and len(jobs) == 2 and {n for n, _ in jobs} == {"DEV-2026-0001"}
    assert "en file" in words, "the jobs' states, in words"
    assert 'sse-connect="/client/live?bg=1"' in html

    own = qapi.client.get(f"/client/quotes/{quote_id}")
    assert own.status_code == 200 and "Vous avez accepté ce devis" in text_of(own.text)
    assert qapi.client.get(f"/client/quotes/{quote_id}/pdf").content.startswith(b"%PDF")
    assert qapi.client.get(f"/client/quotes/{other_quote}").status_code == 404


def test_a_client_signs_bon_pour_accord_from_its_account(qapi: Api) -> None:
    quote_id, _token, org = sent_quote(qapi)
    client_person(qapi, org)
    sign_in(qapi.client, "celeste-web")
    page = f"/client/quotes/{quote_id}"
    assert "Accepter le devis" in text_of(qapi.client.get(page).text)
    r = qapi.client.post(
        f"{page}/accepter",
        data={**form_fields(qapi.client, page), "signer_name": "Céleste Martin", "agree": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    events = qapi.client.get(f"/api/v1/quotes/{quote_id}/events", headers=staff(qapi)).json()
    accepted = [e for e in events if e["to_state"] == "accepted"]
    assert accepted and accepted[0]["actor"].startswith("user:")
    assert accepted[0]["detail"]["via"] == "account"


def test_staff_and_members_are_not_clients(qapi: Api) -> None:
    add_person(qapi.ctx.sessions, "momo", "member")
    sign_in(qapi.client, "momo")
    assert qapi.client.get("/client").status_code == 403


def test_a_request_still_in_preparation_shows_no_price(qapi: Api) -> None:
    org, client = make_client(qapi)
    quote = qapi.client.post("/api/v1/quotes", headers=client, json={"title": "Bateaux"}).json()
    assert add_design(qapi, quote["id"], BENCHY, client).status_code == 201
    client_person(qapi, org)
    sign_in(qapi.client, "celeste-web")
    words = text_of(qapi.client.get(f"/client/quotes/{quote['id']}").text)
    assert "Le café prépare votre devis" in words and "€" not in words


def _web_sign_in(web: httpx.Client, name: str) -> None:
    csrf = csrf_of(web.get("/login").text)
    r = web.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf, "next": "/"})
    assert r.status_code == 303, r.text


def test_the_live_stream_tells_a_client_of_its_organisations_jobs_only(qapi: Api) -> None:
    quote_id, token, org = sent_quote(qapi)
    (mine, *_rest) = _accept_and_convert(qapi, quote_id, token)
    _other_quote, (theirs, *_more) = _other_organisations_job(qapi)
    client_person(qapi, org)
    bus = qapi.ctx.bus
    # The TestClient already ran the app's start-up: uvicorn serves the same app.
    with live_server(qapi.client.app, lifespan="off") as url, httpx.Client(base_url=url) as web:  # type: ignore[arg-type]
        _web_sign_in(web, "celeste-web")
        with web.stream("GET", "/client/live?bg=1", timeout=30) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:"), "subscribed"
            bus.publish("job:state_changed", {"job_id": theirs, "to": "running"})
            bus.publish("job:progress", {"job_id": theirs, "progress": 0.5})
            bus.publish("job:state_changed", {"job_id": mine, "to": "running"})
            seen: list[str] = []
            for line in lines:
                if line.startswith("data: "):
                    seen.append(line[6:])
                    break
    assert seen == [f"job:{mine}"], "the other organisation's job was not told"


def test_the_client_page_updates_itself_when_asked_by_its_live_block(qapi: Api) -> None:
    quote_id, token, org = sent_quote(qapi)
    _accept_and_convert(qapi, quote_id, token)
    client_person(qapi, org)
    sign_in(qapi.client, "celeste-web")
    block = qapi.client.get("/client?bg=1", headers={"hx-request": "true", "hx-target": "client"})
    assert block.text.lstrip().startswith('<div id="client"'), block.text[:200]
    assert not re.search(r"<html", block.text)
