"""The job list: pages newest first by keyset, a next link, no analyses; the CLI
follows the pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fabqueue.cli.client import _all_pages
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.api import submit
from tests.support.factories import tiny_gcode


@pytest.fixture
def seven(make_api: Any, settings: Settings, tmp_path: Path) -> tuple[Api, list[int]]:
    api = make_api(settings.model_copy(update={"start_dispatcher": False}))
    ids = []
    for i in range(7):
        hold = "true" if i % 2 else "false"
        r = submit(api, tiny_gcode(tmp_path, f"p{i}.gcode"), machine="printer", hold=hold)
        ids.append(r.json()["id"])
    return api, ids


def test_pages_follow_next_until_null_newest_first(seven: tuple[Api, list[int]]) -> None:
    api, ids = seven
    url: str | None = "/api/v1/jobs?limit=3"
    seen: list[int] = []
    pages = 0
    while url is not None:
        page = api.client.get(url, headers=api.headers()).json()
        assert page["count"] == 7
        seen += [j["id"] for j in page["data"]]
        url = page["next"]
        pages += 1
    assert seen == sorted(ids, reverse=True)
    assert pages == 3


def test_the_list_leaves_the_analysis_to_the_jobs_own_page(seven: tuple[Api, list[int]]) -> None:
    api, ids = seven
    page = api.client.get("/api/v1/jobs", headers=api.headers()).json()
    assert page["next"] is None and len(page["data"]) == 7
    assert "analysis" not in page["data"][0] and "checkpoint" not in page["data"][0]
    one = api.client.get(f"/api/v1/jobs/{ids[0]}", headers=api.headers()).json()
    assert one["analysis"]["duration_s"] > 0


def test_filters_are_kept_in_the_next_link(seven: tuple[Api, list[int]]) -> None:
    api, ids = seven
    held = sorted(ids[1::2], reverse=True)
    first = api.client.get(
        "/api/v1/jobs", params={"state": "held", "limit": 2}, headers=api.headers()
    ).json()
    assert first["count"] == 3 and [j["id"] for j in first["data"]] == held[:2]
    assert "state=held" in first["next"] and f"before={held[1]}" in first["next"]
    rest = api.client.get(first["next"], headers=api.headers()).json()
    assert [j["id"] for j in rest["data"]] == held[2:]
    assert rest["next"] is None


def test_page_size_is_bounded(seven: tuple[Api, list[int]]) -> None:
    api, _ = seven
    r = api.client.get("/api/v1/jobs", params={"limit": 201}, headers=api.headers())
    assert r.status_code == 422


def test_the_pagination_is_in_the_openapi(seven: tuple[Api, list[int]]) -> None:
    api, _ = seven
    spec = api.client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/jobs"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"limit", "before"} <= names
    assert "next" in spec["components"]["schemas"]["JobPage"]["properties"]


def test_the_cli_follows_every_page(seven: tuple[Api, list[int]]) -> None:
    api, ids = seven
    # Not entered: the app is running already (a second lifespan would start).
    client = TestClient(api.client.app, base_url="http://testserver/api/v1", headers=api.headers())
    everything = _all_pages(client, {"limit": 2}, None)
    some = _all_pages(client, {"limit": 2}, 5)
    assert [j["id"] for j in everything["data"]] == sorted(ids, reverse=True)
    assert everything["count"] == 7
    assert len(some["data"]) == 5
