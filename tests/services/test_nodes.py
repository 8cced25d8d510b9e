"""A node's liveness is its lease's heartbeat; staff take an offline node's work back.

The app here runs no dispatcher: its machine ``printer`` belongs to node ``cafe-b``,
whose lease row the test writes, so the fake clock alone says how old its last beat is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.clock import FakeClock
from fabqueue.db import session_scope
from fabqueue.models import (
    Job,
    JobEvent,
    MachineEvent,
    MachineRecord,
    NodeLeaseRecord,
    RunnerState,
)
from fabqueue.services import nodes
from fabqueue.services.jobs import index_file
from fabqueue.settings import Settings
from fabqueue.states import JobState
from jobs.base import MachineKind
from tests.conftest import Api
from tests.support.cli import run_cli
from tests.support.waiting import wait_for

TIMEOUT = 30.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def b(make_api: Any, settings: Settings, clock: FakeClock) -> Api:
    """An app on the database of a network where ``cafe-b`` owns ``printer``."""
    api: Api = make_api(
        settings.model_copy(
            update={"start_dispatcher": False, "node": "cafe-b", "node_offline_after_s": TIMEOUT}
        ),
        clock=clock,
    )
    return api


def beat(api: Api, node: str, age_s: float | None, clock: FakeClock) -> None:
    """Write ``node``'s lease row as if its last heartbeat were ``age_s`` seconds ago."""
    with session_scope(api.ctx.sessions) as session:
        row = session.get(NodeLeaseRecord, node)
        if age_s is None:
            if row is not None:
                session.delete(row)
            return
        at = clock.now() - timedelta(seconds=age_s)
        session.merge(
            NodeLeaseRecord(node=node, pid=4242, host="b-pc", started_at=at, heartbeat_at=at)
        )


