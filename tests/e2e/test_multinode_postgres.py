"""Two fabqueue nodes on one PostgreSQL: every job runs exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from fabqueue.db import make_engine, make_session_factory
from fabqueue.models import Job, JobEvent
from fabqueue.settings import Settings
from tests.support.factories import sim_printer, tiny_gcode, write_profiles
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

JOBS = 200


def node_settings(tmp_path: Path, pg_url: str, node: str) -> Settings:
    fast = sim_printer(speed=36000, top="auto_advance = true")
    profiles = write_profiles(tmp_path / node, {f"{node}-p1": fast, f"{node}-p2": fast})
    return Settings(
        db_url=pg_url,
        data_dir=tmp_path / "shared-data",  # a network share in real life
        profiles_dir=profiles,
        node=node,
        dispatch_poll_s=0.05,
        progress_write_interval_s=1.0,
    )


def test_two_nodes_share_the_queue(make_api, tmp_path: Path, pg_url: str) -> None:
    a = make_api(node_settings(tmp_path, pg_url, "cafe-a"))
    b = make_api(node_settings(tmp_path, pg_url, "cafe-b"))
    token = a.token()
    headers = {"Authorization": f"Bearer {token}"}
    part = tiny_gcode(tmp_path, seconds=60)
    data = part.read_bytes()
    for i in range(JOBS):
        client = (a if i % 2 else b).client  # submissions arrive at both nodes
        r = client.post(
            "/api/v1/jobs",
            headers=headers,
            data={"kind": "fdm_printer"},
            files={"file": (f"part-{i}.gcode", data)},
        )
        assert r.status_code == 201, r.text

    engine = make_engine(pg_url)
    sessions = make_session_factory(engine, None)

    def all_done() -> bool:
        with sessions() as s:
            return all(j.state == "succeeded" for j in s.exec(select(Job)))

    wait_for(all_done, timeout=120, interval=0.2, what="all jobs succeeded")
    with sessions() as s:
        jobs = s.exec(select(Job)).all()
        events = s.exec(select(JobEvent).order_by(JobEvent.id)).all()
    engine.dispose()
    assert len(jobs) == JOBS
    per_job: dict[int, list[str]] = {}
    for e in events:
        per_job.setdefault(e.job_id, []).append(e.to_state.value)
    for job in jobs:
        assert per_job[job.id] == ["queued", "starting", "running", "succeeded"], job.id
        assert job.attempt == 1
    by_machine = Counter(j.machine for j in jobs)
    assert set(by_machine) == {"cafe-a-p1", "cafe-a-p2", "cafe-b-p1", "cafe-b-p2"}
    nodes = Counter(m.split("-p")[0] for m in by_machine.elements())
    assert nodes["cafe-a"] > 0 and nodes["cafe-b"] > 0


def test_an_emergency_stop_asked_at_another_node_reaches_the_machine(
    make_api, tmp_path: Path, pg_url: str
) -> None:
    slow = sim_printer(speed=1.0)  # a one-minute job lasts a minute: it is still running
    a = make_api(
        node_settings(tmp_path, pg_url, "cafe-a").model_copy(
            update={"profiles_dir": write_profiles(tmp_path / "slow-a", {"cafe-a-p1": slow})}
        )
    )
    b = make_api(node_settings(tmp_path, pg_url, "cafe-b"))
    headers = {"Authorization": f"Bearer {a.token()}"}
    part = tiny_gcode(tmp_path, seconds=60)
    r = b.client.post(
        "/api/v1/jobs",
        headers=headers,
        data={"machine": "cafe-a-p1"},
        files={"file": (part.name, part.read_bytes())},
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    url = f"/api/v1/jobs/{job_id}"
    wait_for(lambda: b.client.get(url, headers=headers).json()["state"] == "running")
    # Asked at node b: only node a drives the machine, and b's bus never reaches it.
    r = b.client.post("/api/v1/machines/cafe-a-p1/emergency-stop", headers=headers)
    assert r.status_code == 200, r.text
    assert b.client.get(url, headers=headers).json()["state"] == "interrupted"
    sim = a.ctx.dispatcher.runners["cafe-a-p1"].driver
    events = wait_for(
        lambda: (
            (e := b.client.get("/api/v1/machines/cafe-a-p1/events", headers=headers).json())[1:]
            and e
        ),
        what="node a to stop the machine",
    )
    assert sim.status.message == "emergency stop"
    assert [e["action"] for e in events] == ["emergency_stop", "emergency_stopped"]
    assert events[1]["actor"] == "machine:cafe-a-p1"
