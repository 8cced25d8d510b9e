"""The jobs API: submission, refusals with clear statuses, listing, actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.api import submit
from tests.support.bookings import authorise
from tests.support.factories import CORPUS, tiny_gcode


@pytest.fixture
def held_api(make_api, settings: Settings) -> Api:
    """The API without a dispatcher: jobs stay where the API puts them."""
    return make_api(settings.model_copy(update={"start_dispatcher": False}))


def test_health_needs_no_token(api: Api) -> None:
    body = api.client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["machines"] == ["printer"]


def test_submit_analyses_the_file(held_api: Api) -> None:
    r = submit(held_api, CORPUS / "gcode" / "prusaslicer-benchy.gcode", machine="printer")
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "queued"
    assert job["kind"] == "fdm_printer"
    # fabqueue's own planner estimate, beside the slicer's figure it is checked against.
    assert job["analysis"]["details"]["slicer_duration_s"] == 38 * 60 + 43
    assert job["analysis"]["duration_s"] == pytest.approx(38 * 60 + 43, rel=0.03)
    assert job["analysis"]["material"]["filament_g"] == pytest.approx(12.77, abs=0.01)
    events = held_api.client.get(
        f"/api/v1/jobs/{job['id']}/events", headers=held_api.headers()
    ).json()
    assert [(e["from_state"], e["to_state"]) for e in events] == [(None, "queued")]


def test_submit_by_kind_and_held(held_api: Api, tmp_path: Path) -> None:
    r = submit(held_api, tiny_gcode(tmp_path), kind="fdm_printer", hold="true")
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "held"
    assert r.json()["target_machine"] is None


def test_the_stored_file_is_the_uploaded_one(held_api: Api, tmp_path: Path) -> None:
    path = tiny_gcode(tmp_path)
    job = submit(held_api, path, machine="printer").json()
    got = held_api.client.get(f"/api/v1/jobs/{job['id']}/file", headers=held_api.headers())
    assert got.content == path.read_bytes()


def test_unknown_file_type_is_415_naming_accepted_types(held_api: Api, tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK\x03\x04 not a job")
    r = submit(held_api, path, machine="printer")
    assert r.status_code == 415
    assert "gcode" in r.json()["detail"]
    assert "gcode" in r.json()["accepted"]


def test_wrong_kind_of_file_for_the_machine_is_415(held_api: Api, tmp_path: Path) -> None:
    path = tmp_path / "logo.svg"
    path.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    r = submit(held_api, path, machine="printer")
    assert r.status_code == 415
    assert "svg" in r.json()["detail"]


def test_upload_over_the_limit_is_413_and_nothing_kept(
    make_api, settings: Settings, tmp_path: Path
) -> None:
    api = make_api(
        settings.model_copy(update={"upload_limit_bytes": 1000, "start_dispatcher": False})
    )
    big = tmp_path / "big.gcode"
    big.write_text("G1 X1 Y1\n" * 200)  # 1,800 bytes: over the file limit, under the body slack
    r = submit(api, big, machine="printer")
    assert r.status_code == 413
    huge = tmp_path / "huge.gcode"
    huge.write_bytes(b"G1 X1 Y1\n" * 300_000)  # 2.7 MB: refused by the body limit
    r = submit(api, huge, machine="printer")
    assert r.status_code == 413
    listed = api.client.get("/api/v1/jobs", headers=api.headers()).json()
    assert listed["count"] == 0
    files = list((settings.data_dir / "files").rglob("*"))
    assert [f for f in files if f.is_file()] == []
    assert list((settings.data_dir / "tmp").iterdir()) == []


def test_a_print_too_big_for_the_bed_is_refused_with_the_overshoot(
    held_api: Api, tmp_path: Path
) -> None:
    r = submit(held_api, tiny_gcode(tmp_path, x=300.0), machine="printer")
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "X reaches 300.0 mm" in detail and "50.0 mm beyond" in detail


def test_garbage_gcode_is_422(held_api: Api, tmp_path: Path) -> None:
    path = tmp_path / "garbage.gcode"
    path.write_bytes(bytes(range(256)) * 10)
    r = submit(held_api, path, machine="printer")
    assert r.status_code == 422
    assert "binary" in r.json()["detail"]


def test_unknown_machine_and_job_are_404(held_api: Api, tmp_path: Path) -> None:
    assert submit(held_api, tiny_gcode(tmp_path), machine="nope").status_code == 404
    assert held_api.client.get("/api/v1/jobs/999", headers=held_api.headers()).status_code == 404
    assert (
        held_api.client.post("/api/v1/jobs/999/cancel", headers=held_api.headers()).status_code
        == 404
    )
    assert (
        held_api.client.get("/api/v1/machines/nope", headers=held_api.headers()).status_code == 404
    )


def test_tokens_are_required_and_checked(held_api: Api, tmp_path: Path) -> None:
    c = held_api.client
    assert c.get("/api/v1/jobs").status_code == 401
    assert c.get("/api/v1/jobs", headers={"Authorization": "Bearer fq_wrong"}).status_code == 401
    with tiny_gcode(tmp_path).open("rb") as fh:
        r = c.post("/api/v1/jobs", files={"file": ("a.gcode", fh)}, data={"machine": "printer"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_roles_are_enforced(held_api: Api, tmp_path: Path) -> None:
    member = held_api.headers("mia", "member")
    r = held_api.client.post(
        "/api/v1/machines/printer/confirm", headers=member, json={"outcome": "good"}
    )
    assert r.status_code == 403
    assert (
        submit(held_api, tiny_gcode(tmp_path), "shop", "client", machine="printer").status_code
        == 403
    )
    r = submit(held_api, tiny_gcode(tmp_path), "mia", "member", machine="printer", priority="5")
    assert r.status_code == 403


def test_members_see_only_their_own_jobs(held_api: Api, tmp_path: Path) -> None:
    for name in ("mia", "max"):
        authorise(held_api, name, "printer")
    mine = submit(held_api, tiny_gcode(tmp_path), "mia", "member", machine="printer").json()
    other = submit(held_api, tiny_gcode(tmp_path), "max", "member", machine="printer").json()
    listed = held_api.client.get("/api/v1/jobs", headers=held_api.headers("mia", "member")).json()
    assert [j["id"] for j in listed["data"]] == [mine["id"]]
    r = held_api.client.get(
        f"/api/v1/jobs/{other['id']}", headers=held_api.headers("mia", "member")
    )
    # As if it did not exist: a member cannot probe which ids are someone else's.
    assert r.status_code == 404
    assert r.json()["detail"] == f"no job {other['id']}"
    staff = held_api.client.get("/api/v1/jobs", headers=held_api.headers()).json()
    assert staff["count"] == 2


def test_wrong_state_is_409_with_the_current_state(held_api: Api, tmp_path: Path) -> None:
    job = submit(held_api, tiny_gcode(tmp_path), machine="printer").json()
    h = held_api.headers()
    r = held_api.client.post(f"/api/v1/jobs/{job['id']}/pause", headers=h)
    assert r.status_code == 409
    assert r.json()["state"] == "queued"
    assert held_api.client.post(f"/api/v1/jobs/{job['id']}/release", headers=h).status_code == 409
    assert (
        held_api.client.post(f"/api/v1/jobs/{job['id']}/hold", headers=h).json()["state"] == "held"
    )
    assert (
        held_api.client.post(f"/api/v1/jobs/{job['id']}/release", headers=h).json()["state"]
        == "queued"
    )
    assert (
        held_api.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h).json()["state"]
        == "cancelled"
    )
    r = held_api.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=h)
    assert r.status_code == 409 and r.json()["state"] == "cancelled"
    assert (
        held_api.client.post(f"/api/v1/jobs/{job['id']}/requeue", headers=h).json()["attempt"] == 2
    )


def test_filters(held_api: Api, tmp_path: Path) -> None:
    a = submit(held_api, tiny_gcode(tmp_path), machine="printer").json()
    submit(held_api, tiny_gcode(tmp_path), machine="printer", hold="true")
    h = held_api.headers()
    held = held_api.client.get("/api/v1/jobs", params={"state": "held"}, headers=h).json()
    assert held["count"] == 1
    both = held_api.client.get(
        "/api/v1/jobs", params=[("state", "held"), ("state", "queued")], headers=h
    ).json()
    assert both["count"] == 2
    by_owner = held_api.client.get(
        "/api/v1/jobs", params={"owner": a["owner_id"] + 100}, headers=h
    ).json()
    assert by_owner["count"] == 0
    bad = held_api.client.get("/api/v1/jobs", params={"state": "nonsense"}, headers=h)
    assert bad.status_code == 422


def test_bad_parameters_are_422(held_api: Api, tmp_path: Path) -> None:
    assert submit(held_api, tiny_gcode(tmp_path), machine="printer", copies="0").status_code == 422
    assert (
        submit(
            held_api, tiny_gcode(tmp_path), machine="printer", material="unobtainium"
        ).status_code
        == 422
    )
    assert (
        submit(
            held_api, tiny_gcode(tmp_path), machine="printer", material="vinyle-noir"
        ).status_code
        == 422
    )
    r = submit(held_api, tiny_gcode(tmp_path), machine="printer", kind="embroidery")
    assert r.status_code == 422
