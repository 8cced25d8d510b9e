"""A worker pool that runs tasks in the calling thread.

For tests that swap an analyzer in this process (``monkeypatch`` on
``jobs.registry.ANALYZERS``): a real worker process would not see the swap.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from fabqueue.workers import WorkerLimits, WorkerPool

T = TypeVar("T")


class InlineWorkers(WorkerPool):
    def __init__(self) -> None:  # no processes, no threads: nothing to start
        self.size = 1
        self.limits = WorkerLimits()
        self.queue_max = 1
        self.started = 0
        self._slots = []
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def submit(self, fn: Callable[..., T], *args: Any, wait: bool = False) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future
