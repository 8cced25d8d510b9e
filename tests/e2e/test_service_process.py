"""The service as a real process: CLI submissions, live events, and kill -9."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.factories import sim_printer, tiny_gcode, write_profiles
from tests.support.service import Service
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    profiles = write_profiles(tmp_path / "profiles", {"printer": sim_printer(speed=1.0)})
    svc = Service(
        {
            "FABQUEUE_DB_URL": f"sqlite:///{tmp_path}/var/fabqueue.db",
            "FABQUEUE_DATA_DIR": str(tmp_path / "var" / "data"),
            "FABQUEUE_PROFILES_DIR": str(profiles),
            "FABQUEUE_NODE": "counter-pc",
            "FABQUEUE_DISPATCH_POLL_S": "0.2",
        },
        tmp_path / "service.log",
    )
    assert svc.cli("db", "upgrade").returncode == 0
    svc.start()
    yield svc
    svc.stop()


def api(svc: Service, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{svc.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_kill_9_interrupts_the_running_job_and_keeps_the_queue(
    service: Service, tmp_path: Path
) -> None:
    out = service.cli("user", "add", "Camille", "--role", "facilitator")
    token = out.stdout.strip().splitlines()[-1]
    env_token = ["--url", service.url, "--token", token]
    # One long job (an hour of simulated time at speed 1) and two behind it.
    first = service.cli(
        "submit",
        str(tiny_gcode(tmp_path, "a.gcode", seconds=3600)),
        "--machine",
        "printer",
        *env_token,
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("job 1 queued")
    for name in ("b.gcode", "c.gcode"):
        assert (
            service.cli(
                "submit", str(tiny_gcode(tmp_path, name)), "--machine", "printer", *env_token
            ).returncode
            == 0
        )
    with api(service, token) as c:
        wait_for(lambda: c.get("/jobs/1").json()["state"] == "running", what="job 1 running")
        wait_for(lambda: (c.get("/jobs/1").json()["progress"] or 0) > 0, what="progress")
    listing = service.cli("jobs", *env_token)
    assert "running" in listing.stdout and "3 job(s)" in listing.stdout

    service.kill9()
    service.start()

    with api(service, token) as c:
        job1 = wait_for(
            lambda: (j := c.get("/jobs/1").json())["state"] == "interrupted" and j,
            what="job 1 interrupted",
        )
        assert "restarted" in job1["message"]
        assert job1["checkpoint"]["progress"] > 0
        events = c.get("/jobs/1/events").json()
        assert [e["to_state"] for e in events] == ["queued", "starting", "running", "interrupted"]
        assert [c.get(f"/jobs/{i}").json()["state"] for i in (2, 3)] == ["queued", "queued"]
        printer = c.get("/machines/printer").json()
        assert printer["runner_state"] == "awaiting_operator"
        assert printer["node"] == "counter-pc"
        # The operator clears the half print; the queue moves on.
        assert c.post("/machines/printer/confirm", json={}).status_code == 200
        wait_for(lambda: c.get("/jobs/2").json()["state"] == "running", what="job 2 running")
    machines = service.cli("machines", *env_token)
    assert "printer" in machines.stdout and "job 2" in machines.stdout


def test_live_events_over_sse(service: Service, tmp_path: Path) -> None:
    token = service.cli("user", "add", "Sam", "--role", "member").stdout.strip().splitlines()[-1]
    # A member submits only on machines they are trained for.
    assert service.cli("user", "add", "Ana", "--role", "admin").returncode == 0
    assert service.cli("train", "grant", "Sam", "printer").returncode == 0
    seen: list[dict] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET",
            f"{service.url}/api/v1/events",
            params={"topics": "job"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "job:state_changed":
                    seen.append(json.loads(line[6:]))
                    if seen[-1]["to"] == "running":
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert ready.wait(10)
    with api(service, token) as c, tiny_gcode(tmp_path).open("rb") as fh:
        r = c.post("/jobs", data={"machine": "printer"}, files={"file": ("p.gcode", fh)})
        assert r.status_code == 201
    t.join(20)
    assert [(e["from"], e["to"]) for e in seen] == [
        (None, "queued"),
        ("queued", "starting"),
        ("starting", "running"),
    ]
    assert all(e["job_id"] == r.json()["id"] for e in seen)
    without = httpx.get(f"{service.url}/api/v1/events", timeout=5)
    assert without.status_code == 401
    time.sleep(0)
