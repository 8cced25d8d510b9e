"""Schemathesis against the live service: generated requests on every operation, with a
facilitator's token. No server error, and every answer matches the OpenAPI schema
(body, status code, content type). Bounded to about a minute, fixed seed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.factories import sim_printer, tiny_gcode, write_profiles
from tests.support.service import Service

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    profiles = write_profiles(tmp_path / "profiles", {"printer": sim_printer()})
    svc = Service(
        {
            "FABQUEUE_DB_URL": f"sqlite:///{tmp_path}/var/fabqueue.db",
            "FABQUEUE_DATA_DIR": str(tmp_path / "var" / "data"),
            "FABQUEUE_PROFILES_DIR": str(profiles),
            "FABQUEUE_NODE": "counter-pc",
        },
        tmp_path / "service.log",
    )
    assert svc.cli("db", "upgrade").returncode == 0
    svc.start()
    yield svc
    svc.stop()


def seed_data(url: str, headers: dict[str, str], tmp_path: Path) -> None:
    """A job, an organisation and a quote, so that id 1 leads somewhere."""
    with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=30) as c:
        with tiny_gcode(tmp_path).open("rb") as fh:
            r = c.post("/jobs", data={"machine": "printer"}, files={"file": ("p.gcode", fh)})
        assert r.status_code == 201, r.text
        org = c.post("/clients", json={"name": "Boulangerie"}).json()["id"]
        r = c.post("/quotes", json={"title": "Plaques", "organisation_id": org})
        assert r.status_code == 201, r.text


def test_generated_requests_find_no_server_error_nor_schema_violation(
    service: Service, tmp_path: Path
) -> None:
    out = service.cli("user", "add", "Camille", "--role", "facilitator")
    token = out.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    seed_data(service.url, headers, tmp_path)
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{service.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--seed",
            "20261207",
            "--max-examples",
            "10",
            "--max-time",
            "60",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--suppress-health-check",
            "all",
            # The event stream never ends: a generated request would only time out.
            "--exclude-path",
            "/api/v1/events",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    report = run.stdout[-20000:]
    assert run.returncode == 0, report
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report
    generated, passed = map(int, counts.groups())
    assert generated == passed and generated > 500, report
    assert httpx.get(f"{service.url}/api/v1/health").status_code == 200
