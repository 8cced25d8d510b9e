"""A Marlin printer on a pty, run by fabqueue's dispatcher and driven through its API."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import pytest

from drivers.emulators.marlin import MarlinEmulator, MarlinOptions
from drivers.marlin.config import DEFAULT_RECOVER
from drivers.marlin.file import prepare
from drivers.marlin.state import PrintState, render_script, restore_modes
from fabqueue.settings import Settings
from tests.support.api import job, machine, states, submit, wait_state, with_profiles
from tests.support.marlin import VASE, file_commands, head_of, numbered, own_lines_before
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


def marlin_printer(port: str, baud: int = 250000) -> str:
    return f"""
        name = "Imprimante Marlin"
        kind = "fdm_printer"
        [driver]
        type = "marlin_serial"
        port = "{port}"
        baud = {baud}
        timeout_s = 0.5
        motion_timeout_factor = 0.0
        long_command_timeout_s = 5.0
        reconnect_s = 0.2
        report_interval_s = 0.1
        [printer]
        build_x_mm = 250
        build_y_mm = 210
        build_z_mm = 210
    """


@pytest.fixture
def printer_link(tmp_path: Path) -> str:
    return str(tmp_path / "ttyACM-printer")


def test_disconnect_interrupts_then_resume_finishes(
    make_api: Any, settings: Settings, tmp_path: Path, printer_link: str
) -> None:
    path = head_of(VASE, 1500, tmp_path / "vase.gcode")
    commands = file_commands(path)
    prepared = prepare(path)
    ends = [prepared.offset_after(i) for i in range(len(prepared))]
    cut_at = 400  # commands run before the cable is pulled (3 of them the driver's greeting)
    emu = MarlinEmulator(
        MarlinOptions(
            baud=250000,
            speed=200.0,
            link=printer_link,
            disconnect_at_line=cut_at,
            reconnect_after_s=0.5,
        )
    )
    emu.start()
    try:
        api = make_api(with_profiles(settings, tmp_path, {"printer": marlin_printer(printer_link)}))
        wait_for(lambda: machine(api)["status"]["state"] == "idle", 15, what="printer idle")
        j = submit(api, path, machine="printer").json()
        lost = wait_state(api, j["id"], "interrupted", timeout=60)
        wait_for(lambda: machine(api)["status"]["state"] == "idle", 15, what="printer back")
        before = numbered(emu)
        # What ran before the cable was pulled is exactly the start of the file (and the
        # few commands already in the printer's queue still ran: the power stayed on).
        assert before == commands[: len(before)]
        # The driver's own numbered lines (greeting, temperature polls while it waited)
        # came before the cut too; how many polls depends on how long it waited. A line
        # or two still on the wire when the cable goes never runs.
        own = own_lines_before(emu, len(before))
        assert own >= 3
        assert cut_at - own - 3 <= len(before) <= cut_at - own + 3
        checkpoint = lost["checkpoint"]
        acked = bisect.bisect_right(ends, checkpoint["offset"])  # file commands acknowledged
        assert ends[acked - 1] == checkpoint["offset"]
        # The checkpoint lags the printer by at most the lines in flight.
        assert 0 <= len(before) - acked <= 6
        assert checkpoint["progress"] == pytest.approx(
            checkpoint["offset"] / path.stat().st_size, abs=1e-6
        )
        assert "connection lost" in lost["message"]
        assert machine(api)["runner_state"] == "awaiting_operator"

        r = api.client.post(f"/api/v1/jobs/{j['id']}/resume", headers=api.headers())
        assert r.status_code == 200, r.text
        done = wait_state(api, j["id"], "awaiting_operator", timeout=90)
        assert done["progress"] == pytest.approx(1.0)
        assert states(api, j["id"])[-5:] == [
            "interrupted",
            "queued",
            "starting",
            "running",
            "awaiting_operator",
        ]
        after = numbered(emu)[len(before) :]
        state = PrintState.from_checkpoint(checkpoint)
        preamble = [
            c.decode() for c in render_script(DEFAULT_RECOVER, state) + restore_modes(state)
        ]
        assert after[: len(preamble)] == preamble
        assert any(c.startswith("G28 X Y") for c in preamble)
        # Then the file again from the first line not acknowledged, to its end.
        assert after[len(preamble) :] == commands[acked:]
    finally:
        emu.stop()


def test_kill_fails_the_job_with_the_printers_message(
    make_api: Any, settings: Settings, tmp_path: Path, printer_link: str
) -> None:
    path = head_of(VASE, 600, tmp_path / "vase.gcode")
    emu = MarlinEmulator(
        MarlinOptions(baud=250000, speed=200.0, link=printer_link, kill_at_line=200)
    )
    emu.start()
    try:
        api = make_api(with_profiles(settings, tmp_path, {"printer": marlin_printer(printer_link)}))
        wait_for(lambda: machine(api)["status"]["state"] == "idle", 15, what="printer idle")
        j = submit(api, path, machine="printer").json()
        failed = wait_state(api, j["id"], "failed", timeout=60)
        assert "Thermal Runaway" in failed["message"]
        assert "Printer halted" in failed["message"]
        assert machine(api)["status"]["state"] == "error"
        assert job(api, j["id"])["checkpoint"]["offset"] > 0
    finally:
        emu.stop()


def test_emergency_stop_sends_m112_to_the_printer(
    make_api: Any, settings: Settings, tmp_path: Path, printer_link: str
) -> None:
    path = head_of(VASE, 3000, tmp_path / "vase.gcode")
    emu = MarlinEmulator(MarlinOptions(baud=250000, speed=20.0, link=printer_link))
    emu.start()
    try:
        api = make_api(with_profiles(settings, tmp_path, {"printer": marlin_printer(printer_link)}))
        wait_for(lambda: machine(api)["status"]["state"] == "idle", 15, what="printer idle")
        j = submit(api, path, machine="printer").json()
        wait_for(lambda: len(numbered(emu)) > 50, 30, what="the print under way")
        assert not emu.firmware.halted
        r = api.client.post("/api/v1/machines/printer/emergency-stop", headers=api.headers())
        assert r.status_code == 200, r.text
        stopped = job(api, j["id"])
        assert stopped["state"] == "interrupted"
        # The emulator's emergency parser halts the firmware on the M112 bytes only.
        wait_for(lambda: emu.firmware.halted, 10, what="the printer to receive M112")
        events = api.client.get("/api/v1/machines/printer/events", headers=api.headers()).json()
        done = wait_for(
            lambda: [
                e
                for e in api.client.get(
                    "/api/v1/machines/printer/events", headers=api.headers()
                ).json()
                if e["action"] == "emergency_stopped"
            ],
            10,
            what="the stop recorded",
        )
        assert events[0]["action"] == "emergency_stop"
        assert done[0]["detail"].startswith("M112 sent")
        wait_for(lambda: machine(api)["status"]["state"] == "error", 10, what="printer halted")
        assert machine(api)["runner_state"] == "awaiting_operator"
        assert job(api, j["id"])["state"] == "interrupted"  # the printer's own report lost
    finally:
        emu.stop()
