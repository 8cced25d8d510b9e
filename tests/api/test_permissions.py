"""The job permission table of docs/permissions.md, row by row, against the real API on
SQLite: every action × role × who set the job's state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.clock import utcnow
from fabqueue.db import session_scope
from fabqueue.models import Job, JobEvent
from fabqueue.services.jobs import index_file
from fabqueue.settings import Settings
from fabqueue.states import ACTIVE_STATES, JobState
from jobs.base import MachineKind
from tests.conftest import Api
from tests.support.factories import REPO

ROLES = ("admin", "facilitator", "member (owner)", "client (owner)")


@dataclass(frozen=True)
class Row:
    action: str
    state: JobState
    set_by: str
    allowed: dict[str, bool]


def matrix() -> list[Row]:
    text = (REPO / "docs" / "permissions.md").read_text()
    body = text.split("<!-- permission-matrix")[1].split("<!-- end permission-matrix")[0]
    lines = [ln for ln in body.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[3:] == list(ROLES)
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert set(cells[3:]) <= {"yes", "no"}, line
        rows.append(
            Row(
                cells[0],
                JobState(cells[1]),
                cells[2],
                dict(zip(ROLES, [c == "yes" for c in cells[3:]], strict=True)),
            )
        )
    return rows


ROWS = matrix()
CASES = [(row, role) for row in ROWS for role in ROLES]


@pytest.fixture
def held_api(make_api: Any, settings: Settings) -> Api:
    return make_api(settings.model_copy(update={"start_dispatcher": False}))


def make_job(api: Api, owner: str, state: JobState, set_by: str) -> int:
    """A job of ``owner`` in ``state``, its last event naming who put it there."""
    actor = {
        "owner": f"user:{api.user_ids[owner]}",
        "staff": f"user:{api.user_ids['boss']}",
        "machine": "machine:printer",
    }[set_by]
    occupying = state in ACTIVE_STATES or state == JobState.interrupted
    now = utcnow()
    with session_scope(api.ctx.sessions) as session:
        index_file(session, "0" * 64, 10, now)
        job = Job(
            kind=MachineKind.fdm_printer,
            owner_id=api.user_ids[owner],
            title="part",
            file_sha256="0" * 64,
            file_name="part.gcode",
            file_type="gcode",
            file_size=10,
            state=state,
            machine="printer" if occupying else None,
            pause_requested=state == JobState.paused,
            checkpoint={"offset": 120} if state == JobState.interrupted else {},
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        session.add(JobEvent(job_id=job.id, to_state=state, at=now, actor=actor))
        return job.id


def snapshot(api: Api, job_id: int) -> tuple[Any, ...]:
    with api.ctx.read_sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        events = session.exec(select(JobEvent.id).where(JobEvent.job_id == job_id)).all()
        return job.state, job.pause_requested, job.cancel_requested, len(events)


@pytest.mark.parametrize(
    ("row", "role"),
    CASES,
    ids=[f"{r.action}-{r.state.value}-by-{r.set_by}-{role.split()[0]}" for r, role in CASES],
)
def test_permission_matrix(held_api: Api, row: Row, role: str) -> None:
    owner_role = "client" if role == "client (owner)" else "member"
    held_api.token("owner", owner_role)
    held_api.token("boss", "facilitator")
    acting = {"admin": ("ada", "admin"), "facilitator": ("fred", "facilitator")}.get(
        role, ("owner", owner_role)
    )
    job_id = make_job(held_api, "owner", row.state, row.set_by)
    before = snapshot(held_api, job_id)
    r = held_api.client.post(
        f"/api/v1/jobs/{job_id}/{row.action}", headers=held_api.headers(*acting)
    )
    if row.allowed[role]:
        assert r.status_code == 200, r.text
        assert snapshot(held_api, job_id) != before
    else:
        assert r.status_code == 403, r.text
        assert snapshot(held_api, job_id) == before


@pytest.mark.parametrize("action", ["hold", "release", "cancel", "pause", "resume", "requeue"])
def test_another_members_job_is_not_found_for_every_action(held_api: Api, action: str) -> None:
    held_api.token("owner", "member")
    held_api.token("boss", "facilitator")
    job_id = make_job(held_api, "owner", JobState.held, "owner")
    r = held_api.client.post(
        f"/api/v1/jobs/{job_id}/{action}", headers=held_api.headers("max", "member")
    )
    missing = held_api.client.post(
        f"/api/v1/jobs/{job_id + 1000}/{action}", headers=held_api.headers("max", "member")
    )
    assert (r.status_code, missing.status_code) == (404, 404)
    assert re.sub(r"\d+", "N", r.json()["detail"]) == re.sub(r"\d+", "N", missing.json()["detail"])


def test_a_wrong_state_is_409_before_any_permission(held_api: Api) -> None:
    held_api.token("owner", "client")
    held_api.token("boss", "facilitator")
    job_id = make_job(held_api, "owner", JobState.queued, "staff")
    r = held_api.client.post(f"/api/v1/jobs/{job_id}/release", headers=held_api.headers("owner"))
    assert r.status_code == 409 and r.json()["state"] == "queued"


def test_the_table_covers_every_action() -> None:
    assert {r.action for r in ROWS} == {"hold", "release", "cancel", "pause", "resume", "requeue"}
    assert {r.set_by for r in ROWS} == {"owner", "staff", "machine"}


def test_members_see_machines_without_other_peoples_jobs(held_api: Api) -> None:
    from fabqueue.models import MachineRecord

    held_api.token("owner", "member")
    held_api.token("boss", "facilitator")
    job_id = make_job(held_api, "owner", JobState.running, "machine")
    with session_scope(held_api.ctx.sessions) as session:
        record = session.get(MachineRecord, "printer")
        assert record is not None
        record.status = {
            "state": "busy",
            "message": "printing owner's part",
            "at": "2026-12-07T05:00:00Z",
            "temperatures": {"tool0": {"actual": 215.0, "target": 215.0}},
            "job": {"ref": f"fq-{job_id}", "phase": "running", "progress": 0.3, "message": "x"},
        }
        session.add(record)

    def seen(who: str, role: str) -> dict[str, Any]:
        r = held_api.client.get("/api/v1/machines/printer", headers=held_api.headers(who, role))
        listed = held_api.client.get("/api/v1/machines", headers=held_api.headers(who, role))
        assert r.status_code == 200 and listed.json() == [r.json()]
        return r.json()  # type: ignore[no-any-return]

    staff = seen("boss", "facilitator")
    assert staff["current_job_id"] == job_id and staff["status"]["job"]["ref"] == f"fq-{job_id}"
    for who, role, current in (
        ("max", "member", None),
        ("shop", "client", None),
        ("owner", "member", job_id),
    ):
        m = seen(who, role)
        assert m["current_job_id"] == current, who
        assert m["status"] == {
            "state": "busy",
            "at": "2026-12-07T05:00:00Z",
            "temperatures": {"tool0": {"actual": 215.0, "target": 215.0}},
            "job": {"phase": "running", "progress": 0.3},
        }
