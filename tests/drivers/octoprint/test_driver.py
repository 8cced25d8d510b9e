"""The OctoPrint driver against a real OctoPrint 1.11.8 and its Virtual Printer.

OctoPrint's virtual printer runs moves ten times faster than real but ``G4`` dwells at
their real length: the jobs here are dwells, so they last a known time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import pytest

from drivers.base import JobPhase, MachineState
from drivers.octoprint.client import AuthError, Conflict, OctoPrintClient, Unreachable
from drivers.octoprint.driver import OctoPrintConfig, OctoPrintDriver
from fabqueue.clock import RealClock
from fabqueue.settings import Settings
from tests.support.api import confirm, job, machine, states, submit, wait_state, with_profiles
from tests.support.marlin import Watched, ticket
from tests.support.octoprint import OctoPrintServer, TcpProxy
from tests.support.peers import OCTOPRINT_KEY_ENV
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.octoprint, pytest.mark.slow]


def dwell_file(tmp: Path, name: str, seconds: float) -> Path:
    path = tmp / name
    steps = int(seconds / 0.1)
    path.write_text("; dwell job\nG28\nG90\n" + "G4 P100\n" * steps + "G1 X10 Y10 F3000\n")
    return path


def octoprint_printer(url: str) -> str:
    return f"""
        name = "Prusa (OctoPrint)"
        kind = "fdm_printer"
        [driver]
        type = "octoprint"
        url = "{url}"
        api_key_env = "{OCTOPRINT_KEY_ENV}"
        port = "VIRTUAL"
        baudrate = 115200
        poll_s = 0.2
        reconnect_s = 1.0
        [printer]
        build_x_mm = 250
        build_y_mm = 210
        build_z_mm = 210
    """


def octo_state(server: OctoPrintServer) -> dict[str, Any]:
    with contextlib.suppress(Exception):
        return server.api("GET", "/api/printer")["state"]["flags"]  # type: ignore[no-any-return]
    return {}


def test_through_the_api(
    make_api: Any, settings: Settings, tmp_path: Path, octoprint_peer: OctoPrintServer
) -> None:
    server = octoprint_peer
    api = make_api(with_profiles(settings, tmp_path, {"printer": octoprint_printer(server.url)}))
    wait_for(lambda: machine(api)["status"]["state"] == "idle", 20, what="OctoPrint connected")
    h = api.headers()

    # A first job: progress rises, pause and resume, then cancel.
    first = submit(api, dwell_file(tmp_path, "first.gcode", 8.0), machine="printer").json()
    wait_state(api, first["id"], "running", timeout=20)
    early = wait_for(
        lambda: (job(api, first["id"])["progress"] or 0) > 0.05 and job(api, first["id"])
    )
    later = wait_for(lambda: (job(api, first["id"])["progress"] or 0) > early["progress"] + 0.05)
    assert later
    assert api.client.post(f"/api/v1/jobs/{first['id']}/pause", headers=h).status_code == 200
    wait_state(api, first["id"], "paused", timeout=20)
    assert octo_state(server).get("paused")
    paused_at = job(api, first["id"])["progress"]
    time.sleep(0.6)
    assert job(api, first["id"])["progress"] == pytest.approx(paused_at)
    assert api.client.post(f"/api/v1/jobs/{first['id']}/resume", headers=h).status_code == 200
    wait_state(api, first["id"], "running", timeout=20)
    wait_for(lambda: octo_state(server).get("printing") and not octo_state(server).get("paused"))
    assert api.client.post(f"/api/v1/jobs/{first['id']}/cancel", headers=h).status_code == 200
    wait_state(api, first["id"], "cancelled", timeout=20)
    assert states(api, first["id"]) == [
        "queued",
        "starting",
        "running",
        "paused",
        "running",
        "cancelled",
    ]
    assert confirm(api, None).status_code == 200

    # A second job runs to its end; OctoPrint counts it as a success.
    second = submit(api, dwell_file(tmp_path, "second.gcode", 1.0), machine="printer").json()
    done = wait_state(api, second["id"], "awaiting_operator", timeout=30)
    assert done["progress"] == pytest.approx(1.0)
    assert states(api, second["id"]) == ["queued", "starting", "running", "awaiting_operator"]
    files = server.api("GET", "/api/files/local/fabqueue")
    assert files.get("children", []) == []  # our upload was removed once done
    assert confirm(api, "good").json()["job"]["state"] == "succeeded"

    # A third job, and the printer's line drops under it: the job is interrupted.
    third = submit(api, dwell_file(tmp_path, "third.gcode", 20.0), machine="printer").json()
    wait_state(api, third["id"], "running", timeout=20)
    wait_for(lambda: (job(api, third["id"])["progress"] or 0) > 0.02)
    server.api("POST", "/api/printer/command", {"command": "!!DEBUG:drop_connection"})
    lost = wait_state(api, third["id"], "interrupted", timeout=40)
    assert "OctoPrint lost the printer" in lost["message"]
    assert lost["checkpoint"]["octoprint_path"] == f"fabqueue/fq-{third['id']}-1.gcode"
    # OctoPrint cannot resume from a checkpoint: staff requeue it instead.
    r = api.client.post(f"/api/v1/jobs/{third['id']}/resume", headers=h)
    assert r.status_code == 409
    # The driver asks OctoPrint to connect again; the printer comes back.
    wait_for(lambda: machine(api)["status"]["state"] == "idle", 30, what="printer back")


@pytest.mark.asyncio
async def test_octoprint_unreachable_is_offline_and_the_job_is_kept(
    tmp_path: Path, octoprint_peer: OctoPrintServer
) -> None:
    server = octoprint_peer
    proxy = TcpProxy(int(server.url.rsplit(":", 1)[1]))
    proxy.start()
    config = OctoPrintConfig(
        url=proxy.url, api_key_env=OCTOPRINT_KEY_ENV, port="VIRTUAL", poll_s=0.2, timeout_s=2.0
    )
    w = Watched(config, OctoPrintDriver)
    await w.driver.connect()
    try:
        await w.idle()
        await w.driver.start(ticket(dwell_file(tmp_path, "long.gcode", 6.0)))
        await w.wait(lambda s: s.job is not None and (s.job.progress or 0) > 0.02)
        mark = len(w.seen)
        proxy.cut()
        offline = await w.wait(lambda s: s.state == MachineState.offline, since=mark)
        assert "does not answer" in (offline.message or "")
        assert all(s.job is None or s.job.phase == JobPhase.running for s in w.seen[mark:])
        await asyncio.sleep(1.0)
        mark = len(w.seen)
        proxy.restore()
        back = await w.wait(
            lambda s: s.state == MachineState.busy and s.job is not None, since=mark, within=10
        )
        assert back.job is not None and back.job.ref == "fq-1-1"
        final = await w.final(within=30)
        assert final.job is not None and final.job.phase == JobPhase.done
    finally:
        await w.driver.close()
        proxy.cut()


@pytest.mark.asyncio
async def test_a_restarted_fabqueue_recognises_its_job(
    tmp_path: Path, octoprint_peer: OctoPrintServer
) -> None:
    server = octoprint_peer
    config = OctoPrintConfig(
        url=server.url, api_key_env=OCTOPRINT_KEY_ENV, port="VIRTUAL", poll_s=0.2
    )
    first = OctoPrintDriver("m1", config, on_status=lambda s: None, clock=RealClock())
    await first.connect()
    try:
        await wait_until(lambda: first.status.state == MachineState.idle)
        await first.start(ticket(dwell_file(tmp_path, "long.gcode", 5.0), job_id=7))
        await wait_until(lambda: octo_state(server).get("printing"))
    finally:
        await first.close()  # fabqueue stops; OctoPrint prints on
    second = OctoPrintDriver("m1", config, on_status=lambda s: None, clock=RealClock())
    try:
        status = await second.probe()
        assert status.job is not None and status.job.ref == "fq-7-1"
        assert status.job.phase == JobPhase.running
        assert status.state == MachineState.busy
    finally:
        await second.close()


async def wait_until(pred: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_no_key_in_the_environment_is_a_clear_error(
    octoprint_peer: OctoPrintServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(OCTOPRINT_KEY_ENV)
    config = OctoPrintConfig(url=octoprint_peer.url, api_key_env=OCTOPRINT_KEY_ENV)
    driver = OctoPrintDriver("m1", config, on_status=lambda s: None, clock=RealClock())
    status = await driver.probe()
    assert status.state == MachineState.error
    assert OCTOPRINT_KEY_ENV in (status.message or "")
    monkeypatch.setenv(OCTOPRINT_KEY_ENV, "not-the-key")
    status = await driver.probe()
    assert status.state == MachineState.error
    assert "refused the API key" in (status.message or "")
    await driver.close()


def test_client_fixes_what_octorest_gets_wrong(
    tmp_path: Path, octoprint_peer: OctoPrintServer
) -> None:
    server = octoprint_peer
    # No network call when built, even for a host that is not there.
    started = time.monotonic()
    dead = OctoPrintClient("http://127.0.0.1:9", "key", timeout_s=1.0)
    with pytest.raises(Unreachable):
        dead.version()
    assert time.monotonic() - started < 5
    with pytest.raises(AuthError) as refused:
        OctoPrintClient(server.url, "wrong-key").version()
    assert refused.value.status == 403
    client = OctoPrintClient(server.url, server.api_key)
    assert client.printer() is None  # not connected to the printer: 409, read as "none"
    client.connect("VIRTUAL", 115200, None)
    wait_for(lambda: client.printer() is not None, 10, what="virtual printer")
    with pytest.raises(Conflict):
        client.cancel()  # nothing to cancel: 409
    # Upload into a folder, selected, in one multipart form.
    client.ensure_folder("fabqueue")
    client.ensure_folder("fabqueue")  # again: no error
    path = dwell_file(tmp_path, "up.gcode", 0.2)
    result = client.upload(path, "fabqueue/fq-5-1.gcode", select=True)
    assert result["effectiveSelect"] is True and result["effectivePrint"] is False
    assert result["files"]["local"]["path"] == "fabqueue/fq-5-1.gcode"
    assert client.job()["job"]["file"]["path"] == "fabqueue/fq-5-1.gcode"
    assert client.file_info("fabqueue/fq-5-1.gcode")["size"] == path.stat().st_size


@pytest.mark.asyncio
async def test_a_pause_sent_while_the_print_starts_is_not_lost(
    tmp_path: Path, octoprint_peer: OctoPrintServer
) -> None:
    """A pause sent the moment the job starts is honoured and held. OctoPrint drops a
    pause that lands while the print is "Starting" (its start marker sets "Printing" over
    "Pausing"); the window is short and only opens wide on a loaded host, so this test
    does not always hit it: the driver keeps the wish and asks again if it does."""
    server = octoprint_peer
    config = OctoPrintConfig(
        url=server.url, api_key_env=OCTOPRINT_KEY_ENV, port="VIRTUAL", poll_s=0.2
    )
    w = Watched(config, OctoPrintDriver)
    await w.driver.connect()
    try:
        await w.idle()
        await w.driver.start(ticket(dwell_file(tmp_path, "long.gcode", 8.0), job_id=8))
        await w.driver.pause()  # at once: OctoPrint is still starting the print
        paused = await w.wait(
            lambda s: s.job is not None and s.job.phase == JobPhase.paused, within=15
        )
        assert paused.job is not None and paused.job.ref == "fq-8-1"
        assert octo_state(server).get("paused")
        await asyncio.sleep(1.0)
        assert octo_state(server).get("paused")  # and it stays paused
        await w.driver.resume()
        await wait_until(lambda: not octo_state(server).get("paused"), within=10)
        await w.driver.cancel()
        final = await w.final(within=30)
        assert final.job is not None and final.job.phase == JobPhase.cancelled
    finally:
        await w.driver.close()
