"""A worker pool that runs tasks in the calling thread.

For tests that swap an analyzer in this process (``monkeypatch`` on
``jobs.registry.ANALYZERS``): a real worker process would not see the swap.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from fabqueue.workers import WorkerLimits, WorkerPool
from jobs.base import AnalysisError

T = TypeVar("T")


class InlineWorkers(WorkerPool):
    def __init__(self) -> None:  # no processes, no threads: nothing to start
        self.size = 1
        self.limits = WorkerLimits()
        self.queue_max = 1
        self.started = 0
        self.prestart = False
        self._slots = []
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def submit(
        self, fn: Callable[..., T], *args: Any, wait: bool = False, owner: str | None = None
    ) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future


# --- tasks for a real pool's workers (module level: they pickle by reference) ---------


def echo(value: T) -> T:
    return value


def pid() -> int:
    return os.getpid()


def burn_cpu() -> None:
    """What a reader caught in an endless computation does."""
    n = 0
    while True:
        n += 1


def hog_memory(mb: int) -> int:
    """What a reader that believes a file's absurd header does."""
    blocks = [bytearray(1024 * 1024) for _ in range(mb)]
    return len(blocks)


def refuse(message: str) -> None:
    raise AnalysisError(message)


def wait_for_file(path: str) -> str:
    """Busy until the test says so (the file appears): no sleeps in the test."""
    while not Path(path).exists():
        time.sleep(0.01)
    return path


def memory_limit() -> tuple[int, int]:
    return resource.getrlimit(resource.RLIMIT_AS)


def huge_answer(mb: int) -> bytes:
    return b"x" * (mb * 1024 * 1024)


def spend_cpu(seconds: float) -> float:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return time.process_time() - start


def spend_cpu_pid(seconds: float) -> int:
    spend_cpu(seconds)
    return os.getpid()


def read_slowly(path: Path, seconds: float) -> int:
    """A reader that takes ``seconds`` of CPU over the file it is given."""
    spend_cpu(seconds)
    return path.stat().st_size
