"""Identical reads asked together are made once, but never answered with a read that
began before they were asked."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import anyio.to_thread
import pytest

from fabqueue.coalesce import Coalescer

pytestmark = pytest.mark.asyncio


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Polled: what it waits for is counted by worker threads."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


class Reads:
    """A read that waits to be let go, and counts and numbers what it answers."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.begun = 0
        self.lock = threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            self.begun += 1
            n = self.begun
        assert self.go.wait(5)
        return n


async def test_reads_waiting_for_a_thread_are_made_once() -> None:
    anyio.to_thread.current_default_thread_limiter().total_tokens = 1
    blocker, reads, c = Reads(), Reads(), Coalescer[int]()
    first = asyncio.create_task(c.run("other", blocker))  # holds the only thread
    await until(lambda: blocker.begun == 1)
    asked = [asyncio.create_task(c.run("page", reads)) for _ in range(20)]
    await asyncio.sleep(0.05)
    assert reads.begun == 0  # all twenty wait for the thread
    blocker.go.set()
    reads.go.set()
    answers = await asyncio.gather(*asked)
    assert answers == [1] * 20 and reads.begun == 1
    assert await first == 1
    assert c.reads == 2


async def test_a_read_that_has_begun_is_not_joined() -> None:
    reads, c = Reads(), Coalescer[int]()
    early = asyncio.create_task(c.run("page", reads))
    await until(lambda: reads.begun == 1)  # the first read is under way
    late = asyncio.create_task(c.run("page", reads))
    await until(lambda: reads.begun == 2)  # so the later ask reads afresh
    reads.go.set()
    assert (await early, await late) == (1, 2)


async def test_different_questions_are_not_mixed() -> None:
    c = Coalescer[str]()
    answers = await asyncio.gather(*(c.run(k, lambda k=k: f"page {k}") for k in "abc"))
    assert answers == ["page a", "page b", "page c"]


async def test_an_error_reaches_everyone_who_asked_and_the_next_read_starts_afresh() -> None:
    anyio.to_thread.current_default_thread_limiter().total_tokens = 1
    blocker, c = Reads(), Coalescer[int]()
    first = asyncio.create_task(c.run("other", blocker))
    await until(lambda: blocker.begun == 1)

    def broken() -> int:
        raise LookupError("no such page")

    asked = [asyncio.create_task(c.run("page", broken)) for _ in range(3)]
    await asyncio.sleep(0.02)
    blocker.go.set()
    results = await asyncio.gather(*asked, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    assert await c.run("page", lambda: 7) == 7
    await first


async def test_one_caller_going_away_leaves_the_others_their_answer() -> None:
    reads, c = Reads(), Coalescer[int]()
    anyio.to_thread.current_default_thread_limiter().total_tokens = 1
    blocker = Reads()
    first = asyncio.create_task(c.run("other", blocker))
    await until(lambda: blocker.begun == 1)
    leaving = asyncio.create_task(c.run("page", reads))
    staying = asyncio.create_task(c.run("page", reads))
    await asyncio.sleep(0.02)
    leaving.cancel()
    blocker.go.set()
    reads.go.set()
    assert await staying == 1
    with pytest.raises(asyncio.CancelledError):
        await leaving
    await first
