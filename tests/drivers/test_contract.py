"""The driver contract: every registered driver, against its emulator or real peer."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.base import (
    FINAL_PHASES,
    DriverError,
    JobPhase,
    JobRejected,
    MachineState,
    MachineStatus,
)
from drivers.registry import DRIVERS
from fabqueue.clock import RealClock
from tests.support.peers import PEER_MARKS, PEERS
from tests.support.waiting import wait_status

pytestmark = pytest.mark.asyncio

NAMES = [pytest.param(name, marks=PEER_MARKS.get(name, [])) for name in sorted(DRIVERS)]


async def test_every_driver_has_a_peer() -> None:
    assert set(DRIVERS) == set(PEERS), "each driver needs an entry in tests/drivers/peers.py"


@pytest.mark.parametrize("name", NAMES)
async def test_connect_probe_close(name: str, tmp_path: Path) -> None:
    async with PEERS[name](tmp_path) as peer:
        seen: list[MachineStatus] = []
        driver = DRIVERS[name]("m1", peer.config, on_status=seen.append, clock=RealClock())
        await driver.connect()
        status = await wait_status(seen, lambda s: s.state == MachineState.idle)
        assert status.at.tzinfo is not None
        assert (await driver.probe()).state == MachineState.idle
        await driver.close()
        await driver.close()  # idempotent


@pytest.mark.parametrize("name", NAMES)
async def test_runs_a_job_to_the_end(name: str, tmp_path: Path) -> None:
    async with PEERS[name](tmp_path) as peer:
        seen: list[MachineStatus] = []
        driver = DRIVERS[name]("m1", peer.config, on_status=seen.append, clock=RealClock())
        await driver.connect()
        try:
            await wait_status(seen, lambda s: s.state == MachineState.idle)
            ticket = peer.ticket(1)
            await driver.start(ticket)
            caps = driver.capabilities
            if not caps.reports_completion:
                # Only the operator knows when it is done: the job shows as handed over,
                # and release() (operator finished it) makes the machine idle again.
                await wait_status(
                    seen,
                    lambda s: (
                        s.job is not None
                        and s.job.ref == ticket.ref
                        and s.job.phase in (JobPhase.starting, JobPhase.running)
                    ),
                )
                await driver.release()
                assert driver.status.state == MachineState.idle
                return
            final = await wait_status(
                seen, lambda s: s.job is not None and s.job.phase in FINAL_PHASES, within=120
            )
            assert final.job is not None and final.job.ref == ticket.ref
            assert final.job.phase == JobPhase.done
            mine = [s.job.progress for s in seen if s.job and s.job.ref == ticket.ref]
            values = [p for p in mine if p is not None]
            if caps.reports_progress:
                assert values, "a driver that reports progress must report some"
                assert values == sorted(values), "progress never goes back"
                assert values[-1] == pytest.approx(1.0)
        finally:
            await driver.close()


@pytest.mark.parametrize("name", NAMES)
async def test_cancel(name: str, tmp_path: Path) -> None:
    async with PEERS[name](tmp_path) as peer:
        seen: list[MachineStatus] = []
        driver = DRIVERS[name]("m1", peer.config, on_status=seen.append, clock=RealClock())
        await driver.connect()
        try:
            await wait_status(seen, lambda s: s.state == MachineState.idle)
            ticket = peer.ticket(2)
            await driver.start(ticket)
            await driver.cancel()
            final = await wait_status(
                seen, lambda s: s.job is not None and s.job.phase in FINAL_PHASES, within=60
            )
            assert final.job is not None and final.job.phase == JobPhase.cancelled
            await wait_status(seen[seen.index(final) :], lambda s: s.state == MachineState.idle)
        finally:
            await driver.close()


@pytest.mark.parametrize("name", NAMES)
async def test_pause_resume_when_capable(name: str, tmp_path: Path) -> None:
    async with PEERS[name](tmp_path) as peer:
        seen: list[MachineStatus] = []
        driver = DRIVERS[name]("m1", peer.config, on_status=seen.append, clock=RealClock())
        caps = driver.capabilities
        await driver.connect()
        try:
            await wait_status(seen, lambda s: s.state == MachineState.idle)
            await driver.start(peer.ticket(3))
            if not caps.can_pause:
                with pytest.raises(DriverError):
                    await driver.pause()
                await driver.cancel()
                return
            await wait_status(seen, lambda s: s.job is not None and s.job.phase == JobPhase.running)
            await driver.pause()
            await wait_status(seen, lambda s: s.job is not None and s.job.phase == JobPhase.paused)
            await driver.resume()
            n = len(seen)
            await wait_status(
                seen[n - 1 :], lambda s: s.job is not None and s.job.phase == JobPhase.running
            )
            await driver.cancel()
        finally:
            await driver.close()


@pytest.mark.parametrize("name", NAMES)
async def test_refuses_what_it_cannot_make(name: str, tmp_path: Path) -> None:
    async with PEERS[name](tmp_path) as peer:
        driver = DRIVERS[name]("m1", peer.config, on_status=lambda s: None, clock=RealClock())
        await driver.connect()
        try:
            refused = driver.supports(peer.unsupported)
            if refused is None:
                with pytest.raises(JobRejected):
                    await driver.start(peer.unsupported)
        finally:
            await driver.close()


# A real OctoPrint's virtual printer, halted by M112, stays halted for every later test
# on the shared server: its stop is checked against a stand-in server instead
# (tests/drivers/octoprint/test_emergency_stop.py).
STOPPABLE = [p for p in NAMES if p.values[0] != "octoprint"]


@pytest.mark.parametrize("name", STOPPABLE)
async def test_emergency_stop_leaves_no_job_under_way(name: str, tmp_path: Path) -> None:
    async with PEERS[name](tmp_path) as peer:
        seen: list[MachineStatus] = []
        driver = DRIVERS[name]("m1", peer.config, on_status=seen.append, clock=RealClock())
        await driver.connect()
        try:
            await wait_status(seen, lambda s: s.state == MachineState.idle)
            await driver.start(peer.ticket(3))
            said = await driver.emergency_stop()
            assert said.strip(), "the event log needs the driver's word on what it did"
            job = driver.status.job
            assert job is None or job.phase in FINAL_PHASES
            assert driver.status.state != MachineState.busy
        finally:
            await driver.close()
