"""Client organisations, their users, and what each may see."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.support.quotes import (
    admin,
    draft_for,
    free_line,
    make_client,
    staff,
)


def test_organisation_lifecycle(qapi: Api) -> None:
    body = {
        "name": "  Fleuriste Lila ",
        "legal_form": "SARL",
        "siret": "812 345 676 00017",
        "address": "2 rue des Fleurs\n13001 Marseille",
        "contact_name": "Lila Benali",
        "email": "lila@example.org",
        "price_group": "commerce",
    }
    # A client's prices are for admins to set; staff may edit the rest.
    r = qapi.client.post("/api/v1/clients", headers=staff(qapi), json=body)
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = qapi.client.post("/api/v1/clients", headers=admin(qapi), json=body)
    assert r.status_code == 201, r.text
    org = r.json()
    assert (org["name"], org["siret"], org["adjustment_percent"]) == (
        "Fleuriste Lila",
        "81234567600017",
        None,
    )
    changed = {**body, "adjustment_percent": "-12.5", "active": False}
    r = qapi.client.put(f"/api/v1/clients/{org['id']}", headers=staff(qapi), json=changed)
    assert r.status_code == 403
    r = qapi.client.put(
        f"/api/v1/clients/{org['id']}", headers=staff(qapi), json={**body, "phone": "0491"}
    )
    assert r.status_code == 200 and r.json()["phone"] == "0491"
    r = qapi.client.put(f"/api/v1/clients/{org['id']}", headers=admin(qapi), json=changed)
    assert r.json()["adjustment_percent"] == "-12.5"
    assert qapi.client.get("/api/v1/clients", headers=staff(qapi)).json() == []
    listed = qapi.client.get(
        "/api/v1/clients", headers=staff(qapi), params={"include_inactive": True}
    ).json()
    assert [o["name"] for o in listed] == ["Fleuriste Lila"]
    # No quote for an archived client.
    r = qapi.client.post(
        "/api/v1/quotes", headers=staff(qapi), json={"title": "x", "organisation_id": org["id"]}
    )
    assert r.status_code == 409


def test_bad_siret_is_refused(qapi: Api) -> None:
    r = qapi.client.post(
        "/api/v1/clients", headers=staff(qapi), json={"name": "X", "siret": "81234567600018"}
    )
    assert r.status_code == 422 and "SIRET" in r.json()["detail"]


def test_client_users(qapi: Api) -> None:
    org, client = make_client(qapi)
    me = qapi.client.get("/api/v1/clients/me", headers=client).json()
    assert me["id"] == org
    assert qapi.client.get("/api/v1/users/me", headers=client).json()["role"] == "client"
    users = qapi.client.get(f"/api/v1/clients/{org}/users", headers=staff(qapi)).json()
    assert [u["name"] for u in users] == ["celeste"]
    assert users[0]["token"] is None  # shown once, at creation only
    # An existing client user can be linked; a member cannot; nor one of another shop.
    other_org, _ = make_client(qapi, name="Fleuriste Lila", user="lila")
    qapi.token("paul", "client")
    link = {"user_id": qapi.user_ids["paul"]}
    # Accounts and their tokens are for admins to make.
    for body in (link, {"name": "newcomer"}):
        r = qapi.client.post(f"/api/v1/clients/{org}/users", headers=staff(qapi), json=body)
        assert r.status_code == 403
    ok = qapi.client.post(f"/api/v1/clients/{org}/users", headers=admin(qapi), json=link)
    assert ok.status_code == 201 and ok.json()["token"] is None
    qapi.token("maya", "member")
    bad: list[Any] = [
        qapi.client.post(
            f"/api/v1/clients/{org}/users",
            headers=admin(qapi),
            json={"user_id": qapi.user_ids["maya"]},
        ),
        qapi.client.post(
            f"/api/v1/clients/{other_org}/users",
            headers=admin(qapi),
            json={"user_id": qapi.user_ids["paul"]},
        ),
        qapi.client.post(
            f"/api/v1/clients/{org}/users", headers=admin(qapi), json={"name": "x", "user_id": 1}
        ),
        qapi.client.post(
            f"/api/v1/clients/{org}/users", headers=admin(qapi), json={"name": "celeste"}
        ),
    ]
    assert [r.status_code for r in bad] == [422, 409, 422, 409]


def test_each_client_sees_only_its_own(qapi: Api) -> None:
    org_a, a = make_client(qapi)
    org_b, b = make_client(qapi, name="Fleuriste Lila", user="lila")
    qa = draft_for(qapi, org_a)
    free_line(qapi, qa["id"], "Plaque", "1", "30.00")
    qapi.client.post(f"/api/v1/quotes/{qa['id']}/send", headers=staff(qapi))
    qb = qapi.client.post("/api/v1/quotes", headers=b, json={"title": "Stickers"}).json()
    assert [q["id"] for q in qapi.client.get("/api/v1/quotes", headers=a).json()["data"]] == [
        qa["id"]
    ]
    assert [q["id"] for q in qapi.client.get("/api/v1/quotes", headers=b).json()["data"]] == [
        qb["id"]
    ]
    staff_view = qapi.client.get(
        "/api/v1/quotes", headers=staff(qapi), params={"organisation": org_b}
    ).json()
    assert [q["id"] for q in staff_view["data"]] == [qb["id"]]
    for path in (
        f"/api/v1/quotes/{qa['id']}",
        f"/api/v1/quotes/{qa['id']}/events",
        f"/api/v1/quotes/{qa['id']}/jobs",
        f"/api/v1/clients/{org_a}/jobs",
        f"/api/v1/clients/{org_a}",
    ):
        # As if they did not exist: another shop's ids cannot be probed.
        assert qapi.client.get(path, headers=b).status_code == 404, path
    assert qapi.client.get("/api/v1/clients", headers=a).status_code == 403
    r = qapi.client.post("/api/v1/quotes", headers=b, json={"title": "x", "organisation_id": org_a})
    assert r.status_code == 403
