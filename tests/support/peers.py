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
from typing import Any

import pytest

from drivers.base import DriverConfig, JobTicket
from drivers.embroidery_folder import FolderConfig
from drivers.emulators.hpgl_cutter import CutterSettings, HpglCutterEmulator
from drivers.emulators.marlin import MarlinEmulator, MarlinOptions
from drivers.hpgl_serial import HpglSerialConfig
from drivers.octoprint.driver import OctoPrintConfig
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


def tickets_for(
    path: Path, file_name: str, file_type: str, **extra: Any
) -> Callable[[int], JobTicket]:
    """Tickets for one file, numbered by job id."""

    def ticket(job_id: int) -> JobTicket:
        return JobTicket(
            job_id=job_id,
            ref=f"fq-{job_id}-1",
            file_path=path,
            file_name=file_name,
            file_type=file_type,
            **extra,
        )

    return ticket


@asynccontextmanager
async def sim_peer(tmp: Path) -> AsyncIterator[Peer]:
    path = tmp / "part.gcode"
    path.write_text("G1 X10 Y10\n")

    ticket = tickets_for(path, "part.gcode", "gcode", estimated_duration_s=3.0)

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

    ticket = tickets_for(
        artifact.path, "Étoile du berger.dst", artifact.file_type, params=artifact.details
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

    ticket = tickets_for(path, "grid.hpgl", "hpgl", estimated_duration_s=200.0)

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


@asynccontextmanager
async def marlin_peer(tmp: Path) -> AsyncIterator[Peer]:
    """Our Marlin emulator on a real pty, at 250000 baud, clock twice real time: the job
    is 50 moves of 10 mm at 100 mm/s (about 2.5 s)."""
    from tests.support.marlin import fast_config

    path = tmp / "moves.gcode"
    moves = [f"G1 X{10 * (i % 2 + 1)} Y{i} F6000" for i in range(50)]
    path.write_text("G21\nG90\nM83\n" + "\n".join(moves) + "\n")
    emu = MarlinEmulator(MarlinOptions(baud=250000, speed=2.0))
    emu.start()
    try:
        ticket = tickets_for(path, "moves.gcode", "gcode")

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
    is 80 dwells of 0.1 s (OctoPrint's virtual printer does not speed up G4): long enough
    that a pause sent through OctoPrint's polling lands before the end on a busy CI host."""
    from tests.support import octoprint

    server = await asyncio.to_thread(octoprint.shared)
    await asyncio.to_thread(octoprint.reset, server)
    path = tmp / "dwell.gcode"
    path.write_text("G28\n" + "G4 P100\n" * 80 + "G1 X10 F3000\n")
    saved = os.environ.get(OCTOPRINT_KEY_ENV)
    os.environ[OCTOPRINT_KEY_ENV] = server.api_key

    ticket = tickets_for(path, "dwell.gcode", "gcode")

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
    "hpgl_serial": hpgl_serial_peer,
    "embroidery_folder": embroidery_folder_peer,
    "marlin_serial": marlin_peer,
    "octoprint": octoprint_peer,
}

PEER_MARKS: dict[str, list[pytest.MarkDecorator]] = {
    "octoprint": [pytest.mark.octoprint, pytest.mark.slow],
}
"""Marks for the contract tests of peers that are real servers (run them alone with -m)."""
