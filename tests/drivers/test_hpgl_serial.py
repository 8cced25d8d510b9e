"""The HP-GL serial driver against the emulated cutter on a real pseudo-terminal.

The big runs send the stencil page's HP-GL (1.1 MB, 100 000 commands) into a 1 KB
buffer: every pacing method must deliver it without one byte lost. The line runs at
2 Mbaud and the knife 150 times too fast, so a run takes seconds, not the 20 minutes
it would at 9600 baud; what matters is that the cutter is slower than the line, so its
buffer fills and the pacing has to work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from drivers.base import FINAL_PHASES, JobPhase, JobTicket, MachineState, MachineStatus
from drivers.emulators.hpgl_cutter import CutterSettings, HpglCutterEmulator
from drivers.hpgl_serial import HpglSerialConfig, HpglSerialDriver, _Job
from drivers.transports.byte_line import ByteLine
from fabqueue.clock import RealClock
from jobs.params.cutter import CutterParams
from jobs.vinyl.analysis import convert_svg
from tests.support.peers import grid_hpgl
from tests.support.vinyl import STENCIL

pytestmark = pytest.mark.asyncio

FAST_LINE = 2_000_000


@pytest.fixture(scope="module")
def lettering(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stencil page as the generic profile's HP-GL."""
    return convert_svg(STENCIL, CutterParams(), tmp_path_factory.mktemp("lettering")).path


@pytest.fixture(scope="module")
def lettering_data(lettering: Path) -> bytes:
    return lettering.read_bytes()


def ticket(path: Path, job_id: int = 1, **kw: Any) -> JobTicket:
    return JobTicket(
        job_id=job_id,
        ref=f"fq-{job_id}-1",
        file_path=path,
        file_name=path.name,
        file_type="hpgl",
        estimated_duration_s=kw.pop("estimated_duration_s", 5.0),
        **kw,
    )


@asynccontextmanager
async def cutter(
    tmp: Path,
    pacing: str,
    flow: str = "none",
    baud: int = FAST_LINE,
    scale: float = 150.0,
    **config: Any,
) -> AsyncIterator[tuple[HpglCutterEmulator, HpglSerialDriver, list[MachineStatus]]]:
    emulator = HpglCutterEmulator(
        CutterSettings(
            baud=baud,
            flow=flow,
            time_scale=scale,
            log_path=tmp / "cutter.log",
            link=tmp / "ttyCUTTER",
        )
    )
    port = emulator.start()
    seen: list[MachineStatus] = []
    driver = HpglSerialDriver(
        "cutter",
        HpglSerialConfig(port=port, baud=baud, pacing=pacing, reconnect_s=0.2, **config),
        on_status=seen.append,
        clock=RealClock(),
    )
    await driver.connect()
    try:
        yield emulator, driver, seen
    finally:
        await driver.close()
        emulator.stop()


async def final(seen: list[MachineStatus], within: float = 120.0) -> MachineStatus:
    return await until(seen, lambda s: s.job is not None and s.job.phase in FINAL_PHASES, within)


