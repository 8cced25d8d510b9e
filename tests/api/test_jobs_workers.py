"""Uploads through the worker pool: hostile files refused with their reason, a busy
pool says so (503), previews made in the pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabqueue.settings import Settings
from fabqueue.workers import WorkerLimits, WorkerPool
from tests.conftest import Api
from tests.support import workers as tasks
from tests.support.api import submit
from tests.support.factories import tiny_gcode, write_profiles
from tests.support.hostile import EXP_REFUSALS, SIM_EMBROIDERY, arc_bomb, zero_file
from tests.support.waiting import wait_for


@pytest.fixture
def tight_api(make_api: Any, settings: Settings) -> Api:
    """One worker with a one-second CPU allowance and 512 MB."""
    return make_api(  # type: ignore[no-any-return]
        settings.model_copy(
            update={
                "start_dispatcher": False,
                "workers": 1,
                "worker_cpu_s": 1,
                "worker_memory_mb": 512,
            }
        )
    )


def _count(api: Api) -> int:
    return int(api.client.get("/api/v1/jobs", headers=api.headers()).json()["count"])


def test_an_arc_bomb_is_refused_and_the_next_file_goes_through(
    tight_api: Api, tmp_path: Path
) -> None:
    # Two guards stand in its way: the G-code reader's per-file arc budget (it refuses
    # first, naming the line) and the worker's CPU limit behind it (tests/workers).
    r = submit(tight_api, arc_bomb(tmp_path / "arcs.gcode"), machine="printer")
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "arcs (G2/G3) need more than" in detail or "more than 1 s of CPU" in detail, detail
    assert _count(tight_api) == 0
    ok = submit(tight_api, tiny_gcode(tmp_path), machine="printer")
    assert ok.status_code == 201, ok.text


def test_a_file_of_zeros_is_refused_and_the_server_keeps_its_memory(
    make_api: Any, settings: Settings, tmp_path: Path
) -> None:
    profiles = write_profiles(tmp_path / "emb", {"brodeuse": SIM_EMBROIDERY})
    api = make_api(
        settings.model_copy(
            update={
                "profiles_dir": profiles,
                "start_dispatcher": False,
                "workers": 1,
                "worker_memory_mb": 512,
            }
        )
    )
    before = _rss_mb()
    r = submit(api, zero_file(tmp_path / "zeros.exp"), machine="brodeuse")
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(refusal in detail for refusal in EXP_REFUSALS), detail
    if "too large to read safely" in detail:
        assert "(needed more than 512 MB)" in detail  # the pool's bound, not the reader's
    assert _rss_mb() - before < 100
    assert _count(api) == 0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def small_pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(1, WorkerLimits(cpu_s=5, memory_mb=512), queue_max=1)
    yield pool
    pool.close()


def test_a_full_pool_answers_503_and_keeps_nothing(
    make_api: Any, settings: Settings, small_pool: WorkerPool, tmp_path: Path
) -> None:
    api = make_api(settings.model_copy(update={"start_dispatcher": False}), workers=small_pool)
    go = tmp_path / "go"
    running = small_pool.submit(tasks.wait_for_file, str(go))
    wait_for(running.running, what="the worker to be taken")
    waiting = small_pool.submit(tasks.echo, "queued")
    r = submit(api, tiny_gcode(tmp_path), machine="printer")
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "30"
    assert "busy" in r.json()["detail"]
    assert _count(api) == 0
    go.touch()
    assert waiting.result(timeout=30) == "queued"
    assert submit(api, tiny_gcode(tmp_path), machine="printer").status_code == 201


def test_the_preview_is_made_by_a_worker(
    make_api: Any, settings: Settings, small_pool: WorkerPool, tmp_path: Path
) -> None:
    api = make_api(settings.model_copy(update={"start_dispatcher": False}), workers=small_pool)
    job = submit(api, tiny_gcode(tmp_path), machine="printer").json()
    started = small_pool.started
    r = api.client.get(f"/api/v1/jobs/{job['id']}/preview", headers=api.headers())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/")
    assert small_pool.started == started == 1  # the same warm worker analysed and drew
