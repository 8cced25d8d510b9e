"""Talking to the app under test the way a client would: submit, read, wait, confirm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.factories import write_profiles
from tests.support.waiting import wait_for


def submit(api: Api, path: Path, who: str = "staff", role: str = "facilitator", **data: str):
    with path.open("rb") as fh:
        return api.client.post(
            "/api/v1/jobs",
            headers=api.headers(who, role),
            data=data,
            files={"file": (path.name, fh)},
        )


def job(api: Api, job_id: int) -> dict[str, Any]:
    return api.client.get(f"/api/v1/jobs/{job_id}", headers=api.headers()).json()


def states(api: Api, job_id: int) -> list[str]:
    events = api.client.get(f"/api/v1/jobs/{job_id}/events", headers=api.headers()).json()
    return [e["to_state"] for e in events]


def wait_state(api: Api, job_id: int, state: str, timeout: float = 10.0) -> dict[str, Any]:
    try:
        return wait_for(lambda: (j := job(api, job_id))["state"] == state and j, timeout)
    except AssertionError:
        raise AssertionError(f"job {job_id} never {state}; events: {states(api, job_id)}") from None


def machine(api: Api, slug: str = "printer") -> dict[str, Any]:
    return api.client.get(f"/api/v1/machines/{slug}", headers=api.headers()).json()


def confirm(api: Api, outcome: str | None, slug: str = "printer") -> Any:
    return api.client.post(
        f"/api/v1/machines/{slug}/confirm", headers=api.headers(), json={"outcome": outcome}
    )


def with_profiles(settings: Settings, tmp_path: Path, machines: dict[str, str]) -> Settings:
    root = write_profiles(tmp_path / "custom-profiles", machines)
    return settings.model_copy(update={"profiles_dir": root})