async def until(
    seen: list[MachineStatus], pred: Any, within: float = 30.0, after: int = 0
) -> MachineStatus:
    """The first status (from index ``after`` of the live list) that satisfies ``pred``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        for s in seen[after:]:
            if pred(s):
                return s
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened; last status {seen[-1] if seen else None}")


@pytest.mark.slow
@pytest.mark.parametrize(("pacing", "flow"), [("esc_b", "none"), ("xonxoff", "xonxoff")])
async def test_the_lettering_file_arrives_whole(
    tmp_path: Path, lettering: Path, lettering_data: bytes, pacing: str, flow: str
) -> None:
    data = lettering_data
    async with cutter(tmp_path, pacing, flow, scale=80) as (emu, driver, seen):
        await driver.start(ticket(lettering))
        done = await final(seen)
        assert done.job is not None and done.job.phase == JobPhase.done, done
        assert await asyncio.to_thread(emu.wait_idle, 60)
        st = emu.stats
        assert st.overflow == 0
        assert st.received == len(driver.sent)  # not a byte lost on the line
        assert bytes(emu.accepted) == data  # and the cutter took exactly the file
        assert (tmp_path / "cutter.log").read_bytes() == data
        assert st.max_fill > 0.8 * 1024  # the buffer did fill: pacing was needed
        if pacing == "esc_b":
            assert st.queries > 100
        else:
            assert st.xoff_sent > 20
        progress = [s.job.progress for s in seen if s.job and s.job.progress is not None]
        assert progress == sorted(progress) and progress[-1] == 1.0


@pytest.mark.slow
async def test_a_host_that_ignores_xoff_overflows_the_cutter(tmp_path: Path) -> None:
    """The check above can fail: without flow control the same cutter loses bytes."""
    path = tmp_path / "grid.hpgl"
    path.write_bytes(grid_hpgl(1000))
    async with cutter(tmp_path, "none", "xonxoff", scale=200) as (emu, driver, seen):
        await driver.start(ticket(path))
        await final(seen)
        await asyncio.to_thread(emu.wait_idle, 60)
        assert emu.stats.overflow > 1000
        assert emu.stats.errors > 0  # garbled commands: what a cutter does with them


async def test_progress_checkpoint_and_done_for_a_small_job(tmp_path: Path) -> None:
    path = tmp_path / "grid.hpgl"
    path.write_bytes(grid_hpgl(200))
    async with cutter(tmp_path, "esc_b", scale=50) as (emu, driver, seen):
        await driver.start(ticket(path))
        done = await final(seen, 30)
        assert done.job is not None and done.job.phase == JobPhase.done
        assert done.state == MachineState.idle
        assert done.job.checkpoint["size"] == len(path.read_bytes())
        assert emu.stats.commands == 2 + 3 * 200 + 2


async def test_cancel_stops_sending_and_lifts_the_blade(
    tmp_path: Path, lettering: Path, lettering_data: bytes
) -> None:
    async with cutter(tmp_path, "esc_b", scale=20) as (emu, driver, seen):
        await driver.start(ticket(lettering))
        await until(seen, lambda s: s.job is not None and (s.job.progress or 0) > 0.01)
        await driver.cancel()
        assert driver.status.job is not None and driver.status.job.phase == JobPhase.cancelled
        assert driver.status.state == MachineState.idle
        await asyncio.to_thread(emu.wait_idle, 30)
        assert emu.stats.received == len(driver.sent)
        assert bytes(emu.accepted).endswith(b"PU;")
        assert emu.stats.accepted < len(lettering_data) / 2


async def test_pause_holds_the_data_and_resume_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "grid.hpgl"
    path.write_bytes(grid_hpgl(2000))
    async with cutter(tmp_path, "esc_b", scale=80) as (emu, driver, seen):
        await driver.start(ticket(path))
        await until(seen, lambda s: s.job is not None and (s.job.progress or 0) > 0.05)
        await driver.pause()
        await asyncio.sleep(0.3)
        held = emu.stats.accepted
        await asyncio.sleep(0.5)
        assert emu.stats.accepted == held  # nothing more sent while paused
        await driver.resume()
        done = await final(seen)
        assert done.job is not None and done.job.phase == JobPhase.done
        assert bytes(emu.accepted) == path.read_bytes()


async def test_unplugged_mid_job_then_resumed_from_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "grid.hpgl"
    data = grid_hpgl(3000)
    path.write_bytes(data)
    async with cutter(tmp_path, "esc_b", scale=60) as (emu, driver, seen):
        await driver.start(ticket(path))
        await until(seen, lambda s: s.job is not None and (s.job.progress or 0) > 0.2)
        emu.unplug()
        executed = emu.stats.accepted - len(emu._state.buffer)
        lost = await final(seen, 30)
        assert lost.job is not None and lost.job.phase == JobPhase.lost
        assert lost.state == MachineState.offline
        checkpoint = lost.job.checkpoint
        # Never skip a path the cutter may not have cut; never go back much further.
        assert checkpoint["offset"] <= executed
        assert checkpoint["offset"] >= executed - 2048
        assert data[checkpoint["offset"] : checkpoint["offset"] + 2] == b"PU"

        emu.replug()
        await until(seen, lambda s: s.state == MachineState.idle, 10, after=len(seen))
        before = len(emu.accepted)
        seen.clear()
        await driver.start(ticket(path, resume_from=checkpoint))
        done = await final(seen, 60)
        assert done.job is not None and done.job.phase == JobPhase.done
        await asyncio.to_thread(emu.wait_idle, 30)
        resent = bytes(emu.accepted[before:])
        assert resent == b"IN;SP1;" + b"PU;PA;" + data[checkpoint["offset"] :]


async def test_a_missing_cutter_is_offline_and_jobs_wait(tmp_path: Path) -> None:
    seen: list[MachineStatus] = []
    driver = HpglSerialDriver(
        "c",
        HpglSerialConfig(port=str(tmp_path / "nothing"), reconnect_s=0.1),
        on_status=seen.append,
        clock=RealClock(),
    )
    await driver.connect()
    try:
        assert driver.status.state == MachineState.offline
        from drivers.base import DriverUnavailable

        with pytest.raises(DriverUnavailable):
            await driver.start(ticket(tmp_path / "x.hpgl"))
    finally:
        await driver.close()


async def test_resume_refuses_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "grid.hpgl"
    path.write_bytes(grid_hpgl(50))
    async with cutter(tmp_path, "esc_b") as (_, driver, _seen):
        from drivers.base import JobRejected

        with pytest.raises(JobRejected, match="changed"):
            await driver.start(ticket(path, resume_from={"offset": 10, "size": 5}))


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_chunks_end_on_command_boundaries() -> None:
    data = b"IN;SP1;PU0,0;PD100,100;PD200,200;\nPU;SP0;"
    job = _Job(ticket(Path("x.hpgl")), data, 0)
    cuts = []
    while job.pos < len(data):
        end = job.next_end(10)
        cuts.append(data[job.pos : end])
        job.pos = end
    assert b"".join(cuts) == data
    assert all(c.endswith((b";", b";\n")) for c in cuts)
    assert cuts[0] == b"IN;SP1;"  # as much as fits in 10 bytes
    assert cuts[2] == b"PD100,100;"  # a command longer than the room still goes whole


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_checkpoints_land_on_path_starts() -> None:
    data = b"IN;SP1;PU0,0;PD10,0;PU20,0;PD30,0;PU;SP0;"
    job = _Job(ticket(Path("x.hpgl")), data, 0)
    assert job.preamble_end == data.index(b"PU0,0")
    job.pos, job.pending = len(data), 0
    assert job.checkpoint()["offset"] == data.index(b"PU;SP0")
    job.pos, job.pending = data.index(b"PD30"), 0
    assert job.checkpoint()["offset"] == data.index(b"PU20,0")
    job.pos, job.pending = 5, 0
    assert job.checkpoint()["offset"] == job.preamble_end


class FakeCtsSerial:
    """A stand-in for pyserial under RTS/CTS: writes wait while the cutter holds CTS low.
    (A pty has no modem lines, so real hardware handshake cannot be tried here.)"""

    def __init__(self, port: str, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.cts = threading.Event()
        self.written: list[bytes] = []
        self.in_waiting = 0
        self.write_timeout: float | None = kwargs.get("write_timeout")
        self._closed = threading.Event()

    def write(self, data: bytes) -> int:
        self.cts.wait()
        self.written.append(bytes(data))
        return len(data)

    def read(self, n: int) -> bytes:
        self._closed.wait(0.05)
        return b""

    def cancel_write(self) -> None:
        self.cts.set()

    def reset_output_buffer(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._closed.set()


async def test_rtscts_leaves_the_pacing_to_the_uart(tmp_path: Path) -> None:
    fakes: list[FakeCtsSerial] = []

    def open_fake(port: str, **kwargs: Any) -> FakeCtsSerial:
        fakes.append(FakeCtsSerial(port, **kwargs))
        return fakes[-1]

    class Driver(HpglSerialDriver):
        def _new_line(self) -> ByteLine:
            return ByteLine(self.cfg.port, self.cfg.baud, rtscts=True, open_fn=open_fake)

    path = tmp_path / "grid.hpgl"
    path.write_bytes(grid_hpgl(100))
    seen: list[MachineStatus] = []
    driver = Driver(
        "c",
        HpglSerialConfig(port="/dev/fake", pacing="rtscts"),
        on_status=seen.append,
        clock=RealClock(),
    )
    await driver.connect()
    try:
        fake = fakes[0]
        assert fake.kwargs["rtscts"] is True and fake.kwargs["xonxoff"] is False
        assert fake.write_timeout is None  # a held write is not an error
        await driver.start(ticket(path, estimated_duration_s=0.0))
        await asyncio.sleep(0.3)
        assert fake.written == []  # CTS low: the cutter's buffer is full
        fake.cts.set()
        done = await final(seen, 10)
        assert done.job is not None and done.job.phase == JobPhase.done
        assert b"".join(fake.written) == path.read_bytes()
        assert all(len(c) <= 256 and c.endswith(b";") for c in fake.written)
    finally:
        await driver.close()


async def test_a_usb_printer_class_cutter_is_written_to_as_a_file(tmp_path: Path) -> None:
    """GS-24/CE-series cutters appear as /dev/usb/lp*: written to, never read. The
    emulator's pty, opened as a plain file, stands in for one; the USB bus's own flow
    control cannot be emulated, so the emulated buffer is made big enough."""
    path = tmp_path / "grid.hpgl"
    path.write_bytes(grid_hpgl(300))
    emulator = HpglCutterEmulator(
        CutterSettings(baud=FAST_LINE, flow="none", time_scale=100, buffer_size=1 << 20)
    )
    port = emulator.start()
    seen: list[MachineStatus] = []
    driver = HpglSerialDriver(
        "lp",
        HpglSerialConfig(port=port, transport="device_file", pacing="none"),
        on_status=seen.append,
        clock=RealClock(),
    )
    await driver.connect()
    try:
        assert driver.status.state == MachineState.idle
        await driver.start(ticket(path, estimated_duration_s=0.0))
        done = await final(seen, 30)
        assert done.job is not None and done.job.phase == JobPhase.done
        assert await asyncio.to_thread(emulator.wait_idle, 30)
        assert bytes(emulator.accepted) == path.read_bytes()
    finally:
        await driver.close()
        emulator.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_a_device_file_cannot_be_asked_for_its_buffer() -> None:
    with pytest.raises(ValueError, match="device_file cannot be read"):
        HpglSerialConfig(port="/dev/usb/lp0", transport="device_file", pacing="esc_b")


async def test_emergency_stop_stops_sending_and_raises_the_tool(
    tmp_path: Path, lettering: Path, lettering_data: bytes
) -> None:
    async with cutter(tmp_path, "esc_b", scale=20) as (emu, driver, seen):
        await driver.start(ticket(lettering))
        await until(seen, lambda s: s.job is not None and (s.job.progress or 0) > 0.01)
        said = await driver.emergency_stop()
        assert said == "stopped sending and raised the tool (PU;)"
        assert driver.status.job is None
        assert driver.status.state == MachineState.idle
        await asyncio.to_thread(emu.wait_idle, 30)
        assert emu.stats.received == len(driver.sent)
        assert bytes(emu.accepted).endswith(b"PU;")
        assert emu.stats.accepted < len(lettering_data) / 2
