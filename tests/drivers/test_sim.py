"""The simulated machine on a fake clock: exact, instant, deterministic."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drivers.base import (
    DriverUnavailable,
    JobPhase,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
)
from drivers.sim import SimConfig, SimDriver
from fabqueue.clock import FakeClock

pytestmark = pytest.mark.asyncio


def ticket(tmp_path: Path, seconds: float = 600, resume: dict | None = None) -> JobTicket:
    return JobTicket(
        job_id=1,
        ref="fq-1-1",
        file_path=tmp_path / "x.gcode",
        file_name="x.gcode",
        file_type="gcode",
        estimated_duration_s=seconds,
        resume_from=resume,
    )


async def make(config: SimConfig) -> tuple[SimDriver, FakeClock, list[MachineStatus]]:
    clock = FakeClock()
    seen: list[MachineStatus] = []
    driver = SimDriver("sim1", config, on_status=seen.append, clock=clock)
    await driver.connect()
    return driver, clock, seen


async def test_progress_follows_the_clock(tmp_path: Path) -> None:
    # 600 s of work at speed 10 = 60 clock seconds, reported every 6 s.
    driver, clock, seen = await make(SimConfig(speed=10, tick_s=6))
    await driver.start(ticket(tmp_path))
    await clock.advance(30)
    assert driver.status.job.progress == pytest.approx(0.5)
    assert driver.status.job.eta_s == pytest.approx(300)  # in job seconds
    await clock.advance(30)
    assert driver.status.job.phase == JobPhase.done
    assert driver.status.state == MachineState.idle
    progress = [s.job.progress for s in seen if s.job]
    assert progress == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0])
    assert all(s.at.tzinfo is not None for s in seen)
    await driver.close()


async def test_pause_stops_time(tmp_path: Path) -> None:
    driver, clock, _ = await make(SimConfig(speed=10, tick_s=6))
    await driver.start(ticket(tmp_path))
    await clock.advance(12)
    await driver.pause()
    await clock.advance(1000)
    assert driver.status.job.phase == JobPhase.paused
    assert driver.status.job.progress == pytest.approx(0.2)
    await driver.resume()
    await clock.advance(48)
    assert driver.status.job.phase == JobPhase.done
    await driver.close()


async def test_faults_happen_where_asked(tmp_path: Path) -> None:
    driver, clock, _ = await make(SimConfig(speed=10, tick_s=7, fail_at=0.25))
    await driver.start(ticket(tmp_path))
    await clock.advance(60)
    assert driver.status.job.phase == JobPhase.failed
    assert driver.status.job.progress == pytest.approx(0.25)
    await driver.close()

    driver, clock, _ = await make(
        SimConfig(speed=10, tick_s=7, go_offline_at=0.5, offline_for_s=20)
    )
    await driver.start(ticket(tmp_path))
    await clock.advance(30)
    assert driver.status.state == MachineState.offline
    assert driver.status.job.phase == JobPhase.lost
    assert driver.status.job.checkpoint == {"progress": 0.5}
    with pytest.raises(DriverUnavailable):
        await driver.start(ticket(tmp_path))
    await clock.advance(20)
    assert driver.status.state == MachineState.idle
    # Resumed past its fault point, the job finishes.
    await driver.start(ticket(tmp_path, resume={"progress": 0.5}))
    await clock.advance(30)
    assert driver.status.job.phase == JobPhase.done
    await driver.close()


async def test_refusals(tmp_path: Path) -> None:
    driver, _clock, _ = await make(SimConfig(reject_file_types=["gcode"]))
    with pytest.raises(JobRejected):
        await driver.start(ticket(tmp_path))
    driver, _clock, _ = await make(SimConfig(offline=True))
    assert (await driver.probe()).state == MachineState.offline
    with pytest.raises(DriverUnavailable):
        await driver.start(ticket(tmp_path))
    driver, _clock, _ = await make(SimConfig())
    await driver.start(ticket(tmp_path))
    with pytest.raises(DriverUnavailable):
        await driver.start(ticket(tmp_path))
    await driver.cancel()
    assert driver.status.job.phase == JobPhase.cancelled
    await asyncio.sleep(0)
    await driver.close()


async def test_emergency_stop_stops_at_once(tmp_path: Path) -> None:
    driver, clock, _seen = await make(SimConfig(speed=10, tick_s=6))
    await driver.start(ticket(tmp_path))
    await clock.advance(12)
    said = await driver.emergency_stop()
    assert said == "the simulated machine stopped at once"
    assert driver.status.job is None
    assert (driver.status.state, driver.status.message) == (MachineState.idle, "emergency stop")
    await clock.advance(120)  # the rest of the job never runs
    assert driver.status.job is None
    await driver.close()
