"""The reports through the API and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.activity import generate, write_cafe
from tests.support.cli import run_cli


@pytest.fixture
def cafe_api(make_api: Callable[..., Api], settings: Settings, tmp_path: Path) -> Api:
    root = write_cafe(tmp_path / "cafe")
    api = make_api(settings.model_copy(update={"profiles_dir": root, "start_dispatcher": False}))
    generate(api.ctx.sessions, jobs=120, bookings=30, quotes=10)
    return api


def test_api_json_and_downloads(cafe_api: Api) -> None:
    c, h = cafe_api.client, cafe_api.headers("anim", "facilitator")
    r = c.get("/api/v1/reports/activity", params={"year": 2026}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == "2026" and body["scope"] == "réseau"
    assert sum(m["succeeded"] for m in body["activity"]["machines"]) > 0
    assert "estimation" in body["energy"]["label"].lower()
    q = c.get("/api/v1/reports/activity", params={"year": 2026, "quarter": 2}, headers=h).json()
    assert q["period"] == "2026-T2"
    assert len(q["activity"]["months"]) == 3
    ods = c.get("/api/v1/reports/activity", params={"year": 2026, "format": "ods"}, headers=h)
    assert ods.status_code == 200
    assert ods.headers["content-type"] == "application/vnd.oasis.opendocument.spreadsheet"
    assert ods.content[:2] == b"PK"
    assert 'filename="bilan-2026.ods"' in ods.headers["content-disposition"]
    charts = c.get("/api/v1/reports/activity/charts", params={"year": 2026}, headers=h).json()
    assert charts["mois"].startswith("<svg")


def test_api_refuses_members_and_bad_periods(cafe_api: Api) -> None:
    c = cafe_api.client
    member = cafe_api.headers("mia", "member")
    assert (
        c.get("/api/v1/reports/activity", params={"year": 2026}, headers=member).status_code == 403
    )
    staff = cafe_api.headers("anim", "facilitator")
    bad = c.get(
        "/api/v1/reports/activity",
        params={"start": "2026-05-01", "end": "2026-04-01"},
        headers=staff,
    )
    assert bad.status_code == 422 and "before it starts" in bad.json()["detail"]
    unknown = c.get(
        "/api/v1/reports/activity", params={"year": 2026, "machine": "laser"}, headers=staff
    )
    assert unknown.status_code == 404 and "laser" in unknown.json()["detail"]


@pytest.mark.slow  # two `fabqueue` processes
def test_command_line(tmp_path: Path, sqlite_url: str) -> None:
    from fabqueue.db import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    generate(make_session_factory(engine, None), jobs=80, bookings=20, quotes=8)
    engine.dispose()
    env = {
        "FABQUEUE_DB_URL": sqlite_url,
        "FABQUEUE_PROFILES_DIR": str(write_cafe(tmp_path / "cafe")),
        "FABQUEUE_DATA_DIR": str(tmp_path / "data"),
    }
    out = run_cli("report", "activity", "--year", "2026", "--month", "3", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["period"] == "2026-03"
    assert [m["key"] for m in report["activity"]["months"]] == ["2026-03"]
    ods = tmp_path / "bilan.ods"
    out = run_cli(
        "report", "activity", "--year", "2026", "--format", "ods", "-o", str(ods), env=env
    )
    assert out.returncode == 0, out.stderr
    assert ods.read_bytes()[:2] == b"PK"
    bad = run_cli("report", "activity", env=env)
    assert bad.returncode == 2 and "give a year" in bad.stderr
