"""End to end: a shopkeeper's stitch file through the API, the dispatcher, the converter
and the folder driver onto a "USB stick"; the operator reports the start and the colour
blocks, then confirms. And the ways it must refuse or wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.api import job, machine, states, submit, wait_state, with_profiles
from tests.support.embroidery import CAT, EMM
from tests.support.factories import sim_printer
from tests.support.waiting import wait_for

HOOPS = (
    '{ name = "SQ14", width_mm = 140, height_mm = 140 }, '
    '{ name = "SQ20", width_mm = 200, height_mm = 200 }'
)


def janome(stick: Path) -> str:
    return f"""
        name = "Janome (test)"
        kind = "embroidery"
        [driver]
        type = "embroidery_folder"
        folder = "{stick}"
        subfolder = "EMB/Embf"
        poll_s = 0.05
        [embroidery]
        native_format = "jef"
        needles = 1
        hoops = [{HOOPS}]
    """


@pytest.fixture
def stick(tmp_path: Path) -> Path:
    path = tmp_path / "stick"
    path.mkdir()
    return path


@pytest.fixture
def emb_api(make_api, settings: Settings, tmp_path: Path, stick: Path) -> Api:
    profiles = {"janome": janome(stick), "printer": sim_printer()}
    return make_api(with_profiles(settings, tmp_path, profiles))


def report(api: Api, body: dict[str, Any] | None = None, slug: str = "janome", who: str = "staff"):
    role = "facilitator" if who == "staff" else "member"
    return api.client.post(
        f"/api/v1/machines/{slug}/report", headers=api.headers(who, role), json=body or {}
    )


def confirm(api: Api, outcome: str, slug: str = "janome"):
    return api.client.post(
        f"/api/v1/machines/{slug}/confirm", headers=api.headers(), json={"outcome": outcome}
    )


def delivered(stick: Path) -> list[str]:
    folder = stick / "EMB" / "Embf"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_from_upload_to_the_stick_to_the_operator(emb_api: Api, stick: Path) -> None:
    api = emb_api
    r = submit(api, CAT / "Cake_3.dst", machine="janome")
    assert r.status_code == 201, r.text
    j = r.json()
    a = j["analysis"]
    assert a["counts"]["stitches"] == 14_922 and a["counts"]["colour_changes"] == 18
    assert a["details"]["hoop"]["name"] == "SQ14"
    assert len(a["details"]["blocks"]) == 19
    assert a["material"]["thread_m"] > 70

    # Converted to the machine's JEF and put on the stick; the job waits for a person.
    wait_for(lambda: delivered(stick) == ["CAKE3.JEF"], what="delivery")
    wait_state(api, j["id"], "starting")
    # The file lands on the stick before the driver's report of it reaches the job.
    starting = wait_for(
        lambda: "delivered" in (found := job(api, j["id"]))["checkpoint"] and found,
        what="the delivery in the job's checkpoint",
    )
    assert starting["state"] == "starting"
    assert starting["checkpoint"]["delivered"]["name"] == "CAKE3.JEF"
    # The machine's snapshot is written by its runner just after the job's state.
    status = wait_for(
        lambda: (st := machine(api, "janome")["status"]).get("state") == "busy" and st,
        what="the machine shows the job",
    )
    assert status["job"]["phase"] == "starting"

    # "Started on the machine."
    r = report(api)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "running"
    assert r.json()["checkpoint"]["operator"]["next_block"] == 1

    # "Colour block 5 is next."
    r = report(api, {"next_block": 5})
    body = r.json()
    blocks = a["details"]["blocks"]
    done = sum(b["stitches"] for b in blocks[:4]) / sum(b["stitches"] for b in blocks)
    assert body["progress"] == pytest.approx(done, abs=1e-3)
    assert body["eta_s"] == pytest.approx(60 * sum(b["minutes"] for b in blocks[4:]), abs=1)
    wait_for(
        lambda: (
            "colour block 5 of 19 next"
            in (machine(api, "janome")["status"]["job"] or {}).get("message", "")
        ),
        what="the driver shows the operator's report",
    )
    # The driver's snapshot never overwrites the person's word.
    assert job(api, j["id"])["checkpoint"]["operator"]["next_block"] == 5

    r = confirm(api, "good")
    assert r.status_code == 200, r.text
    assert r.json()["job"]["state"] == "succeeded"
    assert r.json()["job"]["actual_duration_s"] is not None
    assert states(api, j["id"]) == ["queued", "starting", "running", "succeeded"]
    wait_for(lambda: machine(api, "janome")["status"]["state"] == "idle", what="released")


def test_finished_without_a_start_report(emb_api: Api, stick: Path) -> None:
    j = submit(emb_api, EMM / "Star.DST", machine="janome").json()
    wait_state(emb_api, j["id"], "starting")
    r = confirm(emb_api, "good")
    assert r.status_code == 200, r.text
    assert r.json()["job"]["state"] == "succeeded"
    assert states(emb_api, j["id"]) == ["queued", "starting", "running", "succeeded"]


def test_no_stick_the_job_waits(make_api, settings: Settings, tmp_path: Path) -> None:
    stick = tmp_path / "absent"
    api = make_api(with_profiles(settings, tmp_path, {"janome": janome(stick)}))
    wait_for(lambda: machine(api, "janome")["status"]["state"] == "offline", what="offline")
    j = submit(api, EMM / "Star.DST", machine="janome").json()
    assert "insert the machine's USB stick" in machine(api, "janome")["status"]["message"]
    assert job(api, j["id"])["state"] == "queued"
    stick.mkdir()
    wait_state(api, j["id"], "starting")
    wait_for(lambda: delivered(stick) == ["STAR.JEF"], what="delivery")


def test_cancel_takes_the_file_off_the_stick(emb_api: Api, stick: Path) -> None:
    j = submit(emb_api, EMM / "Star.DST", machine="janome").json()
    wait_for(lambda: delivered(stick) == ["STAR.JEF"], what="delivery")
    r = emb_api.client.post(f"/api/v1/jobs/{j['id']}/cancel", headers=emb_api.headers())
    assert r.status_code == 200, r.text
    wait_state(emb_api, j["id"], "cancelled")
    assert delivered(stick) == []


def test_refusals_name_what_is_accepted(emb_api: Api, tmp_path: Path) -> None:
    cut = tmp_path / "logo.pes"
    cut.write_bytes((CAT / "Cake_3.pes").read_bytes()[:40_001])
    r = submit(emb_api, cut, machine="janome")
    assert r.status_code == 422
    assert "is cut short" in r.json()["detail"]
    assert "Formats accepted: DST, PES, JEF" in r.json()["detail"]

    r = submit(emb_api, EMM / "Star.VIP", machine="janome")
    assert r.status_code == 415
    assert "dst" in r.json()["accepted"] and "vip" not in r.json()["accepted"]

    r = submit(emb_api, EMM / "Embroidermodder.DST", machine="janome")
    assert r.status_code == 422
    assert "fits no hoop" in r.json()["detail"] and "mm too wide" in r.json()["detail"]


def test_reports_are_for_machines_that_cannot_tell(emb_api: Api, stick: Path) -> None:
    assert report(emb_api, slug="printer").status_code == 409
    assert report(emb_api).status_code == 409  # nothing on the machine
    j = submit(emb_api, EMM / "Star.DST", machine="janome").json()
    wait_state(emb_api, j["id"], "starting")
    assert report(emb_api, {"next_block": 9}).status_code == 422  # Star has 2 blocks
    assert report(emb_api, who="member").status_code == 403  # not their job, not staff
    assert report(emb_api, {"next_block": 2}).status_code == 200


def test_restart_during_a_job_then_resume(settings: Settings, tmp_path: Path, stick: Path) -> None:
    """fabqueue stops while the garment is on the machine: the job is interrupted, staff
    resume it, the file already on the stick is kept, the operator's word too."""
    from fastapi.testclient import TestClient

    from fabqueue.app import create_app

    s = with_profiles(settings, tmp_path, {"janome": janome(stick)})
    with TestClient(create_app(s)) as client:
        api = Api(client)
        j = submit(api, CAT / "Cake_3.dst", machine="janome").json()
        wait_for(lambda: delivered(stick) == ["CAKE3.JEF"], what="delivery")
        wait_state(api, j["id"], "starting")
        assert report(api, {"next_block": 3}).status_code == 200
        token = api.token()
    with TestClient(create_app(s)) as client:
        api = Api(client)
        api._tokens["staff"] = token
        interrupted = wait_state(api, j["id"], "interrupted")
        assert interrupted["checkpoint"]["operator"]["next_block"] == 3
        r = client.post(f"/api/v1/jobs/{j['id']}/resume", headers=api.headers())
        assert r.status_code == 200, r.text
        running = wait_state(api, j["id"], "running")
        assert running["checkpoint"]["operator"]["next_block"] == 3
        assert delivered(stick) == ["CAKE3.JEF"]  # not copied again under another name
        wait_for(
            lambda: (
                "colour block 3 of 19"
                in (machine(api, "janome")["status"]["job"] or {}).get("message", "")
            ),
            what="the machine shows where the job was",
        )
        assert confirm(api, "good").json()["job"]["state"] == "succeeded"
