"""How to set up each registered driver against its peer, for the contract suite.

Every driver in ``drivers.registry.DRIVERS`` must have an entry here: an async context
manager that yields a :class:`Peer` (the driver's config, plus a ticket for a job that
runs for a few seconds on that peer). The suite fails for a driver with no entry, so no
driver escapes the contract.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.base import DriverConfig, JobTicket
from drivers.emulators.marlin import MarlinEmulator, MarlinOptions
from drivers.octoprint import OctoPrintConfig
from drivers.sim import SimConfig


@dataclass
class Peer:
    config: DriverConfig
    ticket: Callable[[int], JobTicket]
    """A ticket for a job that runs a few seconds on this peer (argument: job id)."""
    unsupported: JobTicket
    """A ticket this driver must refuse (a file type it does not take)."""


@asynccontextmanager
async def sim_peer(tmp: Path) -> AsyncIterator[Peer]:
    path = tmp / "part.gcode"
    path.write_text("G1 X10 Y10\n")

    def ticket(job_id: int) -> JobTicket:
        return JobTicket(
            job_id=job_id,
            ref=f"fq-{job_id}-1",
            file_path=path,
            file_name="part.gcode",
            file_type="gcode",
            estimated_duration_s=3.0,
        )

    yield Peer(
        config=SimConfig(speed=1.0, tick_s=0.1, reject_file_types=["pes"]),
        ticket=ticket,
        unsupported=JobTicket(
            job_id=99, ref="fq-99-1", file_path=path, file_name="x.pes", file_type="pes"
        ),
    )


@asynccontextmanager
async def marlin_peer(tmp: Path) -> AsyncIterator[Peer]:
    """Our Marlin emulator on a real pty, at 250000 baud, clock twice real time: the job
    is 50 moves of 10 mm at 100 mm/s (about 2.5 s)."""
    from tests.drivers.marlin_helpers import fast_config

    path = tmp / "moves.gcode"
    moves = [f"G1 X{10 * (i % 2 + 1)} Y{i} F6000" for i in range(50)]
    path.write_text("G21\nG90\nM83\n" + "\n".join(moves) + "\n")
    emu = MarlinEmulator(MarlinOptions(baud=250000, speed=2.0))
    emu.start()
    try:

        def ticket(job_id: int) -> JobTicket:
            return JobTicket(
                job_id=job_id,
                ref=f"fq-{job_id}-1",
                file_path=path,
                file_name="moves.gcode",
                file_type="gcode",
            )

        yield Peer(
            config=fast_config(emu.path, 250000),
            ticket=ticket,
            unsupported=JobTicket(
                job_id=99, ref="fq-99-1", file_path=path, file_name="x.pes", file_type="pes"
            ),
        )
    finally:
        emu.stop()


OCTOPRINT_KEY_ENV = "FABQUEUE_TEST_OCTOPRINT_KEY"


@asynccontextmanager
async def octoprint_peer(tmp: Path) -> AsyncIterator[Peer]:
    """A real OctoPrint 1.11.8 (shared by the session) with its Virtual Printer: the job
    is 25 dwells of 0.1 s (OctoPrint's virtual printer does not speed up G4)."""
    from tests.support import octoprint

    server = await asyncio.to_thread(octoprint.shared)
    await asyncio.to_thread(octoprint.reset, server)
    path = tmp / "dwell.gcode"
    path.write_text("G28\n" + "G4 P100\n" * 25 + "G1 X10 F3000\n")
    saved = os.environ.get(OCTOPRINT_KEY_ENV)
    os.environ[OCTOPRINT_KEY_ENV] = server.api_key

    def ticket(job_id: int) -> JobTicket:
        return JobTicket(
            job_id=job_id,
            ref=f"fq-{job_id}-1",
            file_path=path,
            file_name="dwell.gcode",
            file_type="gcode",
        )

    try:
        yield Peer(
            config=OctoPrintConfig(
                url=server.url,
                api_key_env=OCTOPRINT_KEY_ENV,
                port="VIRTUAL",
                baudrate=115200,
                poll_s=0.2,
                reconnect_s=1.0,
            ),
            ticket=ticket,
            unsupported=JobTicket(
                job_id=99, ref="fq-99-1", file_path=path, file_name="x.pes", file_type="pes"
            ),
        )
    finally:
        if saved is None:
            os.environ.pop(OCTOPRINT_KEY_ENV, None)
        else:
            os.environ[OCTOPRINT_KEY_ENV] = saved
        await asyncio.to_thread(octoprint.reset, server)


PEERS: dict[str, Callable[[Path], AbstractAsyncContextManager[Peer]]] = {
    "sim": sim_peer,
    "marlin_serial": marlin_peer,
    "octoprint": octoprint_peer,
}

PEER_MARKS: dict[str, list[pytest.MarkDecorator]] = {
    "octoprint": [pytest.mark.octoprint, pytest.mark.slow],
}
"""Marks for the contract tests of peers that are real servers (run them alone with -m)."""