def running_job(api: Api, checkpoint: dict[str, Any]) -> int:
    now = api.ctx.clock.now()
    owner = api.token("staff") and api.user_ids["staff"]
    with session_scope(api.ctx.sessions) as session:
        index_file(session, "a" * 64, 10, now)
        job = Job(
            kind=MachineKind.fdm_printer,
            owner_id=owner,
            title="part",
            file_sha256="a" * 64,
            file_name="part.gcode",
            file_type="gcode",
            file_size=10,
            state=JobState.running,
            machine="printer",
            progress=0.4,
            checkpoint=checkpoint,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        session.add(
            JobEvent(job_id=job.id, to_state=JobState.running, at=now, actor="machine:printer")
        )
        return job.id


def job_of(api: Api, job_id: int) -> Job:
    with api.ctx.read_sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def record(api: Api, slug: str = "printer") -> MachineRecord:
    with api.ctx.read_sessions() as session:
        found = session.get(MachineRecord, slug)
        assert found is not None
        session.expunge(found)
        return found


@pytest.mark.parametrize(
    ("age_s", "timeout_s", "online"),
    [
        (0.0, 30.0, True),
        (29.9, 30.0, True),
        (30.0, 30.0, True),  # exactly the timeout: still within it
        (30.1, 30.0, False),
        (3600.0, 30.0, False),
        (5.0, 3.0, False),
        (5.0, 10.0, True),
        (-20.0, 30.0, True),  # its clock runs ahead: never dead on a clock's word
        (None, 30.0, False),  # stopped cleanly: no lease row
    ],
)
def test_liveness_is_the_age_of_the_last_heartbeat(
    b: Api, clock: FakeClock, age_s: float | None, timeout_s: float, online: bool
) -> None:
    beat(b, "cafe-b", age_s, clock)
    with b.ctx.read_sessions() as session:
        (state,) = nodes.node_states(session, now=clock.now(), offline_after_s=timeout_s)
    assert state.name == "cafe-b"
    assert state.machines == ["printer"]
    assert state.online is online
    expected_since = None if online or age_s is None else clock.now() - timedelta(seconds=age_s)
    assert state.offline_since == expected_since


def test_the_api_shows_a_node_offline_once_the_fake_clock_passes_the_timeout(
    b: Api, clock: FakeClock
) -> None:
    beat(b, "cafe-b", 0.0, clock)
    listed = b.client.get("/api/v1/nodes", headers=b.headers()).json()
    assert [(n["name"], n["online"], n["pid"]) for n in listed] == [("cafe-b", True, 4242)]
    last = clock.now()
    b.client.portal.call(clock.advance, TIMEOUT + 1)  # type: ignore[union-attr]
    (node,) = b.client.get("/api/v1/nodes", headers=b.headers()).json()
    assert node["online"] is False
    assert node["offline_since"].replace("Z", "+00:00") == last.isoformat()
    # Members see the state, not which process or computer runs a node.
    (seen,) = b.client.get("/api/v1/nodes", headers=b.headers("momo", "member")).json()
    assert seen["online"] is False and seen["pid"] is None and seen["host"] is None


def test_taking_back_the_work_of_a_live_node_is_refused_in_french(b: Api, clock: FakeClock) -> None:
    beat(b, "cafe-b", TIMEOUT - 1, clock)
    job_id = running_job(b, {"offset": 1200})
    r = b.client.post("/api/v1/nodes/cafe-b/take-back", headers=b.headers())
    assert r.status_code == 409, r.text
    assert r.json()["state"] == "online"
    assert "est en ligne" in r.json()["detail"]
    assert job_of(b, job_id).state == JobState.running
    assert record(b).runner_state == RunnerState.accepting


def test_only_staff_take_a_node_s_work_back(b: Api, clock: FakeClock) -> None:
    beat(b, "cafe-b", TIMEOUT + 5, clock)
    job_id = running_job(b, {})
    r = b.client.post("/api/v1/nodes/cafe-b/take-back", headers=b.headers("momo", "member"))
    assert r.status_code == 403
    assert b.client.post("/api/v1/nodes/nowhere/take-back", headers=b.headers()).status_code == 404
    assert job_of(b, job_id).state == JobState.running


def test_taking_back_interrupts_its_jobs_keeps_checkpoints_and_the_machine_waits(
    b: Api, clock: FakeClock
) -> None:
    beat(b, "cafe-b", TIMEOUT + 5, clock)
    job_id = running_job(b, {"offset": 1200, "line": 88})
    r = b.client.post("/api/v1/nodes/cafe-b/take-back", headers=b.headers())
    assert r.status_code == 200, r.text
    assert r.json() == {
        "node": "cafe-b",
        "interrupted": [job_id],
        "waiting": ["printer"],
        "left_stopped": [],
    }
    job = job_of(b, job_id)
    assert job.state == JobState.interrupted
    assert job.checkpoint == {"offset": 1200, "line": 88}
    assert record(b).runner_state == RunnerState.awaiting_operator
    staff = f"user:{b.user_ids['staff']}"
    with b.ctx.read_sessions() as session:
        last = session.exec(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id.desc())  # type: ignore[union-attr]
        ).first()
        machine_events = session.exec(select(MachineEvent)).all()
    assert last is not None and last.actor == staff
    assert last.reason is not None and "cafe-b" in last.reason
    assert [(e.action, e.actor) for e in machine_events] == [("take_back", staff)]
    # Twice is harmless: nothing is active any more.
    again = b.client.post("/api/v1/nodes/cafe-b/take-back", headers=b.headers()).json()
    assert again["interrupted"] == []


def test_a_stopped_machine_stays_stopped_through_take_back_and_confirmation(
    b: Api, clock: FakeClock
) -> None:
    beat(b, "cafe-b", TIMEOUT + 5, clock)
    job_id = running_job(b, {})
    assert b.client.post("/api/v1/machines/printer/stop", headers=b.headers()).status_code == 200
    r = b.client.post("/api/v1/nodes/cafe-b/take-back", headers=b.headers())
    assert r.json()["interrupted"] == [job_id]
    assert record(b).runner_state == RunnerState.awaiting_operator
    assert (
        b.client.post("/api/v1/machines/printer/confirm", headers=b.headers(), json={}).status_code
        == 200
    )
    assert record(b).runner_state == RunnerState.stopped
    # With nothing on it, a stopped machine is left as it is.
    again = b.client.post("/api/v1/nodes/cafe-b/take-back", headers=b.headers()).json()
    assert again["left_stopped"] == ["printer"] and again["waiting"] == []
    assert record(b).runner_state == RunnerState.stopped


