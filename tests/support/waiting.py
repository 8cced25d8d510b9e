from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from drivers.base import MachineStatus

T = TypeVar("T")


def wait_for(
    fn: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``fn`` until it returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    last: T = fn()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or fn}: last value {last!r}")
        time.sleep(interval)
        last = fn()
    return last


def looked_again(runner: Any, timeout: float = 10.0) -> None:
    """Wait until a machine's runner has looked at the queue once more, from start to
    end, after this call: whatever it was free to claim, it has claimed by then. Tests
    of a gate ("this job must not start") wait on this rather than sleep."""
    seen = runner.looks
    # The look under way now may have begun before the caller's change: wait for the next.
    wait_for(lambda: runner.looks >= seen + 2, timeout, what=f"{runner.slug}'s runner to look")


async def wait_status(
    seen: list[MachineStatus], pred: Callable[[MachineStatus], bool], within: float = 30.0
) -> MachineStatus:
    """The first status a driver pushed (into ``seen``) that satisfies ``pred``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        for status in seen:
            if pred(status):
                return status
        if asyncio.get_running_loop().time() > deadline:
            last = seen[-1] if seen else None
            raise AssertionError(f"no matching status; last: {last}")
        await asyncio.sleep(0.02)
