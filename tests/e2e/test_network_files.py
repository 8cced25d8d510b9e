"""Two cafés on one PostgreSQL, each with its own data folder: a job's file travels
through the database to the node whose machine runs it, byte for byte — both ways, to a
printer on the Marlin emulator and to a cutter on the HP-GL cutter emulator."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from drivers.emulators.hpgl_cutter import CutterSettings, HpglCutterEmulator
from fabqueue.app import create_app
from fabqueue.settings import Settings
from jobs.vinyl import hpgl
from tests.support.api import confirm, machine, states, submit, wait_state
from tests.support.factories import tiny_gcode, write_profiles
from tests.support.marlin import VASE, emulator, file_commands, head_of, marlin_profile, numbered
from tests.support.vinyl import svg
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PRINTER = "cafe-b-printer"
CUTTER = "cafe-a-cutter"

SERIAL_CUTTER = """
    name = "Serial cutter"
    kind = "vinyl_cutter"
    [driver]
    type = "hpgl_serial"
    port = "{port}"
    baud = 2000000
    pacing = "esc_b"
    [cutter]
    roll_width_mm = 300
    baud = 2000000
    [cutter.hpgl]
    coordinates = "relative"
    end_move = "past_job"
"""


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
    pg_url: str, make_api: Any, tmp_path: Path
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


def cached(tmp_path: Path, node_name: str, sha256: str) -> list[Path]:
    return list((tmp_path / node_name / "data" / "files").rglob(sha256))


def test_jobs_sent_to_either_cafe_run_on_the_others_machines_with_the_right_bytes(
    pg_url: str, make_api: Any, tmp_path: Path
) -> None:
    """Café A has the cutter, café B the printer: an SVG submitted at café B is cut at
    café A as the HP-GL café A made from it, while a G-code submitted at café A prints
    at café B — each file read from the database by the node that runs it."""
    printer_link = str(tmp_path / "ttyACM-b")
    cutter = HpglCutterEmulator(
        CutterSettings(baud=2_000_000, flow="none", time_scale=200, link=tmp_path / "ttyUSB-a")
    )
    gcode = head_of(VASE, 400, tmp_path / "vase.gcode")
    design = svg(
        tmp_path,
        '<rect x="10" y="10" width="60" height="30" rx="5"/><circle cx="40" cy="25" r="8"/>',
        name="sticker.svg",
    )
    cutter.start()
    try:
        with emulator(baud=250000, speed=200.0, link=printer_link) as printer:
            cutter_profile = SERIAL_CUTTER.format(port=cutter.settings.link)
            a = make_api(node(tmp_path, pg_url, "cafe-a", {CUTTER: cutter_profile}))
            b = same_people(
                make_api(node(tmp_path, pg_url, "cafe-b", {PRINTER: marlin_profile(printer_link)})),
                a,
            )
            wait_for(lambda: machine(b, PRINTER)["status"]["state"] == "idle", 15, what="idle")
            wait_for(lambda: machine(a, CUTTER)["status"]["state"] == "idle", 15, what="idle")
            # Café B judges an upload for café A's cutter by that cutter's roll (300 mm).
            wide = svg(
                tmp_path,
                '<rect width="350" height="350"/>',
                root='width="400mm" height="400mm" viewBox="0 0 400 400"',
                name="banner.svg",
            )
            refused = submit(b, wide, machine=CUTTER)
            assert refused.status_code == 422, refused.text
            assert "roll" in refused.json()["detail"]
            to_cut = submit(b, design, machine=CUTTER, copies="2")
            assert to_cut.status_code == 201, to_cut.text
            to_print = submit(a, gcode, machine=PRINTER)
            assert to_print.status_code == 201, to_print.text
            cut = wait_state(a, to_cut.json()["id"], "awaiting_operator", timeout=90)
            printed = wait_state(b, to_print.json()["id"], "awaiting_operator", timeout=90)
            assert cutter.wait_idle(30)
            assert numbered(printer) == file_commands(gcode)
    finally:
        cutter.stop()
    assert cut["machine"] == CUTTER and printed["machine"] == PRINTER
    (artifact,) = (tmp_path / "cafe-a" / "data" / "artifacts" / str(cut["id"])).rglob("*.hpgl")
    sent = artifact.read_bytes()
    assert b"PR" in sent  # made for café A's cutter: its dialect, relative coordinates
    assert bytes(cutter.accepted) == sent
    assert cutter.stats.overflow == 0
    # Two copies, each a rounded rectangle with its hole, and the alignment cut.
    assert len(hpgl.read(sent).strokes) == 2 * 2 + 1
    # Each node read the other's upload from the database into its own cache; the node
    # that received an upload made no HP-GL of it.
    assert [p.read_bytes() for p in cached(tmp_path, "cafe-a", cut["file_sha256"])] == [
        design.read_bytes()
    ]
    assert [p.read_bytes() for p in cached(tmp_path, "cafe-b", printed["file_sha256"])] == [
        gcode.read_bytes()
    ]
    assert not (tmp_path / "cafe-b" / "data" / "artifacts" / str(cut["id"])).exists()


def long_gcode(path: Path, lines: int) -> Path:
    """Many short extruding moves: seconds of analysis for a worker."""
    with path.open("w") as fh:
        fh.write("; generated by PrusaSlicer 2.7.0\nG21\nG90\nM83\nG28\nG1 Z0.2 F3000\n")
        for i in range(lines):
            fh.write(f"G1 X{20 + i % 180}.{i % 10} Y{20 + (i * 7) % 170}.5 E0.02{i % 10}\n")
    return path


def test_an_upload_waiting_for_a_worker_keeps_its_file_when_the_cache_is_full(
    pg_url: str, make_api: Any, tmp_path: Path
) -> None:
    """With the database store, every save trims this node's cache: a file saved a
    moment ago, still waiting for the (one, busy) worker to analyse it, must not be
    taken by the next upload's trim — the database has it, but the worker reads the
    node's copy."""
    sim = """
        name = "Sim"
        kind = "fdm_printer"
        [driver]
        type = "sim"
        [printer]
        build_x_mm = 250
        build_y_mm = 210
        build_z_mm = 210
    """
    a = make_api(
        node(
            tmp_path,
            pg_url,
            "cafe-a",
            {"p": sim},
            storage_cache_bytes=0,
            workers=1,
            start_dispatcher=False,
        )
    )
    store = a.ctx.store
    answers: dict[str, Any] = {}

    def send(name: str, path: Path) -> None:
        answers[name] = submit(a, path, machine="p")

    def sha_of(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    busy = long_gcode(tmp_path / "busy.gcode", 600_000)  # keeps the one worker busy
    waiting = tiny_gcode(tmp_path, "waiting.gcode", x=11)
    threads = [threading.Thread(target=send, args=("busy", busy))]
    threads[0].start()
    wait_for(lambda: store.has(sha_of(busy)), 30, what="the busy file stored")
    threads.append(threading.Thread(target=send, args=("waiting", waiting)))
    threads[1].start()
    wait_for(lambda: store.has(sha_of(waiting)), 30, what="the waiting file stored")
    last = submit(a, tiny_gcode(tmp_path, "last.gcode", x=12), machine="p")
    for t in threads:
        t.join(120)
    assert last.status_code == 201, last.text
    for name in ("busy", "waiting"):
        assert answers[name].status_code == 201, (name, answers[name].text)
    # Once no longer recent, cached files go at the next trim, and come back on demand.
    cache = tmp_path / "cafe-a" / "data" / "files"
    an_hour_ago = time.time() - 3600
    for path in cache.rglob("*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    newest = submit(a, tiny_gcode(tmp_path, "newest.gcode", x=13), machine="p")
    assert newest.status_code == 201, newest.text
    assert [p.name for p in cache.rglob("*") if p.is_file()] == [newest.json()["file_sha256"]]
    assert store.fetch(sha_of(waiting)).read_bytes() == waiting.read_bytes()


def test_a_file_left_on_a_node_that_does_not_share_fails_after_bounded_tries(
    pg_url: str, make_api: Any, tmp_path: Path
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
    # Café B's board still shows the job: without its file, no picture (404), no error.
    for path in (f"/api/v1/jobs/{sent['id']}/preview", f"/api/v1/jobs/{sent['id']}/file"):
        r = b.client.get(path, headers=b.headers())
        assert r.status_code == 404, (path, r.text)


def test_a_stop_asked_while_the_node_is_down_holds_when_it_returns(
    pg_url: str, make_api: Any, tmp_path: Path
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
