"""A member's data exported and erased; old uploads purged, never an active job's; and
the command line that does it (``fabqueue bookings | train | user export|erase | purge``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from fabqueue.models import Job, StoredFile, User
from fabqueue.services import privacy
from fabqueue.services.errors import Forbidden
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.api import submit
from tests.support.bookings import NOW, Cafe, authorise, cafe_profiles, paris
from tests.support.cli import run_cli
from tests.support.factories import tiny_gcode


def test_export_then_erase_keeps_anonymous_counts(cafe: Cafe) -> None:
    cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 15))
    with cafe.api.ctx.sessions() as s:
        mia = cafe.desk.user(s, cafe.mia)
        data = privacy.export(s, cafe.mia, mia)
        assert data["profile"]["name"] == "mia"
        assert [a["machine"] for a in data["authorisations"]] == ["plotter"]
        assert len(data["bookings"]) == 1 and data["jobs"] == []
        json.dumps(data)  # JSON all the way down
        other = cafe.desk.user(s, cafe.max)
        with pytest.raises(Forbidden):
            privacy.export(s, cafe.mia, other)
        kept = privacy.erase(s, cafe.mia, cafe.desk.user(s, cafe.staff), NOW)
        assert kept == {"bookings": 1, "jobs": 0}
    with cafe.api.ctx.sessions() as s:
        user = s.get(User, cafe.mia)
        assert user is not None and user.name == f"effacé-{cafe.mia}" and not user.active
    # Her token no longer works; her booking still counts on the machine.
    cafe.api.ctx.tokens.clear()
    r = cafe.api.client.get(f"/api/v1/users/{cafe.mia}/export", headers=cafe.api.headers("mia"))
    assert r.status_code == 401
    staff = cafe.api.client.get("/api/v1/bookings", headers=cafe.api.headers("anim")).json()
    assert [b["member_id"] for b in staff] == [cafe.mia]


def test_export_and_erase_over_the_api(cafe: Cafe) -> None:
    api = cafe.api
    mine = api.client.get(f"/api/v1/users/{cafe.max}/export", headers=api.headers("max"))
    assert mine.status_code == 200 and mine.json()["profile"]["name"] == "max"
    assert len(mine.json()["authorisations"]) == 2
    other = api.client.get(f"/api/v1/users/{cafe.mia}/export", headers=api.headers("max"))
    assert other.status_code == 403
    assert (
        api.client.post(f"/api/v1/users/{cafe.max}/erase", headers=api.headers("max")).status_code
        == 403
    )
    r = api.client.post(f"/api/v1/users/{cafe.max}/erase", headers=api.headers("anim"))
    assert r.status_code == 200 and r.json() == {"bookings": 0, "jobs": 0}
    # At once, not after the token cache's ten seconds.
    assert api.client.get("/api/v1/bookings", headers=api.headers("max")).status_code == 401
    again = api.client.post(f"/api/v1/users/{cafe.max}/erase", headers=api.headers("anim"))
    assert again.status_code == 409


def test_purge_removes_old_finished_files_only(
    make_api: Callable[..., Api], settings: Settings, tmp_path: Path
) -> None:
    api = make_api(settings.model_copy(update={"start_dispatcher": False}))
    ids = [
        submit(api, tiny_gcode(tmp_path, f"p{i}.gcode", x=10 + i), machine="printer").json()["id"]
        for i in range(3)
    ]
    old = NOW - timedelta(days=40)
    with api.ctx.sessions() as s:
        jobs = [s.get(Job, i) for i in ids]
        for j, state, created in zip(
            jobs,
            (JobState.cancelled, JobState.queued, JobState.succeeded),
            (old, old, NOW - timedelta(days=2)),
            strict=True,
        ):
            assert j is not None
            j.state, j.created_at = state, created
            s.add(j)
            f = s.get(StoredFile, j.file_sha256)
            assert f is not None
            f.created_at = created
            s.add(f)
        s.commit()
        shas = [j.file_sha256 for j in jobs if j is not None]
    store = api.ctx.store
    with api.ctx.sessions() as s:
        removed = privacy.purge_files(s, store, days=30, now=NOW)
    assert removed == [shas[0]]
    assert not store.path_for(shas[0]).exists()
    assert store.path_for(shas[1]).exists()  # queued: never touched, however old
    assert store.path_for(shas[2]).exists()  # recent
    with api.ctx.sessions() as s:
        assert s.exec(select(StoredFile).where(StoredFile.sha256 == shas[0])).first() is not None


@pytest.mark.slow  # a dozen `fabqueue` processes
def test_command_line(tmp_path: Path, sqlite_url: str) -> None:
    root = cafe_profiles(tmp_path / "profiles")
    env = {
        "FABQUEUE_DB_URL": sqlite_url,
        "FABQUEUE_PROFILES_DIR": str(root),
        "FABQUEUE_DATA_DIR": str(tmp_path / "data"),
    }

    def cli(*args: str, code: int = 0) -> str:
        out = run_cli(*args, env=env)
        assert out.returncode == code, out.stderr
        return out.stdout + out.stderr

    cli("user", "add", "Ana", "--role", "member")
    assert "no admin to act as" in cli("train", "grant", "Ana", "plotter", code=2)
    cli("user", "add", "Zoé", "--role", "admin")
    # Machines are registered by the service at start-up; the CLI needs their records.
    from fabqueue.db import make_engine, make_session_factory, session_scope
    from fabqueue.profiles import load_profiles
    from fabqueue.services.machines import register_local

    engine = make_engine(sqlite_url)
    with session_scope(make_session_factory(engine, None)) as s:
        register_local(session=s, profiles=load_profiles(root), node="n", at=NOW)
    engine.dispose()
    assert "Ana may use plotter until 2027-01-01" in cli(
        "train", "grant", "Ana", "plotter", "--expires", "2027-01-01"
    )
    assert "no machine kind 'laser'" in cli("train", "grant", "Ana", "laser", code=2)
    assert "revoked authorisation" in cli("train", "revoke", "Ana", "plotter", "--reason", "test")
    assert "holds no live authorisation" in cli(
        "train", "revoke", "Ana", "plotter", "--reason", "x", code=2
    )
    assert cli("bookings", "--from", "2026-03-01", "--to", "2026-03-08") == ""
    exported = json.loads(cli("user", "export", "Ana"))
    assert exported["profile"]["name"] == "Ana" and len(exported["authorisations"]) == 1
    assert "kept anonymously: 0 booking(s), 0 job(s)" in cli("user", "erase", "Ana")
    assert "removed 0 uploaded file(s) older than 30 days" in cli("purge")


def test_member_submission_needs_the_machine(
    make_api: Callable[..., Api], settings: Settings, tmp_path: Path
) -> None:
    api = make_api(settings.model_copy(update={"start_dispatcher": False}))
    r = submit(api, tiny_gcode(tmp_path), "lou", "member", machine="printer")
    assert r.status_code == 403
    assert r.json()["detail"] == (
        "vous n'avez pas d'habilitation pour « Test printer » : inscrivez-vous à une formation"
    )
    authorise(api, "lou", "fdm_printer")
    assert submit(api, tiny_gcode(tmp_path), "lou", "member", machine="printer").status_code == 201
