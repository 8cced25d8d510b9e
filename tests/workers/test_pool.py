"""The worker pool with real worker processes: limits, replacement, the bounded queue."""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabqueue.workers import PoolBusy, WorkerLimits, WorkerPool, WorkFailed
from jobs.base import AnalysisError
from tests.support import workers as tasks
from tests.support.waiting import wait_for


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    p = WorkerPool(1, WorkerLimits(cpu_s=1, memory_mb=512, wall_s=20), queue_max=1)
    yield p
    p.close()


def test_a_task_runs_in_another_process_and_the_worker_stays_warm(pool: WorkerPool) -> None:
    first = pool.run(tasks.pid)
    assert first != os.getpid()
    assert pool.run(tasks.pid) == first
    assert pool.run(tasks.echo, {"a": [1, 2]}) == {"a": [1, 2]}
    assert pool.started == 1


def test_the_cpu_limit_ends_the_task_with_its_reason_and_the_worker_is_replaced(
    pool: WorkerPool,
) -> None:
    before = pool.run(tasks.pid)
    with pytest.raises(WorkFailed) as caught:
        pool.run(tasks.burn_cpu)
    assert caught.value.kind == "cpu"
    assert str(caught.value) == "took more than 1 s of CPU"
    after = pool.run(tasks.pid)
    assert after != before
    assert pool.started == 2


def test_the_cpu_limit_is_per_task_not_per_worker_life() -> None:
    # Each task gets its own allowance: three tasks of 0.6 s CPU fit a 1 s limit.
    p = WorkerPool(1, WorkerLimits(cpu_s=1, memory_mb=512))
    try:
        for _ in range(3):
            p.run(tasks.spend_cpu, 0.6)
        assert p.started == 1
    finally:
        p.close()


def test_a_task_given_a_large_file_gets_more_cpu_in_proportion(tmp_path: Path) -> None:
    """A big honest file (a 50 MB G-code) is not refused for taking longer to read than a
    small one; the same work with no file is stopped at the base allowance."""
    limits = WorkerLimits(cpu_s=1, cpu_s_per_mb=1.0, memory_mb=512, wall_s=20)
    big = tmp_path / "big.gcode"
    big.write_bytes(b";" * (2 * 1024 * 1024))
    assert limits.cpu_for(big.stat().st_size) == 3
    assert limits.wall_for(3) == 40.0
    p = WorkerPool(1, limits)
    try:
        assert p.run(tasks.read_slowly, big, 1.8) == 2 * 1024 * 1024
        with pytest.raises(WorkFailed) as caught:
            p.run(tasks.spend_cpu, 5.0)
        assert str(caught.value) == "took more than 1 s of CPU"
        with pytest.raises(WorkFailed) as caught:
            p.run(tasks.read_slowly, big, 10.0)
        assert str(caught.value) == "took more than 3 s of CPU"
    finally:
        p.close()


def test_the_memory_limit_refuses_the_task_and_the_next_one_runs(pool: WorkerPool) -> None:
    with pytest.raises(WorkFailed) as caught:
        pool.run(tasks.hog_memory, 2048)
    assert caught.value.kind == "memory"
    assert "more than 512 MB" in str(caught.value)
    assert pool.run(tasks.echo, 7) == 7


def test_the_readers_own_refusal_comes_back_as_it_was_raised(pool: WorkerPool) -> None:
    with pytest.raises(AnalysisError, match="not a G-code file"):
        pool.run(tasks.refuse, "not a G-code file")
    assert pool.run(tasks.echo, "still here") == "still here"


def test_an_answer_too_large_for_the_server_is_refused_unread(pool: WorkerPool) -> None:
    with pytest.raises(WorkFailed) as caught:
        pool.run(tasks.huge_answer, 80)
    assert caught.value.kind == "answer"
    assert pool.run(tasks.echo, 1) == 1


