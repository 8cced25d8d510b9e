"""What Cura's OctoPrint monitor polls once connected (settings, login, printer
profiles, /api/printer, /api/job), answered from the queue's machines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fabqueue.services.octoprint_view import NOT_OPERATIONAL, state_of, temperatures
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.api import submit, wait_state, with_profiles
from tests.support.bookings import authorise
from tests.support.factories import sim_printer, tiny_gcode

CURA_FLAGS = ("error", "closedOrError", "paused", "pausing", "printing", "cancelling", "ready")
"""The flags Cura's plugin reads without a default: each must be there."""


@pytest.fixture
def api(make_api: Callable[..., Api], settings: Settings, tmp_path: Path) -> Api:
    # Slow enough that a one-minute print is still running while the test looks.
    return make_api(with_profiles(settings, tmp_path, {"printer": sim_printer(speed=2.0)}))


def _get(api: Api, path: str, who: str = "staff", role: str = "facilitator") -> Any:
    return api.client.get(path, headers={"X-Api-Key": api.token(who, role)})


@pytest.mark.parametrize(
    ("state", "text", "on"),
    [
        ("idle", "Operational", {"operational", "ready"}),
        ("busy", "Printing", {"operational", "printing"}),
        ("paused", "Paused", {"operational", "paused"}),
        ("error", "Error: MINTEMP", {"error", "closedOrError"}),
    ],
)
def test_machine_states_read_as_octoprint_flags(state: str, text: str, on: set[str]) -> None:
    answer = state_of(state, "MINTEMP")
    assert answer["text"] == text
    assert {k for k, v in answer["flags"].items() if v} == on
    assert set(CURA_FLAGS) <= set(answer["flags"])


def test_sensors_are_named_as_octoprint_names_them() -> None:
    status = {
        "temperatures": {
            "hotend": {"actual": 199.5, "target": 200.0},
            "hotend1": {"actual": 25.0, "target": None},
            "bed": {"actual": 59.8, "target": 60.0},
        }
    }
    assert temperatures(status) == {
        "tool0": {"actual": 199.5, "target": 200.0, "offset": 0},
        "tool1": {"actual": 25.0, "target": None, "offset": 0},
        "bed": {"actual": 59.8, "target": 60.0, "offset": 0},
    }


def test_cura_connects_as_it_does_to_octoprint(api: Api) -> None:
    key = {"X-Api-Key": api.token()}
    for base in ("", "/octoprint/any", "/octoprint/printer"):
        assert api.client.get(f"{base}/api/settings", headers=key).json()["feature"] == {
            "sdSupport": False
        }
        login = api.client.post(f"{base}/api/login", headers=key, json={"passive": True})
        assert login.status_code == 200 and login.json()["name"] == "staff"
        profiles = api.client.get(f"{base}/api/printerprofiles", headers=key).json()["profiles"]
        (profile,) = profiles.values()
        assert profile["current"] is True and set(profile["axes"]) == set("xyze")
        printer = api.client.get(f"{base}/api/printer", headers=key)
        assert printer.status_code == 200, printer.text
        assert printer.json()["state"]["flags"]["ready"] is True
        idle = api.client.get(f"{base}/api/job", headers=key).json()
        assert idle["state"] == "Operational" and idle["job"]["file"]["name"] is None
    for path in ("/api/printer", "/api/job", "/octoprint/printer/api/printer"):
        refused = api.client.get(path, headers={"X-Api-Key": "fq_not-a-key"})
        assert refused.status_code == 403
    missing = _get(api, "/octoprint/no-such-printer/api/printer")
    assert missing.status_code == 404


def test_a_printer_out_of_service_is_not_operational(api: Api) -> None:
    stopped = api.client.post("/api/v1/machines/printer/stop", headers=api.headers())
    assert stopped.status_code == 200
    for path in ("/api/printer", "/octoprint/printer/api/printer"):
        answer = _get(api, path)
        assert answer.status_code == 409
        assert answer.json() == {"error": NOT_OPERATIONAL}
    api.client.post("/api/v1/machines/printer/start", headers=api.headers())
    assert _get(api, "/octoprint/printer/api/printer").status_code == 200


def test_the_job_shows_to_its_owner_and_anonymously_to_others(api: Api, tmp_path: Path) -> None:
    authorise(api, "mia", "printer")
    made = submit(api, tiny_gcode(tmp_path, "whistle.gcode"), who="mia", role="member")
    assert made.status_code == 201, made.text
    job_id = made.json()["id"]
    wait_state(api, job_id, "running")
    for who, role, path in (
        ("mia", "member", "/octoprint/printer/api/job"),
        ("mia", "member", "/api/job"),  # any printer: your own job, wherever it runs
        ("staff", "facilitator", "/octoprint/printer/api/job"),
    ):
        answer = _get(api, path, who, role).json()
        assert answer["state"] == "Printing"
        assert answer["job"]["file"]["name"] == "whistle.gcode"
        assert answer["job"]["estimatedPrintTime"] > 0
        assert answer["progress"]["printTime"] is not None
    other = _get(api, "/octoprint/printer/api/job", "noah", "member").json()
    assert other["state"] == "Printing" and other["job"]["file"]["name"] is None
    assert _get(api, "/api/job", "noah", "member").json()["state"] == "Operational"
    busy = _get(api, "/octoprint/printer/api/printer").json()
    assert busy["state"]["flags"]["printing"] is True and busy["state"]["text"] == "Printing"
    api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=api.headers())
