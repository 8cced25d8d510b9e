"""Tokens can be listed (never their secrets), revoked and their users deactivated, by the
admin API and the CLI; the token cache honours a revocation within its TTL."""

from __future__ import annotations

from typing import Any

import pytest

from fabqueue.cli import main
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.quotes import SetClock


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
def tapi(make_api: Any, settings: Settings, clock: SetClock) -> Api:
    return make_api(settings.model_copy(update={"start_dispatcher": False}), clock=clock)


def me(api: Api, token: str) -> int:
    r = api.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def tokens(api: Api, name: str) -> list[dict[str, Any]]:
    r = api.client.get(
        f"/api/v1/users/{api.user_ids[name]}/tokens", headers=api.headers("ada", "admin")
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_admin_lists_tokens_without_secrets_and_revokes_one(tapi: Api) -> None:
    token = tapi.token("mia", "member")
    assert me(tapi, token) == 200  # now in the token cache
    (listed,) = tokens(tapi, "mia")
    assert set(listed) == {"id", "user_id", "label", "prefix", "created_at", "revoked_at"}
    assert token.startswith(listed["prefix"]) and len(listed["prefix"]) == 11
    assert token not in str(listed)
    r = tapi.client.delete(
        f"/api/v1/users/{tapi.user_ids['mia']}/tokens/{listed['id']}",
        headers=tapi.headers("ada", "admin"),
    )
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    # Revoked through this server: refused at once, not after the cache's TTL.
    assert me(tapi, token) == 401


def test_deactivating_a_user_stops_all_their_tokens(tapi: Api) -> None:
    first = tapi.token("mia", "member")
    r = tapi.client.post(
        f"/api/v1/users/{tapi.user_ids['mia']}/deactivate", headers=tapi.headers("ada", "admin")
    )
    assert r.status_code == 200 and r.json()["active"] is False
    assert me(tapi, first) == 401
    assert all(t["revoked_at"] for t in tokens(tapi, "mia"))


def test_an_admin_cannot_deactivate_themselves(tapi: Api) -> None:
    h = tapi.headers("ada", "admin")
    r = tapi.client.post(f"/api/v1/users/{tapi.user_ids['ada']}/deactivate", headers=h)
    assert r.status_code == 409
    assert me(tapi, tapi.token("ada")) == 200


@pytest.mark.parametrize("role", ["facilitator", "member", "client"])
def test_user_management_is_admin_only(tapi: Api, role: str) -> None:
    tapi.token("mia", "member")
    h = tapi.headers("someone", role)
    uid = tapi.user_ids["mia"]
    assert tapi.client.get("/api/v1/users", headers=h).status_code == 403
    assert tapi.client.get(f"/api/v1/users/{uid}/tokens", headers=h).status_code == 403
    assert tapi.client.delete(f"/api/v1/users/{uid}/tokens/1", headers=h).status_code == 403
    assert tapi.client.post(f"/api/v1/users/{uid}/deactivate", headers=h).status_code == 403
    assert me(tapi, tapi.token("mia")) == 200


def test_unknown_user_or_token_is_404(tapi: Api) -> None:
    h = tapi.headers("ada", "admin")
    tapi.token("mia", "member")
    assert tapi.client.get("/api/v1/users/999/tokens", headers=h).status_code == 404
    r = tapi.client.delete(f"/api/v1/users/{tapi.user_ids['mia']}/tokens/999", headers=h)
    assert r.status_code == 404


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("FABQUEUE_DB_URL", settings.db_url)
    return main(["user", *args])


def test_cli_revocation_is_honoured_within_the_cache_ttl(
    tapi: Api, settings: Settings, clock: SetClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tapi.token("mia", "member")
    assert me(tapi, token) == 200
    assert cli(settings, monkeypatch, "token", "revoke", "mia", "--prefix", token[:11]) == 0
    # Another process revoked it: this server trusts its cache for the TTL, no longer.
    clock.advance(seconds=tapi.ctx.tokens.ttl_s - 1)
    assert me(tapi, token) == 200
    clock.advance(seconds=2)
    assert me(tapi, token) == 401


def test_cli_deactivate_is_honoured_within_the_cache_ttl(
    tapi: Api, settings: Settings, clock: SetClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tapi.token("mia", "member")
    assert me(tapi, token) == 200
    assert cli(settings, monkeypatch, "deactivate", "mia") == 0
    clock.advance(seconds=tapi.ctx.tokens.ttl_s + 1)
    assert me(tapi, token) == 401


def test_cli_lists_and_revokes_by_label_or_id(
    tapi: Api,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = tapi.token("mia", "member")
    assert cli(settings, monkeypatch, "token", "new", "mia", "--label", "slicer") == 0
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli(settings, monkeypatch, "token", "list", "mia") == 0
    listing = capsys.readouterr().out
    assert first[:11] in listing and second[:11] in listing
    assert first not in listing and second not in listing
    assert cli(settings, monkeypatch, "token", "revoke", "mia", "--label", "slicer") == 0
    assert "revoked 1 token(s)" in capsys.readouterr().out
    assert (me(tapi, first), me(tapi, second)) == (200, 401)
    token_id = tokens(tapi, "mia")[0]["id"]
    assert cli(settings, monkeypatch, "token", "revoke", "mia", "--id", str(token_id)) == 0
    tapi.ctx.tokens.clear()
    assert me(tapi, first) == 401


def test_cli_refuses_an_unclear_revocation(
    tapi: Api,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = tapi.token("mia", "member")
    with pytest.raises(SystemExit):
        cli(settings, monkeypatch, "token", "revoke", "mia")
    assert "say which token" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(settings, monkeypatch, "token", "revoke", "mia", "--prefix", "fq_")
    with pytest.raises(SystemExit):
        cli(settings, monkeypatch, "token", "revoke", "nobody", "--id", "1")
    assert me(tapi, token) == 200
