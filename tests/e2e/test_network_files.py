"""Two cafés on one PostgreSQL, each with its own data folder: a job's file travels
through the database to the node whose machine runs it, byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fabqueue.app import create_app
from fabqueue.settings import Settings
from tests.support.api import confirm, machine, states, submit, wait_state
from tests.support.factories import write_profiles
from tests.support.marlin import VASE, emulator, file_commands, head_of, marlin_profile, numbered
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PRINTER = "cafe-b-printer"


def node(tmp_path: Path, pg_url: str, name: str, machines: dict[str, str], **kw: Any) -> Settings:
    return Settings(
        db_url=pg_url,
        data_dir=tmp_path / name / "data",  # nothing shared but the database
        profiles_dir=write_profiles(tmp_path / name / "profiles", machines),
        node=name,
        storage="database",
        dispatch_poll_s=0.1,
        progress_write_interval_s=0.2,
        **kw,
    )


def same_people(api: Any, like: Any) -> Any:
    api._tokens, api.user_ids = like._tokens, like.user_ids
    return api


def test_a_job_sent_to_one_cafe_runs_on_the_other_with_the_right_bytes(
    make_api: Any, tmp_path: Path, pg_url: str
) -> None:
    link = str(tmp_path / "ttyACM-b")
    path = head_of(VASE, 600, tmp_path / "vase.gcode")
    with emulator(baud=250000, speed=200.0, link=link) as emu:
        b = make_api(node(tmp_path, pg_url, "cafe-b", {PRINTER: marlin_profile(link)}))
        a = same_people(make_api(node(tmp_path, pg_url, "cafe-a", {})), b)
        wait_for(lambda: machine(b, PRINTER)["status"]["state"] == "idle", 15, what="idle")
        sent = submit(a, path, machine=PRINTER)
        assert sent.status_code == 201, sent.text
        job = wait_state(b, sent.json()["id"], "awaiting_operator", timeout=90)
        assert job["machine"] == PRINTER
        assert numbered(emu) == file_commands(path)
    # Café B read it from the database into its own cache.
    assert list((tmp_path / "cafe-b" / "data" / "files").rglob(job["file_sha256"]))


def test_a_file_left_on_a_node_that_does_not_share_fails_after_bounded_tries(
    make_api: Any, tmp_path: Path, pg_url: str
) -> None:
    sim = """
        name = "Sim"
        kind = "fdm_printer"
        [driver]
        type = "sim"
        speed = 3600
        tick_s = 0.05
        [printer]
        build_x_mm = 250
        build_y_mm = 210
        build_z_mm = 210
    """
    b = make_api(node(tmp_path, pg_url, "cafe-b", {PRINTER: sim}, file_missing_tries=2))
    # Café A was left on the folder store: its uploads never reach the database.
    a_settings = node(tmp_path, pg_url, "cafe-a", {}).model_copy(update={"storage": "local"})
    a = same_people(make_api(a_settings), b)
    path = head_of(VASE, 50, tmp_path / "v.gcode")
    sent = submit(a, path, machine=PRINTER).json()
    failed = wait_state(b, sent["id"], "failed", timeout=30)
    assert states(b, sent["id"]) == ["queued", "starting", "queued", "starting", "failed"]
    assert "input file not found" in failed["message"]
    assert "tried 2 times" in failed["message"]


def test_a_stop_asked_while_the_node_is_down_holds_when_it_returns(
    make_api: Any, tmp_path: Path, pg_url: str
) -> None:
    link = str(tmp_path / "ttyACM-b")
    path = head_of(VASE, 3000, tmp_path / "vase.gcode")
    with emulator(baud=250000, speed=5.0, link=link):
        b_settings = node(tmp_path, pg_url, "cafe-b", {PRINTER: marlin_profile(link)})
        a = make_api(node(tmp_path, pg_url, "cafe-a", {}))
        with TestClient(create_app(b_settings)) as b_client:
            headers = a.headers()
            wait_for(
                lambda: (
                    b_client.get(f"/api/v1/machines/{PRINTER}", headers=headers).json()["status"][
                        "state"
                    ]
                    == "idle"
                ),
                15,
                what="idle",
            )
            first = submit(a, path, machine=PRINTER).json()
            wait_state(a, first["id"], "running", timeout=30)
        # Café B is down; staff stop its printer through café A.
        r = a.client.post(f"/api/v1/machines/{PRINTER}/stop", headers=a.headers())
        assert r.status_code == 200, r.text
        second = submit(a, head_of(VASE, 40, tmp_path / "s.gcode"), machine=PRINTER).json()
        b = same_people(make_api(b_settings), a)
        wait_for(
            lambda: states(b, first["id"])[-1] in ("interrupted", "awaiting_operator"),
            30,
            what="café B to reconcile the job it was running",
        )
        assert machine(b, PRINTER)["out_of_service"] is True
        if states(b, first["id"])[-1] == "awaiting_operator":
            assert confirm(b, "good", PRINTER).status_code == 200
        else:
            assert confirm(b, None, PRINTER).status_code == 200
        runner = b.ctx.dispatcher.runners[PRINTER]
        looks = runner.looks
        wait_for(lambda: runner.looks >= looks + 3, 10, what="the runner to look again")
        assert machine(b, PRINTER)["runner_state"] == "stopped"
        assert states(b, second["id"]) == ["queued"]