def test_a_full_queue_says_busy_and_keeps_what_it_holds(pool: WorkerPool, tmp_path: Path) -> None:
    go = tmp_path / "go"
    running = pool.submit(tasks.wait_for_file, str(go))
    wait_for(running.running, what="the first task to start")
    waiting = pool.submit(tasks.echo, "second")
    with pytest.raises(PoolBusy, match="busy"):
        pool.submit(tasks.echo, "third")
    go.touch()
    assert running.result(timeout=30) == str(go)
    assert waiting.result(timeout=30) == "second"


def test_a_task_asleep_past_the_wall_clock_limit_is_ended(tmp_path: Path) -> None:
    p = WorkerPool(1, WorkerLimits(cpu_s=5, memory_mb=512, wall_s=0.5))
    try:
        with pytest.raises(WorkFailed) as caught:
            p.run(tasks.wait_for_file, str(tmp_path / "never"))
        assert caught.value.kind == "time"
        assert p.run(tasks.echo, "next") == "next"
    finally:
        p.close()


def test_tasks_awaited_on_an_event_loop_run_on_every_worker() -> None:
    p = WorkerPool(2, WorkerLimits(cpu_s=5, memory_mb=512), queue_max=8)

    async def many() -> list[int]:
        return list(await asyncio.gather(*(p.arun(tasks.spend_cpu_pid, 0.2) for _ in range(6))))

    try:
        pids = asyncio.run(many())
    finally:
        p.close()
    assert len(pids) == 6 and len(set(pids)) == 2


def test_the_server_process_keeps_no_limit() -> None:
    # The limits are the workers' alone: the server must not inherit them.
    p = WorkerPool(1, WorkerLimits(cpu_s=1, memory_mb=512))
    try:
        p.run(tasks.echo, 0)
    finally:
        p.close()
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY
    assert resource.getrlimit(resource.RLIMIT_CPU)[0] == resource.RLIM_INFINITY


def test_a_lane_runs_long_tasks_without_holding_the_pool(tmp_path: Path) -> None:
    main = WorkerPool(1, WorkerLimits(cpu_s=5, memory_mb=512, wall_s=30), queue_max=2)
    main.lanes["models"] = WorkerPool(1, WorkerLimits(cpu_s=5, memory_mb=512, wall_s=30))
    gate = tmp_path / "go"
    try:
        assert main.lane("other") is main
        lane = main.lane("models")
        slow = lane.submit(tasks.wait_for_file, str(gate))  # a model half a minute long
        # The ordinary worker still reads everyone else's files meanwhile.
        assert main.run(tasks.echo, "next") == "next"
        assert not slow.done()
        gate.write_text("done")
        assert slow.result(timeout=20) == str(gate)
        assert main.run(tasks.pid) != lane.run(tasks.pid)
    finally:
        main.close()
    with pytest.raises(WorkFailed):  # closing the pool closes its lanes
        main.lanes["models"].run(tasks.pid)


def test_the_memory_limit_is_soft_so_a_slicer_a_worker_starts_can_be_given_more() -> None:
    # PrusaSlicer needs up to 3 GB; a worker reading files gets 512 MB. Without root a
    # process cannot raise a hard limit, so the worker's must stay open for its child.
    p = WorkerPool(1, WorkerLimits(cpu_s=2, memory_mb=512))
    try:
        soft, hard = p.run(tasks.memory_limit)
    finally:
        p.close()
    assert soft == 512 * 1024 * 1024
    assert hard == resource.RLIM_INFINITY


def test_one_owners_files_never_hold_every_worker(tmp_path: Path) -> None:
    p = WorkerPool(2, WorkerLimits(cpu_s=5, memory_mb=512), queue_max=8)
    release = tmp_path / "release"
    try:
        eve = [p.submit(tasks.wait_for_file, str(release), owner="user:1") for _ in range(4)]
        wait_for(lambda: eve[0].running(), what="eve's first file in a worker")
        # Eve's files would take both workers in arrival order; Marie's comes after.
        marie = p.submit(tasks.pid, owner="user:2")
        assert marie.result(timeout=60) in p.worker_pids()
        assert not any(f.done() for f in eve)
        assert p._queue.running("user:1") == 1
        release.touch()
        assert [f.result(timeout=60) for f in eve] == [str(release)] * 4
    finally:
        p.close()
