"""Time as a dependency: the service uses a real clock, tests and the simulator a fake one."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

from drivers.base import Clock

__all__ = ["Clock", "FakeClock", "RealClock", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RealClock:
    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to: ``await clock.advance(3600)``.

    Sleepers wake in deadline order, each given a chance to run before time moves on,
    so a simulated hour of progress reports happens in order and instantly.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._seq), fut))
        await fut

    async def _settle(self) -> None:
        """Let every runnable task run until it sleeps on this clock (or finishes)."""
        for _ in range(10):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self._elapsed + seconds
        await self._settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._elapsed = max(self._elapsed, deadline)
            if not fut.done():
                fut.set_result(None)
            # Let the woken task run (and perhaps sleep again) before moving on.
            await self._settle()
        self._elapsed = target
        await self._settle()
