"""Staff's wishes for a machine hold: through a node being down, through the operator's
confirmation. A job whose file is nowhere fails after a bounded number of tries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fabqueue.app import create_app
from fabqueue.settings import Settings
from tests.support.api import confirm, machine, states, submit, wait_state
from tests.support.factories import sim_printer, tiny_gcode, write_profiles
from tests.support.waiting import wait_for


def looked_again(api: Any, slug: str = "printer", times: int = 3) -> None:
    """Wait until the machine's runner has looked at the queue ``times`` more times."""
    runner = api.ctx.dispatcher.runners[slug]
    start = runner.looks
    wait_for(lambda: runner.looks >= start + times, 10, what="the runner to look again")


def same_people(api: Any, like: Any) -> Any:
    """Another node of the same database knows the same people."""
    api._tokens, api.user_ids = like._tokens, like.user_ids
    return api


def test_a_stop_while_awaiting_the_operator_holds_through_confirmation(
    make_api: Any, tmp_path: Path
) -> None:
    api = make_api()
    first = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    wait_state(api, first["id"], "awaiting_operator")
    r = api.client.post("/api/v1/machines/printer/stop", headers=api.headers())
    assert r.status_code == 200, r.text
    assert r.json()["runner_state"] == "awaiting_operator"  # the part is still on the bed
    assert r.json()["out_of_service"] is True
    assert confirm(api, "good").status_code == 200
    assert machine(api)["runner_state"] == "stopped"
    second = submit(api, tiny_gcode(tmp_path, "b.gcode", x=11), machine="printer").json()
    looked_again(api)
    assert states(api, second["id"]) == ["queued"]
    r = api.client.post("/api/v1/machines/printer/start", headers=api.headers())
    assert r.json()["runner_state"] == "accepting" and r.json()["out_of_service"] is False
    wait_state(api, second["id"], "awaiting_operator")
    events = api.client.get("/api/v1/machines/printer/events", headers=api.headers()).json()
    assert [e["action"] for e in events] == ["stop", "start"]
    assert all(e["actor"] == f"user:{api.user_ids['staff']}" for e in events)


def test_a_stop_made_while_the_node_is_down_holds_when_it_returns(
    make_api: Any, settings: Settings, tmp_path: Path
) -> None:
    slow = write_profiles(tmp_path / "slow", {"printer": sim_printer(speed=1.0)})
    mine = settings.model_copy(update={"profiles_dir": slow})
    bare = write_profiles(tmp_path / "other-profiles", {})
    # Another node of the same database, driving no machine of its own.
    other = make_api(settings.model_copy(update={"profiles_dir": bare, "node": "other"}))
    with TestClient(create_app(mine)):
        running = submit(other, tiny_gcode(tmp_path), machine="printer").json()
        wait_state(other, running["id"], "running")
    # The machine's node went down mid-job; staff stop its machine meanwhile.
    r = other.client.post("/api/v1/machines/printer/stop", headers=other.headers())
    assert r.status_code == 200 and r.json()["runner_state"] == "stopped"
    waiting = submit(other, tiny_gcode(tmp_path, "b.gcode", x=11), machine="printer").json()
    back = same_people(make_api(mine), other)  # the node comes back
    wait_state(back, running["id"], "interrupted")
    assert machine(back)["out_of_service"] is True
    # Someone checks the machine and says it is clear: it stays out of service.
    assert confirm(back, None).status_code == 200
    looked_again(back)
    assert machine(back)["runner_state"] == "stopped"
    assert states(back, waiting["id"]) == ["queued"]


def test_a_file_found_nowhere_fails_its_job_after_bounded_tries(
    make_api: Any, settings: Settings, tmp_path: Path
) -> None:
    front = make_api(settings.model_copy(update={"start_dispatcher": False}))
    job = submit(front, tiny_gcode(tmp_path), machine="printer").json()
    for path in (settings.data_dir / "files").rglob("*"):
        if path.is_file():
            path.unlink()  # a node that saved it elsewhere and never shared it
    node = same_people(make_api(settings.model_copy(update={"file_missing_tries": 3})), front)
    failed = wait_state(node, job["id"], "failed", timeout=20)
    assert states(node, job["id"]) == [
        "queued",
        *(["starting", "queued"] * 2),
        "starting",
        "failed",
    ]
    assert "input file not found" in failed["message"]
    assert "tried 3 times" in failed["message"]
    # The machine is free for the jobs behind it.
    nxt = submit(node, tiny_gcode(tmp_path, "n.gcode", x=12), machine="printer").json()
    wait_state(node, nxt["id"], "awaiting_operator", timeout=20)
