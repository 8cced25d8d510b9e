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