def test_the_watcher_says_each_change_once() -> None:
    watcher = nodes.NodeWatcher()
    up = nodes.NodeState("cafe-b", True, None)
    down = nodes.NodeState("cafe-b", False, None)
    assert watcher.changes([up]) == [up]
    assert watcher.changes([up]) == []
    assert watcher.changes([down]) == [down]
    assert watcher.changes([down]) == []


@pytest.fixture
def watched(make_api: Any, settings: Settings, clock: FakeClock) -> Api:
    """Like ``b``, with the nodes looked at every 50 ms (one heartbeat period)."""
    api: Api = make_api(
        settings.model_copy(
            update={
                "start_dispatcher": False,
                "node": "cafe-b",
                "node_offline_after_s": TIMEOUT,
                "lease_heartbeat_s": 0.05,
            }
        ),
        clock=clock,
    )
    return api


def test_the_event_stream_says_when_a_node_goes_offline_and_back(
    watched: Api, clock: FakeClock
) -> None:
    said: list[dict[str, Any]] = []

    async def listen() -> None:
        watched.ctx.bus.add_listener(
            lambda m: said.append(m.payload) if m.topic == "machine:node" else None
        )

    watched.client.portal.call(listen)  # type: ignore[union-attr]
    beat(watched, "cafe-b", 0.0, clock)
    wait_for(lambda: said and said[-1]["online"], what="cafe-b online")
    last = clock.now()
    watched.client.portal.call(clock.advance, TIMEOUT + 1)  # type: ignore[union-attr]
    wait_for(lambda: not said[-1]["online"], what="cafe-b offline")
    assert said[-1] == {
        "node": "cafe-b",
        "online": False,
        "offline_since": last.isoformat(),
        "machines": ["printer"],
    }
    beat(watched, "cafe-b", 0.0, clock)
    wait_for(lambda: said[-1]["online"], what="cafe-b back")
    # Each change once; the first look may come before the test's first beat (offline).
    assert [p["online"] for p in said] in ([True, False, True], [False, True, False, True])


def test_the_command_line_lists_nodes_and_takes_work_back(b: Api, clock: FakeClock) -> None:
    # The command reads the real clock: a beat from an hour ago is old enough.
    hour_ago = clock.now().replace(year=2000)
    with session_scope(b.ctx.sessions) as session:
        session.merge(
            NodeLeaseRecord(
                node="cafe-b", pid=4242, host="b-pc", started_at=hour_ago, heartbeat_at=hour_ago
            )
        )
    job_id = running_job(b, {"offset": 10})
    env = {
        "FABQUEUE_DB_URL": b.ctx.settings.db_url,
        "FABQUEUE_PROFILES_DIR": str(b.ctx.settings.profiles_dir),
    }
    listed = run_cli("nodes", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[:3] == [
        "cafe-b",
        "offline since 2000-01-05T09:00:00+00:00",
        "printer",
    ]
    refused = run_cli("nodes", "take-back", "cafe-b", "--by", "nobody", env=env)
    assert refused.returncode == 2 and "no user 'nobody'" in refused.stderr
    taken = run_cli("nodes", "take-back", "cafe-b", "--by", "staff", env=env)
    assert taken.returncode == 0, taken.stderr
    assert f"job(s) interrupted: {job_id}" in taken.stdout
    assert "waiting for a person: printer" in taken.stdout
    assert job_of(b, job_id).state == JobState.interrupted


def test_a_node_running_here_is_online_on_its_own_pages_whatever_its_last_beat(
    make_api: Any, settings: Settings, clock: FakeClock
) -> None:
    here: Api = make_api(
        settings.model_copy(update={"node": "cafe-here", "node_offline_after_s": TIMEOUT}),
        clock=clock,
    )
    # Its beat is an hour old by the clock it reads (a stalled database, say)...
    here.client.portal.call(clock.advance, 3600)  # type: ignore[union-attr]  # app's loop
    listed = here.client.get("/api/v1/nodes", headers=here.headers()).json()
    assert [(n["name"], n["online"]) for n in listed] == [("cafe-here", True)]
    # ... but it serves this request: it is alive, and its work is not taken back.
    r = here.client.post("/api/v1/nodes/cafe-here/take-back", headers=here.headers())
    assert r.status_code == 409, r.text
