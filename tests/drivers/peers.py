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
from drivers.embroidery_folder import FolderConfig
from drivers.emulators.hpgl_cutter import CutterSettings, HpglCutterEmulator
from drivers.hpgl_serial import HpglSerialConfig
from drivers.sim import SimConfig
from jobs.params.embroidery import EmbroideryParams, Hoop
from jobs.registry import convert
from tests.support.factories import CORPUS


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
async def embroidery_folder_peer(tmp: Path) -> AsyncIterator[Peer]:
    """A USB stick as a folder, and a real file made for a Janome by the converter."""
    stick = tmp / "stick"
    stick.mkdir()
    params = EmbroideryParams(
        native_format="jef", hoops=[Hoop(name="SQ14", width_mm=140, height_mm=140)]
    )
    source = CORPUS / "embroidery" / "embroidermodder" / "Star.DST"
    artifact = convert(source, "dst", params, tmp / "artifacts")
    assert artifact is not None

    def ticket(job_id: int) -> JobTicket:
        return JobTicket(
            job_id=job_id,
            ref=f"fq-{job_id}-1",
            file_path=artifact.path,
            file_name="Étoile du berger.dst",
            file_type=artifact.file_type,
            params=artifact.details,
        )

    yield Peer(
        config=FolderConfig(folder=stick, subfolder="EMB/Embf", poll_s=0.1),
        ticket=ticket,
        unsupported=JobTicket(
            job_id=99, ref="fq-99-1", file_path=source, file_name="x.gcode", file_type="gcode"
        ),
    )


def grid_hpgl(lines: int = 400) -> bytes:
    """A small cut: ``lines`` strokes of 10 mm, 0.25 mm apart (40 steps per mm)."""
    body = b"".join(
        b"PU%d,0;PD%d,400;PD%d,400;" % (i * 10, i * 10, i * 10 + 5) for i in range(lines)
    )
    return b"IN;SP1;" + body + b"PU;SP0;"


@asynccontextmanager
async def hpgl_serial_peer(tmp: Path) -> AsyncIterator[Peer]:
    path = tmp / "grid.hpgl"
    path.write_bytes(grid_hpgl())
    emulator = HpglCutterEmulator(CutterSettings(baud=115200, flow="none", time_scale=40))
    port = emulator.start()

    def ticket(job_id: int) -> JobTicket:
        return JobTicket(
            job_id=job_id,
            ref=f"fq-{job_id}-1",
            file_path=path,
            file_name="grid.hpgl",
            file_type="hpgl",
            estimated_duration_s=200.0,
        )

    try:
        yield Peer(
            config=HpglSerialConfig(port=port, baud=115200, pacing="esc_b"),
            ticket=ticket,
            unsupported=JobTicket(
                job_id=99, ref="fq-99-1", file_path=path, file_name="x.gcode", file_type="gcode"
            ),
        )
    finally:
        emulator.stop()


PEERS: dict[str, Callable[[Path], AbstractAsyncContextManager[Peer]]] = {
    "sim": sim_peer,
    "hpgl_serial": hpgl_serial_peer,
    "embroidery_folder": embroidery_folder_peer,
}
