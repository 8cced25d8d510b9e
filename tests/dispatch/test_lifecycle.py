"""End to end on simulated machines: submit through the API, let the dispatcher run,
check the event sequence, the operator gate and every fault path."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabqueue.clock import FakeClock
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.api import confirm, job, machine, states, submit, wait_state, with_profiles
from tests.support.factories import sim_printer, tiny_gcode
from tests.support.waiting import looked_again, wait_for


def test_job_runs_then_waits_for_the_operator(api: Api, tmp_path: Path) -> None:
    j = submit(api, tiny_gcode(tmp_path, seconds=600), machine="printer").json()
    done = wait_state(api, j["id"], "awaiting_operator")
    assert done["progress"] == pytest.approx(1.0)
    assert done["actual_duration_s"] is not None and done["actual_duration_s"] > 0
    assert machine(api)["runner_state"] == "awaiting_operator"
    # The next job does not start while the part is on the bed.
    j2 = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    assert job(api, j2["id"])["state"] == "queued"
    r = confirm(api, None)
    assert r.status_code == 422  # a job is on the machine: say good or bad
    r = confirm(api, "good")
    assert r.status_code == 200, r.text
    assert r.json()["job"]["state"] == "succeeded"
    assert r.json()["job"]["outcome"] == "good"
    assert states(api, j["id"]) == [
        "queued",
        "starting",
        "running",
        "awaiting_operator",
        "succeeded",
    ]
    wait_state(api, j2["id"], "awaiting_operator")


def test_bad_outcome_runs_the_job_again(api: Api, tmp_path: Path) -> None:
    j = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    wait_state(api, j["id"], "awaiting_operator")
    r = confirm(api, "bad")
    assert r.json()["job"]["state"] in ("queued", "starting", "running")
    again = wait_state(api, j["id"], "awaiting_operator")
    assert again["attempt"] == 2
    assert states(api, j["id"]) == [
        "queued",
        "starting",
        "running",
        "awaiting_operator",
        "queued",
        "starting",
        "running",
        "awaiting_operator",
    ]


def test_nothing_to_confirm_is_409(api: Api) -> None:
    assert confirm(api, "good").status_code == 409


def test_auto_advance_runs_the_queue_through(make_api, settings: Settings, tmp_path: Path) -> None:
    s = with_profiles(settings, tmp_path, {"printer": sim_printer(top="auto_advance = true")})
    api = make_api(s)
    ids = [submit(api, tiny_gcode(tmp_path), machine="printer").json()["id"] for _ in range(3)]
    for i in ids:
        done = wait_state(api, i, "succeeded")
        assert done["outcome"] == "good"
    assert machine(api)["runner_state"] == "accepting"


def test_priority_then_age(api: Api, tmp_path: Path) -> None:
    h = api.headers()
    api.client.post("/api/v1/machines/printer/stop", headers=h)
    old = submit(api, tiny_gcode(tmp_path), machine="printer").json()["id"]
    urgent = submit(api, tiny_gcode(tmp_path), machine="printer", priority="10").json()["id"]
    newer = submit(api, tiny_gcode(tmp_path), machine="printer").json()["id"]
    api.client.post("/api/v1/machines/printer/start", headers=h)
    order = []
    for _ in range(3):
        done = wait_for(
            lambda: next(
                (
                    i
                    for i in (old, urgent, newer)
                    if i not in order and job(api, i)["state"] == "awaiting_operator"
                ),
                None,
            ),
            what="next job finished",
        )
        order.append(done)
        confirm(api, "good")
    assert order == [urgent, old, newer]


def test_cancel_a_running_job(make_api, settings: Settings, tmp_path: Path) -> None:
    s = with_profiles(settings, tmp_path, {"printer": sim_printer(speed=60)})
    api = make_api(s)
    j = submit(api, tiny_gcode(tmp_path, seconds=3600), machine="printer").json()
    wait_state(api, j["id"], "running")
    r = api.client.post(f"/api/v1/jobs/{j['id']}/cancel", headers=api.headers())
    body = r.json()
    # The runner may have stopped the machine before the answer was written.
    assert (body["state"], body["cancel_requested"]) in (("running", True), ("cancelled", False))
    wait_state(api, j["id"], "cancelled")
    assert machine(api)["runner_state"] == "awaiting_operator"  # the half print is on the bed
    assert confirm(api, None).status_code == 200
    assert machine(api)["runner_state"] == "accepting"


def test_pause_and_resume(make_api, settings: Settings, tmp_path: Path) -> None:
    # The simulated printer moves only with this clock: while paused, time passes and
    # nothing is printed; a broken pause would print on.
    clock = FakeClock()
    s = with_profiles(settings, tmp_path, {"printer": sim_printer(speed=120)})
    api = make_api(s, clock=clock)
    sim = api.ctx.dispatcher.runners["printer"].driver

    def advance(seconds: float) -> None:
        api.client.portal.call(clock.advance, seconds)

    j = submit(api, tiny_gcode(tmp_path, seconds=60), machine="printer").json()
    wait_state(api, j["id"], "running")
    advance(0.1)  # a fifth of the job
    h = api.headers()
    assert api.client.post(f"/api/v1/jobs/{j['id']}/pause", headers=h).status_code == 200
    paused = wait_state(api, j["id"], "paused")
    before = sim.status.job.progress
    assert 0.0 < before < 1.0
    assert api.client.post(f"/api/v1/jobs/{j['id']}/pause", headers=h).status_code == 409
    advance(10.0)  # twenty times what the whole job takes
    assert sim.status.job.progress == pytest.approx(before)
    assert job(api, j["id"])["progress"] == pytest.approx(paused["progress"])
    assert api.client.post(f"/api/v1/jobs/{j['id']}/resume", headers=h).status_code == 200
    wait_state(api, j["id"], "running")
    wait_for(
        lambda: advance(0.1) or job(api, j["id"])["state"] == "awaiting_operator",
        what="the resumed job to finish",
    )
    assert states(api, j["id"]) == [
        "queued",
        "starting",
        "running",
        "paused",
        "running",
        "awaiting_operator",
    ]


def test_machine_failure_fails_the_job_and_gates_the_machine(
    make_api, settings: Settings, tmp_path: Path
) -> None:
    s = with_profiles(settings, tmp_path, {"printer": sim_printer(extra="fail_at = 0.5")})
    api = make_api(s)
    j = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    failed = wait_state(api, j["id"], "failed")
    assert failed["message"] == "simulated failure"
    assert failed["progress"] == pytest.approx(0.5, abs=0.05)
    assert machine(api)["runner_state"] == "awaiting_operator"
    assert (
        api.client.post(f"/api/v1/jobs/{j['id']}/requeue", headers=api.headers()).json()["state"]
        == "queued"
    )


def test_rejected_file_type_fails_without_gating(
    make_api, settings: Settings, tmp_path: Path
) -> None:
    s = with_profiles(
        settings, tmp_path, {"printer": sim_printer(extra='reject_file_types = ["gcode"]')}
    )
    api = make_api(s)
    j = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    failed = wait_state(api, j["id"], "failed")
    assert "does not take gcode" in failed["message"]
    assert machine(api)["runner_state"] == "accepting"


def test_vanishing_machine_interrupts_then_resume_finishes(
    make_api, settings: Settings, tmp_path: Path
) -> None:
    s = with_profiles(
        settings,
        tmp_path,
        {"printer": sim_printer(extra="go_offline_at = 0.4\noffline_for_s = 0.2")},
    )
    api = make_api(s)
    j = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    lost = wait_state(api, j["id"], "interrupted")
    assert lost["checkpoint"]["progress"] == pytest.approx(0.4, abs=0.05)
    assert machine(api)["runner_state"] == "awaiting_operator"
    # Resuming says the part is still there: the machine takes it back first.
    other = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    r = api.client.post(f"/api/v1/jobs/{j['id']}/resume", headers=api.headers())
    assert r.status_code == 200, r.text
    # The simulated machine vanishes again at 40 %; resumed beyond it, it finishes.
    done = wait_state(api, j["id"], "awaiting_operator")
    assert done["progress"] == pytest.approx(1.0)
    assert job(api, other["id"])["state"] == "queued"
    assert states(api, j["id"])[-4:] == ["queued", "starting", "running", "awaiting_operator"]


def test_material_gates_the_queue(api: Api, tmp_path: Path) -> None:
    j = submit(api, tiny_gcode(tmp_path), machine="printer", material="petg-bleu").json()
    looked_again(api.ctx.dispatcher.runners["printer"])
    assert job(api, j["id"])["state"] == "queued"
    r = api.client.put(
        "/api/v1/machines/printer/material", headers=api.headers(), json={"material": "petg-bleu"}
    )
    assert r.status_code == 200
    assert r.json()["loaded_material"] == "petg-bleu"
    wait_state(api, j["id"], "awaiting_operator")
    bad = api.client.put(
        "/api/v1/machines/printer/material", headers=api.headers(), json={"material": "vinyle-noir"}
    )
    assert bad.status_code == 422


def test_stopped_machine_takes_nothing(api: Api, tmp_path: Path) -> None:
    assert (
        api.client.post("/api/v1/machines/printer/stop", headers=api.headers()).status_code == 200
    )
    j = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    looked_again(api.ctx.dispatcher.runners["printer"])
    assert job(api, j["id"])["state"] == "queued"
    api.client.post("/api/v1/machines/printer/start", headers=api.headers())
    wait_state(api, j["id"], "awaiting_operator")


def test_a_machine_belongs_to_one_node(make_api, settings: Settings) -> None:
    make_api(settings)  # registers "printer" for test-node
    other = settings.model_copy(update={"node": "another-cafe"})
    with pytest.raises(Exception, match="belongs to node 'test-node'"):
        make_api(other)
