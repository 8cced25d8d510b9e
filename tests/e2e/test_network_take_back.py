"""A café's node dies mid-job (kill -9): the other café sees it offline within the
timeout, staff take its work back, and nothing is lost or run twice.

Two nodes on one real PostgreSQL, each with its own data folder: café B is a real
``fabqueue serve`` process driving a Marlin emulator on a pty; café A is an app in this
process with no machine of its own, where staff work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.models import Job, MachineRecord, RunnerState
from fabqueue.settings import Settings
from tests.support.api import confirm, states, submit, wait_state
from tests.support.factories import write_profiles
from tests.support.marlin import VASE, emulator, file_commands, head_of, marlin_profile, numbered
from tests.support.service import Service
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PRINTER = "cafe-b-printer"
HEARTBEAT_S = 0.5
OFFLINE_AFTER_S = 2.0
STARTUP_S = 120.0
"""Starting ``fabqueue serve`` takes seconds; on this shared machine under load, more."""


def cafe_b(tmp_path: Path, pg_url: str, link: str) -> Service:
    profiles = write_profiles(tmp_path / "cafe-b" / "profiles", {PRINTER: marlin_profile(link)})
    env = {
        "FABQUEUE_DB_URL": pg_url,
        "FABQUEUE_DATA_DIR": str(tmp_path / "cafe-b" / "data"),
        "FABQUEUE_PROFILES_DIR": str(profiles),
        "FABQUEUE_NODE": "cafe-b",
        "FABQUEUE_STORAGE": "database",
        "FABQUEUE_DISPATCH_POLL_S": "0.1",
        "FABQUEUE_PROGRESS_WRITE_INTERVAL_S": "0.2",
        "FABQUEUE_LEASE_HEARTBEAT_S": str(HEARTBEAT_S),
        "FABQUEUE_NODE_OFFLINE_AFTER_S": str(OFFLINE_AFTER_S),
    }
    return Service(env, tmp_path / "cafe-b.log")


def cafe_a(tmp_path: Path, pg_url: str) -> Settings:
    return Settings(
        db_url=pg_url,
        data_dir=tmp_path / "cafe-a" / "data",
        profiles_dir=write_profiles(tmp_path / "cafe-a" / "profiles", {}),
        node="cafe-a",
        storage="database",
        dispatch_poll_s=0.1,
        lease_heartbeat_s=HEARTBEAT_S,
        node_offline_after_s=OFFLINE_AFTER_S,
    )


def node_seen(a: Any, name: str) -> dict[str, Any]:
    nodes = a.client.get("/api/v1/nodes", headers=a.headers()).json()
    return next(n for n in nodes if n["name"] == name)


def seen_offline_after(a: Any, killed: float) -> float:
    """Poll café A's API until it shows café B offline; return when the last request
    that still saw it online began."""
    last_online = killed
    while (asked := time.monotonic()) - killed < OFFLINE_AFTER_S + 15:
        if not node_seen(a, "cafe-b")["online"]:
            return last_online
        last_online = asked
        time.sleep(0.05)
    raise AssertionError("café B was never shown offline")


def db_job(a: Any, job_id: int) -> Job:
    with a.ctx.read_sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def db_machine(a: Any) -> MachineRecord:
    with a.ctx.read_sessions() as session:
        record = session.exec(select(MachineRecord).where(MachineRecord.slug == PRINTER)).one()
        session.expunge(record)
        return record


def status_written_after(a: Any, since: str) -> None:
    """Wait until café B's runner has written its printer's status after ``since``: its
    loop's first step does (after the restart's reconcile), then looks at the queue."""
    wait_for(
        lambda: str(db_machine(a).status.get("at") or "") > since,
        30,
        interval=0.05,
        what="café B's runner to look at its machine",
    )


def test_a_killed_node_is_seen_offline_and_staff_take_its_work_back(
    pg_url: str, make_api: Any, tmp_path: Path
) -> None:
    link = str(tmp_path / "ttyACM-b")
    path = head_of(VASE, 3000, tmp_path / "vase.gcode")
    expected = file_commands(path)
    with emulator(baud=250000, speed=5.0, link=link) as emu:
        b = cafe_b(tmp_path, pg_url, link)
        b.start(timeout_s=STARTUP_S)
        try:
            a = make_api(cafe_a(tmp_path, pg_url))
            a.token()  # staff, in the database both cafés share
            wait_for(lambda: node_seen(a, "cafe-b")["online"], 15, what="café B online")
            sent = submit(a, path, machine=PRINTER)
            assert sent.status_code == 201, sent.text
            job_id = sent.json()["id"]
            wait_state(a, job_id, "running", timeout=60)
            wait_for(lambda: db_job(a, job_id).checkpoint, 30, what="a checkpoint")

            # While café B lives, its work cannot be taken.
            alive = a.client.post("/api/v1/nodes/cafe-b/take-back", headers=a.headers())
            assert alive.status_code == 409, alive.text
            assert "en ligne" in alive.json()["detail"]

            killed = time.monotonic()
            b.kill9()
            last_online = seen_offline_after(a, killed)
            # A look that began more than the timeout after the kill never saw B online
            # (measured from when each request began: the machine's load cannot blur it).
            assert last_online - killed <= OFFLINE_AFTER_S, last_online - killed
            # Until someone decides, the job looks as B left it.
            assert states(a, job_id)[-1] == "running"

            taken = a.client.post("/api/v1/nodes/cafe-b/take-back", headers=a.headers())
            assert taken.status_code == 200, taken.text
            assert taken.json()["interrupted"] == [job_id]
            job = db_job(a, job_id)
            assert job.state == "interrupted"
            assert job.checkpoint  # kept: the job could be resumed where it stopped
            assert db_machine(a).runner_state == RunnerState.awaiting_operator
            # A person at the printer resets it (the part stays on the bed for now).
            emu.reset()
            # Staff also take the printer out of service while its café is away.
            assert (
                a.client.post(f"/api/v1/machines/{PRINTER}/stop", headers=a.headers()).status_code
                == 200
            )

            # Café B comes back: it does not fight, it converges.
            before = str(db_machine(a).status.get("at") or "")
            b.start(timeout_s=STARTUP_S)
            wait_for(lambda: node_seen(a, "cafe-b")["online"], 15, what="café B back")
            status_written_after(a, before)
            assert states(a, job_id) == ["queued", "starting", "running", "interrupted"]
            record = db_machine(a)
            assert record.runner_state == RunnerState.awaiting_operator
            assert record.out_of_service is True

            # The person says the printer is clear: it stays stopped, as staff asked.
            assert confirm(a, None, PRINTER).status_code == 200
            assert db_machine(a).runner_state == RunnerState.stopped
            assert states(a, job_id)[-1] == "interrupted"

            # Staff put it back in service and run the job again, from the start.
            emu.options.speed = 400.0
            assert (
                a.client.post(f"/api/v1/machines/{PRINTER}/start", headers=a.headers()).status_code
                == 200
            )
            r = a.client.post(f"/api/v1/jobs/{job_id}/requeue", headers=a.headers())
            assert r.status_code == 200, r.text
            done = wait_state(a, job_id, "awaiting_operator", timeout=120)
            assert done["machine"] == PRINTER and done["attempt"] == 2
            assert numbered(emu)[-len(expected) :] == expected
            assert states(a, job_id) == [
                "queued",
                "starting",
                "running",
                "interrupted",
                "queued",
                "starting",
                "running",
                "awaiting_operator",
            ]
        finally:
            b.stop()
