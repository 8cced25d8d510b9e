"""Bad input and wrong people get a clear 4xx, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support.quotes import (
    BENCHY,
    add_design,
    admin,
    draft_for,
    free_line,
    make_client,
    staff,
)


def snapshot(api: Api, quote_id: int) -> tuple[Any, Any]:
    q = api.client.get(f"/api/v1/quotes/{quote_id}", headers=staff(api)).json()
    ev = api.client.get(f"/api/v1/quotes/{quote_id}/events", headers=staff(api)).json()
    return q, ev


@pytest.fixture
def sent(qapi: Api) -> dict[str, Any]:
    org, client = make_client(qapi)
    _, other = make_client(qapi, name="Fleuriste Lila", user="lila")
    q = draft_for(qapi, org)
    free_line(qapi, q["id"], "Plaque", "1", "30.00")
    body = qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi)).json()
    return {"quote": body, "client": client, "other": other, "org": org}


@pytest.mark.parametrize(
    "line",
    [
        {"description": "x", "quantity": "-1", "unit_price_ht": "10.00"},
        {"description": "x", "quantity": "0", "unit_price_ht": "10.00"},
        {"description": "x", "quantity": "1", "unit_price_ht": "-0.01"},
        {"description": "x", "quantity": "1", "unit_price_ht": "1.001"},
        {"description": "x", "quantity": "1.0001", "unit_price_ht": "1"},
        {"description": "x", "quantity": "1", "unit_price_ht": "1e9"},
        {"description": "", "quantity": "1", "unit_price_ht": "1"},
        {"description": "x", "quantity": "1", "unit_price_ht": "1", "vat_rate": "-5"},
        {"description": "x", "quantity": "1", "unit_price_ht": "1", "vat_rate": "19.6"},
        {"description": "x", "quantity": "1", "unit_price_ht": "1", "discount": "5"},
        {"description": "x", "quantity": "NaN", "unit_price_ht": "1"},
    ],
)
def test_bad_lines_are_422_and_change_nothing(qapi: Api, line: dict[str, str]) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    before = snapshot(qapi, q["id"])
    r = qapi.client.post(f"/api/v1/quotes/{q['id']}/lines", headers=staff(qapi), json=line)
    assert r.status_code == 422, r.text
    assert snapshot(qapi, q["id"]) == before


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ({"quantity": "-2"}, 422),
        ({"quantity": "2.5"}, 422),  # a design's copies are whole
        ({"unit_price_ht": "-1"}, 422),
        ({"design_minutes": -5}, 422),
        ({"material": "vinyle-noir"}, 422),  # not a printer material
        ({"material": "or-massif"}, 422),
        ({"unit_price_ht": "5.00", "auto_price": True}, 422),
    ],
)
def test_bad_line_changes(qapi: Api, patch: dict[str, Any], status: int) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    line = add_design(qapi, q["id"], BENCHY, staff(qapi), quantity=2).json()["lines"][0]
    before = snapshot(qapi, q["id"])
    r = qapi.client.patch(
        f"/api/v1/quotes/{q['id']}/lines/{line['id']}", headers=staff(qapi), json=patch
    )
    assert r.status_code == status, r.text
    assert snapshot(qapi, q["id"]) == before


@pytest.mark.parametrize("quantity", ["0", "-3", "1001"])
def test_bad_design_quantity(qapi: Api, quantity: str) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    r = add_design(qapi, q["id"], BENCHY, staff(qapi), quantity=int(quantity))
    assert r.status_code == 422
    assert snapshot(qapi, q["id"])[0]["lines"] == []


def test_design_the_machines_cannot_make_is_refused(qapi: Api, tmp_path: Any) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    doc = tmp_path / "lettre.docx"
    doc.write_bytes(b"PK\x03\x04")
    r = add_design(qapi, q["id"], doc, staff(qapi))
    assert r.status_code == 415 and "gcode" in r.json()["detail"]


@pytest.mark.parametrize("pct", ["-100", "-150", "250"])
def test_discount_over_100_percent_is_refused(qapi: Api, pct: str) -> None:
    org, _ = make_client(qapi)
    before = qapi.client.get(f"/api/v1/clients/{org}", headers=staff(qapi)).json()
    body = {"name": "Boulangerie Céleste", "adjustment_percent": pct}
    r = qapi.client.put(f"/api/v1/clients/{org}", headers=staff(qapi), json=body)
    assert r.status_code == 422
    assert qapi.client.get(f"/api/v1/clients/{org}", headers=staff(qapi)).json() == before


def test_unknown_price_group_is_refused(qapi: Api) -> None:
    r = qapi.client.post(
        "/api/v1/clients", headers=admin(qapi), json={"name": "X", "price_group": "vip"}
    )
    assert r.status_code == 422 and "commerce" in r.json()["detail"]


def test_accept_by_the_wrong_organisation(qapi: Api, sent: dict[str, Any]) -> None:
    qid = sent["quote"]["id"]
    before = snapshot(qapi, qid)
    r = qapi.client.post(
        f"/api/v1/quotes/{qid}/accept",
        headers=sent["other"],
        json={"signer_name": "Lila", "agree": True},
    )
    # Another shop's quote answers as if it did not exist: ids cannot be probed.
    assert r.status_code == 404 and r.json()["detail"] == f"no quote {qid}"
    assert qapi.client.get(f"/api/v1/quotes/{qid}", headers=sent["other"]).status_code == 404
    assert qapi.client.get(f"/api/v1/quotes/{qid}/pdf", headers=sent["other"]).status_code == 404
    assert qapi.client.get("/api/v1/quotes", headers=sent["other"]).json()["count"] == 0
    assert (
        qapi.client.get(f"/api/v1/clients/{sent['org']}", headers=sent["other"]).status_code == 404
    )
    assert snapshot(qapi, qid) == before


def test_accept_twice(qapi: Api, sent: dict[str, Any]) -> None:
    qid = sent["quote"]["id"]
    ok = qapi.client.post(
        f"/api/v1/quotes/{qid}/accept",
        headers=sent["client"],
        json={"signer_name": "Céleste", "agree": True},
    )
    assert ok.status_code == 200
    before = snapshot(qapi, qid)
    again = qapi.client.post(
        f"/api/v1/quotes/link/{sent['quote']['accept_token']}/accept",
        json={"signer_name": "Quelqu'un", "agree": True},
    )
    assert again.status_code == 409 and "already accepted" in again.json()["detail"]
    assert "Céleste" in again.json()["detail"]
    refuse = qapi.client.post(f"/api/v1/quotes/{qid}/refuse", headers=sent["client"], json={})
    assert refuse.status_code == 409
    assert snapshot(qapi, qid) == before


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"signer_name": "Céleste", "agree": False}, "bon pour accord"),
        ({"signer_name": "   ", "agree": True}, "name"),
        ({"signer_name": "Céleste"}, "agree"),
        ({"agree": True}, "signer_name"),
    ],
)
def test_acceptance_needs_a_name_and_the_box(
    qapi: Api, sent: dict[str, Any], body: dict[str, Any], words: str
) -> None:
    qid = sent["quote"]["id"]
    before = snapshot(qapi, qid)
    r = qapi.client.post(f"/api/v1/quotes/link/{sent['quote']['accept_token']}/accept", json=body)
    assert r.status_code == 422
    assert words in r.text
    assert snapshot(qapi, qid) == before


def test_a_guessed_or_old_link_finds_nothing(qapi: Api, sent: dict[str, Any]) -> None:
    token = sent["quote"]["accept_token"]
    for bad in ("x", token[:-1], token + "a", token.upper()):
        assert qapi.client.get(f"/api/v1/quotes/link/{bad}").status_code == 404
        r = qapi.client.post(
            f"/api/v1/quotes/link/{bad}/accept", json={"signer_name": "X", "agree": True}
        )
        assert r.status_code == 404
    renewed = qapi.client.post(
        f"/api/v1/quotes/{sent['quote']['id']}/link", headers=staff(qapi)
    ).json()
    assert qapi.client.get(f"/api/v1/quotes/link/{token}").status_code == 404
    assert qapi.client.get(renewed["accept_path"]).status_code == 200


def test_members_have_no_quotes(qapi: Api, sent: dict[str, Any]) -> None:
    member = qapi.headers("maya", "member")
    assert qapi.client.get("/api/v1/quotes", headers=member).status_code == 403
    assert (
        qapi.client.get(f"/api/v1/quotes/{sent['quote']['id']}", headers=member).status_code == 403
    )
    r = qapi.client.post("/api/v1/quotes", headers=member, json={"title": "x"})
    assert r.status_code == 403


def test_clients_cannot_send_convert_or_draft(qapi: Api, sent: dict[str, Any]) -> None:
    qid = sent["quote"]["id"]
    for action in ("send", "convert", "draft", "reprice", "revise", "link"):
        r = qapi.client.post(f"/api/v1/quotes/{qid}/{action}", headers=sent["client"], json={})
        assert r.status_code == 403, (action, r.text)
    assert (
        qapi.client.post("/api/v1/clients", headers=sent["client"], json={"name": "x"}).status_code
        == 403
    )


def test_client_without_organisation(qapi: Api) -> None:
    lone = qapi.headers("lonely", "client")
    r = qapi.client.post("/api/v1/quotes", headers=lone, json={"title": "x"})
    assert r.status_code == 403 and "no organisation" in r.json()["detail"]


def test_staff_must_name_the_client(qapi: Api) -> None:
    r = qapi.client.post("/api/v1/quotes", headers=staff(qapi), json={"title": "x"})
    assert r.status_code == 422
    r = qapi.client.post(
        "/api/v1/quotes", headers=staff(qapi), json={"title": "x", "organisation_id": 999}
    )
    assert r.status_code == 404


def test_sending_needs_lines_and_an_address(qapi: Api) -> None:
    r = qapi.client.post("/api/v1/clients", headers=staff(qapi), json={"name": "Sans adresse"})
    org = r.json()["id"]
    q = draft_for(qapi, org)
    r = qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi))
    assert r.status_code == 409 and "no lines" in r.json()["detail"]
    free_line(qapi, q["id"], "Plaque", "1", "30.00")
    r = qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi))
    assert r.status_code == 409 and "address" in r.json()["detail"]
    assert snapshot(qapi, q["id"])[0]["number"] is None


def test_nonexistent_things_are_404(qapi: Api) -> None:
    h = staff(qapi)
    assert qapi.client.get("/api/v1/quotes/999", headers=h).status_code == 404
    assert qapi.client.post("/api/v1/quotes/999/send", headers=h).status_code == 404
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    r = qapi.client.patch(f"/api/v1/quotes/{q['id']}/lines/999", headers=h, json={"unit": "h"})
    assert r.status_code == 404
