"""People, through the pages: create, role, one-time password, deactivate, a member's
data exported and erased; and who may not."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.auth import issue_token
from fabqueue.db import session_scope
from fabqueue.models import ApiToken, Authorisation, User
from tests.conftest import Api
from tests.support.admin import START, form_keys, shown_password
from tests.support.web import PASSWORD, csrf_of, sign_in, text_of


def _user(api: Api, name: str) -> User:
    with api.ctx.read_sessions() as session:
        user = session.exec(select(User).where(User.name == name)).one()
        session.expunge(user)
        return user


def test_the_list_names_everyone_with_their_role(admin: TestClient) -> None:
    page = text_of(admin.get("/admin/people").text)
    assert "Personnes (3)" in page
    assert "camille animateur" in page and "momo membre" in page


def test_a_new_person_signs_in_with_the_one_time_password(admin: TestClient, desk: Api) -> None:
    r = admin.post(
        "/admin/people", data={**form_keys(admin, "/admin/people"), "name": "Léa", "role": "member"}
    )
    assert r.status_code == 200
    assert "affiché une seule fois" in text_of(r.text)
    password = shown_password(r.text)
    assert len(password) == 14
    assert _user(desk, "Léa").password_hash != password
    sign_in(admin, "Léa", password)
    assert "Léa" in admin.get("/").text


def test_a_taken_name_is_refused_in_french_and_nothing_is_made(
    admin: TestClient, desk: Api
) -> None:
    r = admin.post(
        "/admin/people", data={**form_keys(admin, "/admin/people"), "name": "momo", "role": "admin"}
    )
    assert r.status_code == 409
    assert "Quelqu'un s'appelle déjà « momo »" in text_of(r.text)
    assert _user(desk, "momo").role.value == "member"


def test_an_unknown_role_is_refused(admin: TestClient, desk: Api) -> None:
    r = admin.post(
        "/admin/people", data={**form_keys(admin, "/admin/people"), "name": "zoé", "role": "boss"}
    )
    assert r.status_code == 422 and "Choisissez un rôle" in r.text
    with desk.ctx.read_sessions() as session:
        assert session.exec(select(User).where(User.name == "zoé")).first() is None


def test_the_admin_changes_a_role(admin: TestClient, desk: Api) -> None:
    uid = desk.user_ids["momo"]
    path = f"/admin/people/{uid}"
    r = admin.post(
        f"{path}/role",
        data={**form_keys(admin, path), "role": "facilitator"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _user(desk, "momo").role.value == "facilitator"


def test_an_admin_cannot_demote_themself(admin: TestClient, desk: Api) -> None:
    uid = desk.user_ids["ines"]
    path = f"/admin/people/{uid}"
    assert f'action="/admin/people/{uid}/role"' not in admin.get(path).text
    r = admin.post(f"{path}/role", data={**form_keys(admin, path), "role": "member"})
    assert r.status_code == 409 and "un autre administrateur" in text_of(r.text)
    assert _user(desk, "ines").role.value == "admin"


def test_a_new_password_replaces_the_old_one(admin: TestClient, desk: Api) -> None:
    path = f"/admin/people/{desk.user_ids['momo']}"
    r = admin.post(f"{path}/password", data=form_keys(admin, path))
    password = shown_password(r.text)
    fresh = TestClient(desk.client.app)
    csrf = csrf_of(fresh.get("/login").text)
    old = fresh.post(
        "/login", data={"name": "momo", "password": PASSWORD, "csrf": csrf}, follow_redirects=False
    )
    assert old.status_code != 303
    sign_in(fresh, "momo", password)


def test_deactivation_ends_sign_in_and_every_token(admin: TestClient, desk: Api) -> None:
    with session_scope(desk.ctx.sessions) as session:
        momo = session.get(User, desk.user_ids["momo"])
        assert momo is not None
        token = issue_token(session=session, user=momo, label="phone", at=START)
    assert (
        desk.client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    path = f"/admin/people/{desk.user_ids['momo']}"
    r = admin.post(f"{path}/deactivate", data=form_keys(admin, path), follow_redirects=False)
    assert r.status_code == 303
    assert "désactivé" in text_of(admin.get(path).text)
    assert (
        desk.client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    with desk.ctx.read_sessions() as session:
        live = session.exec(select(ApiToken).where(ApiToken.user_id == desk.user_ids["momo"])).all()
        assert live and all(t.revoked_at is not None for t in live)


def test_the_export_is_a_json_download_of_the_person(admin: TestClient, desk: Api) -> None:
    r = admin.get(f"/admin/people/{desk.user_ids['momo']}/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    data = json.loads(r.text)
    assert data["profile"]["name"] == "momo"
    assert set(data) >= {"authorisations", "bookings", "jobs"}


def test_erasure_needs_the_name_typed_then_replaces_it(admin: TestClient, desk: Api) -> None:
    uid = desk.user_ids["momo"]
    path = f"/admin/people/{uid}"
    r = admin.post(f"{path}/erase", data={**form_keys(admin, path), "confirm": "mom"})
    assert r.status_code == 422 and "Tapez le nom" in text_of(r.text)
    assert _user(desk, "momo").active
    r = admin.post(
        f"{path}/erase", data={**form_keys(admin, path), "confirm": "momo"}, follow_redirects=False
    )
    assert r.status_code == 303
    with desk.ctx.read_sessions() as session:
        erased = session.get(User, uid)
        assert erased is not None and erased.name == f"effacé-{uid}" and not erased.active


def test_a_post_without_its_csrf_token_does_nothing(admin: TestClient, desk: Api) -> None:
    r = admin.post("/admin/people", data={"name": "x", "role": "admin", "csrf": "forged"})
    assert r.status_code == 403 and "Formulaire expiré" in r.text
    with desk.ctx.read_sessions() as session:
        assert session.exec(select(User).where(User.name == "x")).first() is None


def test_a_double_tap_makes_one_person(admin: TestClient, desk: Api) -> None:
    form = {**form_keys(admin, "/admin/people"), "name": "Noé", "role": "member"}
    first = admin.post("/admin/people", data=form)
    second = admin.post("/admin/people", data=form)
    assert first.status_code == second.status_code == 200
    assert shown_password(first.text) == shown_password(second.text)


ADMIN_ONLY = ["/admin/people", "/admin/people/1", "/admin/people/1/export", "/admin/profiles"]


@pytest.mark.parametrize("who", ["camille", "momo"])
def test_people_and_profiles_are_the_admins_alone(desk: Api, who: str) -> None:
    sign_in(desk.client, who)
    for path in ADMIN_ONLY:
        r = desk.client.get(path)
        assert r.status_code == 403, path
        assert "Réservé aux administrateurs" in r.text
    csrf = csrf_of(desk.client.get("/login").text)
    uid = desk.user_ids["ines"]
    for action in ("role", "password", "deactivate", "erase"):
        r = desk.client.post(
            f"/admin/people/{uid}/{action}",
            data={"csrf": csrf, "role": "member", "confirm": "ines"},
        )
        assert r.status_code == 403, action
    r = desk.client.post("/admin/people", data={"csrf": csrf, "name": "intrus", "role": "admin"})
    assert r.status_code == 403
    assert _user(desk, "ines").role.value == "admin" and _user(desk, "ines").active


def test_the_admin_authorises_directly_then_withdraws_with_a_reason(
    admin: TestClient, desk: Api
) -> None:
    uid = desk.user_ids["momo"]
    path = f"/admin/people/{uid}"
    r = admin.post(
        f"{path}/authorisations",
        data={**form_keys(admin, path), "machine": "plotter", "until": "2026-09-30"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "valable jusqu’au 30 septembre 2026" in text_of(admin.get(path).text)
    with desk.ctx.read_sessions() as session:
        (auth,) = session.exec(select(Authorisation).where(Authorisation.member_id == uid)).all()
        assert auth.granted_by == desk.user_ids["ines"]
    revoke = f"{path}/authorisations/{auth.id}/revoke"
    r = admin.post(revoke, data={**form_keys(admin, path), "reason": " "})
    assert r.status_code == 422 and "Indiquez pourquoi elle est retirée" in text_of(r.text)
    r = admin.post(
        revoke,
        data={**form_keys(admin, path), "reason": "Consignes de sécurité non suivies"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Consignes de sécurité non suivies" in text_of(admin.get(path).text)
    with desk.ctx.read_sessions() as session:
        kept = session.get(Authorisation, auth.id)
        assert kept is not None and kept.revoked_by == desk.user_ids["ines"]


def test_a_past_end_date_is_refused(admin: TestClient, desk: Api) -> None:
    path = f"/admin/people/{desk.user_ids['momo']}"
    r = admin.post(
        f"{path}/authorisations",
        data={**form_keys(admin, path), "machine": "plotter", "until": "2025-01-01"},
    )
    assert r.status_code == 422 and "La date de fin doit être dans le futur" in text_of(r.text)


def test_an_unknown_person_or_session_is_a_404_page_in_french(admin: TestClient) -> None:
    r = admin.get("/admin/people/999")
    assert r.status_code == 404 and "Personne n'a ce numéro" in text_of(r.text)
    r = admin.get("/admin/trainings/sessions/999")
    assert r.status_code == 404 and "Cette session de formation n'existe pas" in text_of(r.text)
    assert admin.get(f"/admin/people/{2**63}").status_code == 422


def test_client_accounts_are_not_made_nor_given_here(admin: TestClient, desk: Api) -> None:
    r = admin.post(
        "/admin/people",
        data={**form_keys(admin, "/admin/people"), "name": "boulangerie", "role": "client"},
    )
    assert r.status_code == 422 and "Choisissez un rôle" in r.text
    path = f"/admin/people/{desk.user_ids['momo']}"
    r = admin.post(f"{path}/role", data={**form_keys(admin, path), "role": "client"})
    assert r.status_code == 422
    assert _user(desk, "momo").role.value == "member"


def test_a_name_too_long_is_refused_in_french(admin: TestClient, desk: Api) -> None:
    r = admin.post(
        "/admin/people",
        data={**form_keys(admin, "/admin/people"), "name": "x" * 121, "role": "member"},
    )
    assert r.status_code == 422 and "Un nom a au plus 120 caractères" in text_of(r.text)
