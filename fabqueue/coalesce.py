"""Identical reads asked at the same moment are made once.

Fifty tablets and scripts polling the job list ask the same question many times a
second; each answer costs a query, row conversion and JSON. A read asked while an
identical one is *waiting for a thread* joins it; a read that has begun is never
joined, so every answer comes from a read that began after it was asked — exactly
what the caller would have got alone, never an older answer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import anyio.to_thread

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[Hashable, asyncio.Future[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.reads = 0
        """Reads actually made (tests and benchmarks compare it with the requests)."""

    async def run(self, key: Hashable, read: Callable[[], T]) -> T:
        """``read()`` in a worker thread, or the result of an identical read (same
        ``key``) that is still waiting for its thread."""
        with self._lock:
            answer = self._waiting.get(key)
            if answer is None:
                answer = asyncio.get_running_loop().create_future()
                self._waiting[key] = answer
                # A task of its own: the caller who started the read may go away
                # (a closed connection) without taking the others' answer with it.
                task = asyncio.create_task(self._read(key, read, answer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(answer)

    async def _read(self, key: Hashable, read: Callable[[], T], answer: asyncio.Future[T]) -> None:
        def begin_then_read() -> T:
            self._begin(key, answer)
            return read()

        try:
            result = await anyio.to_thread.run_sync(begin_then_read)
        except Exception as exc:
            self._begin(key, answer)
            answer.set_exception(exc)
            answer.exception()  # retrieved: with nobody waiting, no warning either
        except BaseException:  # the service is stopping
            self._begin(key, answer)
            answer.cancel()
            raise
        else:
            answer.set_result(result)

    def _begin(self, key: Hashable, answer: asyncio.Future[T]) -> None:
        """From now on an identical read starts afresh."""
        with self._lock:
            if self._waiting.get(key) is answer:
                del self._waiting[key]
                self.reads += 1
