"""How to set up each registered driver against its peer, for the contract suite.

Every driver in ``drivers.registry.DRIVERS`` must have an entry here: an async context
manager that yields a :class:`Peer` (the driver's config, plus a ticket for a job that
runs for a few seconds on that peer). The suite fails for a driver with no entry, so no
driver escapes the contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from drivers.base import DriverConfig, JobTicket
from drivers.emulators.marlin import MarlinEmulator, MarlinOptions
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


PEERS: dict[str, Callable[[Path], AbstractAsyncContextManager[Peer]]] = {
    "sim": sim_peer,
    "marlin_serial": marlin_peer,
}
