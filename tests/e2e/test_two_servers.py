"""Two `fabqueue serve` on one database with one node name: the second refuses to
start, saying who holds the node, and leaves the first one's running job alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.factories import sim_printer, tiny_gcode, write_profiles
from tests.support.service import Service
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/var/fabqueue.db"
    else:
        url = request.getfixturevalue("pg_url")
    profiles = write_profiles(tmp_path / "profiles", {"printer": sim_printer(speed=1.0)})
    yield {
        "FABQUEUE_DB_URL": url,
        "FABQUEUE_DATA_DIR": str(tmp_path / "var" / "data"),
        "FABQUEUE_PROFILES_DIR": str(profiles),
        "FABQUEUE_NODE": "counter-pc",
        "FABQUEUE_DISPATCH_POLL_S": "0.2",
    }


def test_a_second_server_for_the_same_node_refuses_to_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    first = Service(env, tmp_path / "first.log")
    assert first.cli("db", "upgrade").returncode == 0
    first.start()
    try:
        token = first.cli("user", "add", "Camille", "--role", "facilitator").stdout.split()[-1]
        job = tiny_gcode(tmp_path, "long.gcode", seconds=3600)
        out = first.cli(
            "submit", str(job), "--machine", "printer", "--url", first.url, "--token", token
        )
        assert out.returncode == 0, out.stderr
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"{first.url}/api/v1", headers=headers, timeout=10) as c:
            wait_for(lambda: c.get("/jobs/1").json()["state"] == "running", what="running")
            second = Service(env, tmp_path / "second.log")
            refused = second.cli("serve", "--port", str(second.port))
            assert refused.returncode == 2
            assert refused.stderr.startswith(
                f"fabqueue: node 'counter-pc' is already run by process {first.proc.pid} on "
            ), refused.stderr
            assert "FABQUEUE_NODE" in refused.stderr
            job1 = c.get("/jobs/1").json()
            assert job1["state"] == "running"
            events = [e["to_state"] for e in c.get("/jobs/1/events").json()]
            assert events == ["queued", "starting", "running"]
            assert c.get("/health").status_code == 200
    finally:
        first.stop()
