"""The OctoPrint driver's pause wish, against a scripted client (no network): OctoPrint
can drop a pause (one landing while a print is "Starting"), and the driver must ask
again until the flags show it, without fighting a pause made at OctoPrint itself."""

from __future__ import annotations

from typing import Any

import pytest

from drivers.octoprint.driver import OctoPrintConfig, OctoPrintDriver, _Tracked
from fabqueue.clock import FakeClock

pytestmark = pytest.mark.asyncio

PRINTING = {"printing": True}
PAUSING = {"printing": True, "pausing": True}
PAUSED = {"paused": True}
RESUMING = {"paused": True, "resuming": True}


class ScriptedClient:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def driver_with_job(clock: FakeClock, wish: bool | None) -> tuple[OctoPrintDriver, _Tracked]:
    config = OctoPrintConfig(url="http://127.0.0.1:9", api_key_env="UNUSED_KEY")
    driver = OctoPrintDriver("m1", config, on_status=lambda s: None, clock=clock)
    tracked = _Tracked("fq-1-1", "fabqueue/fq-1-1.gcode", 0, 0, 0.0)
    tracked.seen_printing = True
    tracked.pause_wanted = wish
    driver._tracked = tracked
    return driver, tracked


async def run(
    wish: bool | None, polls: list[tuple[float, dict[str, bool]]]
) -> tuple[list[str], _Tracked]:
    """Polls at the given times (s after the command) with the given flags."""
    clock = FakeClock()
    driver, tracked = driver_with_job(clock, wish)
    client: Any = ScriptedClient()
    for at, flags in polls:
        await clock.advance(at - clock.monotonic())
        await driver._insist_on_pause(client, tracked, flags)
        if tracked.pause_wanted is None:
            break
    return client.calls, tracked


@pytest.mark.parametrize(
    ("wish", "polls", "calls", "settled"),
    [
        # the pause took: nothing more to ask
        (True, [(0.2, PAUSING), (0.4, PAUSED)], [], True),
        # dropped while starting: printing again after the command, asked again once
        (
            True,
            [(0.2, PRINTING), (1.0, PRINTING), (2.2, PRINTING), (2.4, PAUSING)],
            ["pause"],
            False,
        ),
        # and once more if it is dropped again, never more often than every 2 s
        (
            True,
            [(2.0, PRINTING), (3.0, PRINTING), (4.1, PRINTING), (4.3, PAUSED)],
            ["pause", "pause"],
            True,
        ),
        # resume dropped: asked again; a resume that took ends the wish
        (False, [(2.5, PAUSED), (2.7, RESUMING), (2.9, PRINTING)], ["resume"], True),
    ],
    ids=["took", "dropped-once", "dropped-twice", "resume-dropped"],
)
async def test_a_dropped_pause_or_resume_is_asked_again(
    wish: bool, polls: list, calls: list[str], settled: bool
) -> None:
    got, tracked = await run(wish, polls)
    assert got == calls
    assert (tracked.pause_wanted is None) is settled


async def test_a_pause_made_at_octoprint_is_left_alone() -> None:
    """No wish of ours: someone paused at OctoPrint's own screen, and it stays paused."""
    got, _ = await run(None, [(3.0, PAUSED), (6.0, PAUSED)])
    assert got == []


async def test_once_done_a_later_resume_at_octoprint_is_not_fought() -> None:
    clock = FakeClock()
    driver, tracked = driver_with_job(clock, True)
    client: Any = ScriptedClient()
    await clock.advance(0.5)
    await driver._insist_on_pause(client, tracked, PAUSED)
    assert tracked.pause_wanted is None
    await clock.advance(5.0)
    await driver._insist_on_pause(client, tracked, PRINTING)  # resumed at OctoPrint
    assert client.calls == []
