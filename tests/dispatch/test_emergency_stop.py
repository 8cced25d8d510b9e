"""The emergency stop: staff stop a machine; its job is interrupted, the machine waits
for a person, and the runner carries the stop out through the driver."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from fabqueue.clock import FakeClock
from fabqueue.models import Job, MachineEvent, MachineRecord, RunnerState, User
from fabqueue.services import machines as machine_service
from fabqueue.services.errors import Forbidden, NotFound
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.api import confirm, job, machine, states, submit, wait_state
from tests.support.factories import tiny_gcode
from tests.support.jobs import run_job
from tests.support.waiting import looked_again, wait_for


def stop(api: Api, slug: str = "printer", who: str = "staff", role: str = "facilitator") -> Any:
    return api.client.post(
        f"/api/v1/machines/{slug}/emergency-stop", headers=api.headers(who, role)
    )


def machine_events(api: Api, slug: str = "printer") -> list[dict[str, Any]]:
    r = api.client.get(f"/api/v1/machines/{slug}/events", headers=api.headers())
    assert r.status_code == 200, r.text
    return r.json()


def job_events(api: Api, job_id: int) -> list[dict[str, Any]]:
    return api.client.get(f"/api/v1/jobs/{job_id}/events", headers=api.headers()).json()


@pytest.fixture
def clock() -> FakeClock:
    """The simulated printer runs only when the test moves this clock: a job under way
    stays under way for as long as the test needs."""
    return FakeClock()


@pytest.fixture
def stopped_api(make_api: Any, clock: FakeClock) -> Api:
    return make_api(clock=clock)


def test_stop_interrupts_the_job_and_the_machine_waits_for_a_person(
    stopped_api: Api, tmp_path: Path, clock: FakeClock
) -> None:
    api = stopped_api
    runner = api.ctx.dispatcher.runners["printer"]
    first = submit(api, tiny_gcode(tmp_path, seconds=600), machine="printer").json()
    wait_state(api, first["id"], "running")
    second = submit(api, tiny_gcode(tmp_path, "second.gcode"), machine="printer").json()

    r = stop(api)
    assert r.status_code == 200, r.text
    assert r.json()["runner_state"] == "awaiting_operator"
    staff = api.user_ids["staff"]
    assert r.json()["current_job_id"] is None  # interrupted: the job no longer holds it

    stopped = job(api, first["id"])
    assert stopped["state"] == "interrupted"
    assert "emergency stop" in stopped["message"]
    last = job_events(api, first["id"])[-1]
    assert (last["from_state"], last["to_state"], last["actor"]) == (
        "running",
        "interrupted",
        f"user:{staff}",
    )
    # The runner stops the simulated machine through its driver, and says so.
    done = wait_for(
        lambda: [e for e in machine_events(api) if e["action"] == "emergency_stopped"],
        what="the runner to carry out the stop",
    )
    assert done[0]["actor"] == "machine:printer"
    assert done[0]["detail"] == "the simulated machine stopped at once"
    asked = next(e for e in machine_events(api) if e["action"] == "emergency_stop")
    assert asked["actor"] == f"user:{staff}"
    assert asked["detail"] == f"job {first['id']} interrupted"
    assert runner.driver.status.job is None
    wait_for(lambda: machine(api)["emergency_stop_at"] is None, what="the request cleared")

    # The machine takes nothing until a person says it is clear.
    looked_again(runner)
    assert job(api, second["id"])["state"] == "queued"
    assert machine(api)["runner_state"] == "awaiting_operator"
    r = confirm(api, None)
    assert r.status_code == 200, r.text
    wait_state(api, second["id"], "running")
    assert states(api, first["id"]) == ["queued", "starting", "running", "interrupted"]


def test_stop_of_an_idle_machine_still_gates_it(stopped_api: Api, tmp_path: Path) -> None:
    api = stopped_api
    assert stop(api).status_code == 200
    wait_for(
        lambda: any(e["action"] == "emergency_stopped" for e in machine_events(api)),
        what="the runner to carry out the stop",
    )
    assert machine_events(api)[0]["detail"] == "no job was running"
    waiting = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    looked_again(api.ctx.dispatcher.runners["printer"])
    assert job(api, waiting["id"])["state"] == "queued"
    assert confirm(api, None).status_code == 200
    wait_state(api, waiting["id"], "running")


def test_only_staff_stop_a_machine(stopped_api: Api) -> None:
    api = stopped_api
    r = stop(api, who="marie", role="member")
    assert r.status_code == 403
    assert stop(api, "nowhere").status_code == 404
    assert machine(api)["runner_state"] == "accepting"
    assert machine_events(api) == []


T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_the_service_refuses_a_member_and_an_unknown_machine(
    make_api: Any, settings: Settings
) -> None:
    # No dispatcher: the request stays pending, as it would for a node that is down.
    api = make_api(settings.model_copy(update={"start_dispatcher": False}))
    api.token("marie", "member")
    api.token("staff")

    def call(who: str, slug: str) -> MachineRecord:
        with api.ctx.sessions() as session:
            user = session.get(User, api.user_ids[who])
            assert user is not None
            return machine_service.emergency_stop(session=session, user=user, slug=slug, at=T0)

    with pytest.raises(Forbidden):
        call("marie", "printer")
    with pytest.raises(NotFound):
        call("staff", "nowhere")
    record = call("staff", "printer")
    assert record.runner_state == RunnerState.awaiting_operator
    assert record.emergency_stop_at == T0
    # Pending until the machine's node carries it out: the pages can show it.
    assert machine(api)["emergency_stop_at"] == T0.isoformat().replace("+00:00", "Z")
    # Confirming the machine does not cancel a stop its node has not carried out yet.
    assert confirm(api, None).status_code == 200
    assert machine(api)["runner_state"] == "accepting"
    assert machine(api)["emergency_stop_at"] is not None
    with api.ctx.read_sessions() as session:
        rows = session.exec(select(MachineEvent).order_by(col(MachineEvent.id))).all()
        assert (rows[0].action, rows[0].actor, rows[0].at) == (
            "emergency_stop",
            f"user:{api.user_ids['staff']}",
            T0,
        )


def test_a_job_that_ends_as_the_stop_lands_is_left_as_it_ended(
    make_api: Any, settings: Settings, tmp_path: Path
) -> None:
    """The runner may finish the job between the stop's read and its write."""
    api = make_api(settings.model_copy(update={"start_dispatcher": False}))
    j = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    with api.ctx.sessions() as session:
        run_job(session, j["id"], JobState.awaiting_operator, machine="printer", at=T0)
        session.commit()
        row = session.get(Job, j["id"])
        assert row is not None
        said = machine_service._interrupt_for_stop(session, row, "user:1", "emergency stop", T0)
        session.commit()
    assert said == f"job {j['id']} had just ended (awaiting_operator)"
    assert job(api, j["id"])["state"] == "awaiting_operator"
