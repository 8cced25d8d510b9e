"""A serial driver in a process of its own (as the service runs Marlin printers and
HP-GL cutters): the same prints, and a process that dies is a machine that went away."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from drivers.base import DriverUnavailable, JobPhase, MachineState
from drivers.hosted import in_own_process
from drivers.marlin.driver import MarlinSerialDriver
from tests.support.marlin import (
    VASE,
    Watched,
    emulator,
    fast_config,
    file_commands,
    head_of,
    numbered,
    ticket,
)

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]

HostedMarlin = in_own_process(MarlinSerialDriver)


async def test_a_print_runs_in_the_driver_process_and_closing_ends_it(tmp_path: Path) -> None:
    path = head_of(VASE, 300, tmp_path / "vase.gcode")
    with emulator(baud=250000, speed=200.0) as emu:
        w = Watched(fast_config(emu.path, 250000), HostedMarlin)
        assert w.driver.capabilities.can_resume  # known before any process starts
        await w.driver.connect()
        pid = w.driver.pid
        assert pid is not None and pid != os.getpid()
        await w.idle(within=20)
        await w.driver.start(ticket(path))
        final = await w.final(within=120)
        assert final.job is not None and final.job.phase == JobPhase.done
        await w.driver.close()
        sent = [c for c in numbered(emu) if c.split()[0] not in ("M110", "M115", "M155", "M105")]
    assert sent[: len(file_commands(path))] == file_commands(path)
    assert w.driver.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_process_that_dies_loses_the_job_with_its_checkpoint_and_comes_back(
    tmp_path: Path,
) -> None:
    path = head_of(VASE, 1500, tmp_path / "vase.gcode")
    with emulator(baud=250000, speed=50.0) as emu:
        w = Watched(fast_config(emu.path, 250000), HostedMarlin)
        await w.driver.connect()
        try:
            await w.idle(within=20)
            await w.driver.start(ticket(path))
            await w.wait(lambda s: s.job is not None and (s.job.progress or 0) > 0.05, 60)
            first = w.driver.pid
            mark = len(w.seen)
            os.kill(first, signal.SIGKILL)
            lost = await w.wait(lambda s: s.state == MachineState.offline, 20, since=mark)
            assert lost.job is not None and lost.job.phase == JobPhase.lost
            assert lost.job.checkpoint, "the checkpoint is kept, so staff can resume"
            assert "driver process stopped" in (lost.message or "")
            with pytest.raises(DriverUnavailable):
                await w.driver.pause()  # nobody there until the new process is up
            await w.wait(lambda s: s.state == MachineState.idle, 30, since=mark)
            assert w.driver.pid not in (None, first)
        finally:
            await w.driver.close()


async def test_the_driver_process_ends_when_the_server_goes(tmp_path: Path) -> None:
    """A server killed with -9 must not leave a process holding the printer's port."""
    with emulator(baud=250000, speed=200.0) as emu:
        w = Watched(fast_config(emu.path, 250000), HostedMarlin)
        await w.driver.connect()
        await w.idle(within=20)
        pid = w.driver.pid
        w.driver._conn.close()  # what the kernel does to the pipe when the server dies
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the driver process outlived its server")
        await w.driver.close()
