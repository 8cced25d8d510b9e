"""The Marlin driver against the emulator over a real pseudo-terminal.

The emulator paces bytes at the baud rate and runs a Marlin-like command queue, so what
is checked here is what a printer would have executed, line by line.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from drivers.base import DriverUnavailable, JobPhase, JobRejected, MachineState
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

pytestmark = pytest.mark.asyncio


async def print_file(path: Path, baud: int, emu_options: dict, **config: object) -> tuple:
    with emulator(baud=baud, **emu_options) as emu:
        w = Watched(fast_config(emu.path, baud, **config))
        await w.driver.connect()
        try:
            await w.idle()
            await w.driver.start(ticket(path))
            final = await w.final(within=300)
            return emu, w, final
        finally:
            await w.driver.close()


NOISE = {"resend_rate": 0.02, "corrupt_rate": 0.005, "speed": 500.0}


@pytest.mark.parametrize(
    ("advanced_ok", "drain_partial"),
    [(True, False), (False, True)],
    ids=["window", "one-line-in-flight"],
)
async def test_line_noise_every_line_runs_once_in_order(
    tmp_path: Path, advanced_ok: bool, drain_partial: bool
) -> None:
    path = head_of(VASE, 1000, tmp_path / "vase-start.gcode")
    emu, w, final = await print_file(
        path,
        250000,
        {**NOISE, "seed": 4, "advanced_ok": advanced_ok, "drain_partial": drain_partial},
    )
    assert final.job is not None and final.job.phase == JobPhase.done, final
    assert numbered(emu) == file_commands(path)
    assert emu.firmware.stray() == []
    assert w.driver.stray_commands == 0  # garbled replies are no false alarm
    stats = w.driver.stream.stats  # type: ignore[union-attr]
    assert emu.stats.garbled_in >= 10 and emu.stats.garbled_out > 0  # the noise did happen
    assert stats.resends >= emu.stats.garbled_in * 0.8
    assert w.driver.stream.windowed is advanced_ok  # type: ignore[union-attr]
    assert final.job.progress == pytest.approx(1.0)


async def test_a_command_made_by_line_noise_is_reported_on_the_finished_job(
    tmp_path: Path,
) -> None:
    """Noise that spells a whole unnumbered command runs on the printer: nothing can undo
    it, so the finished job carries the warning (and so waits for the operator)."""
    path = head_of(VASE, 400, tmp_path / "vase-start.gcode")
    with emulator(baud=250000, speed=500.0, advanced_ok=True) as emu:
        w = Watched(fast_config(emu.path, 250000))
        await w.driver.connect()
        try:
            await w.idle()
            await w.driver.start(ticket(path))
            await w.wait(lambda s: s.job is not None and (s.job.progress or 0) > 0.2, 60)
            emu.noise_line(b"G4 P1\n")
            final = await w.final(within=120)
        finally:
            await w.driver.close()
    assert emu.firmware.stray() == ["G4 P1"]
    assert w.driver.stray_commands == 1
    assert final.job is not None and final.job.phase == JobPhase.done
    assert final.job.message is not None and "line noise" in final.job.message
    assert numbered(emu) == file_commands(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("advanced_ok", "drain_partial"),
    [(True, False), (True, True)],
    ids=["window", "window-marlin-drain"],
)
async def test_line_noise_whole_corpus_file(advanced_ok: bool, drain_partial: bool) -> None:
    emu, w, final = await print_file(
        VASE,
        250000,
        {**NOISE, "seed": 11, "advanced_ok": advanced_ok, "drain_partial": drain_partial},
    )
    assert final.job is not None and final.job.phase == JobPhase.done, final
    # Every numbered line ran once, in order. With Marlin's way of emptying its buffer
    # after a bad line, the tail of a line cut in two may also run on its own
    # (docs/printers.md): it is counted, and the driver says so on the job.
    assert numbered(emu) == file_commands(VASE)
    stray = emu.firmware.stray()
    if not drain_partial:
        assert stray == []
    print(f"\nresends {w.driver.stream.stats.resends}, stray {len(stray)}")  # type: ignore[union-attr]
    if stray:
        assert w.driver.stray_commands > 0
        assert final.job.message and "line noise" in final.job.message


async def test_progress_temperatures_and_checkpoint(tmp_path: Path) -> None:
    path = head_of(VASE, 900, tmp_path / "vase-start.gcode")
    lines = path.read_bytes().splitlines(keepends=True)
    # PrusaSlicer's progress lines (when the printer profile asks for them).
    path.write_bytes(
        b"M73 P0 R66\n" + b"".join(lines[:450]) + b"M73 P50 R33\n" + b"".join(lines[450:])
    )
    _, w, final = await print_file(path, 250000, {"speed": 200.0})
    assert final.job is not None and final.job.phase == JobPhase.done
    progress = [s.job.progress for s in w.seen if s.job and s.job.progress is not None]
    assert progress == sorted(progress) and len(set(progress)) > 3
    temps = [s.temperatures for s in w.seen if s.temperatures]
    assert any(t["hotend"].target == 210.0 for t in temps)  # M104 S210 from the file
    assert any(t["bed"].actual > 50.0 for t in temps)
    cp = final.job.checkpoint
    assert cp["offset"] == cp["file_size"] == path.stat().st_size
    # After the first layer the file lowers the nozzle to 200 °C (line 393).
    assert (cp["hotend"], cp["bed"], cp["absolute"], cp["absolute_e"]) == (200.0, 60.0, True, False)
    # The ETA comes from the M73 lines the printer has reached.
    etas = [s.job.eta_s for s in w.seen if s.job and s.job.phase == JobPhase.running]
    assert {66 * 60.0, 33 * 60.0} <= set(etas)


async def test_temperatures_polled_without_autoreport(tmp_path: Path) -> None:
    with emulator(baud=250000, autoreport_temp=False, speed=50.0) as emu:
        w = Watched(fast_config(emu.path, 250000, temperature_interval_s=0.2))
        await w.driver.connect()
        try:
            await w.idle()
            await w.wait(lambda s: "hotend" in s.temperatures, within=5)
            assert "M105" in emu.executed and "M155 S2" not in emu.executed
        finally:
            await w.driver.close()


async def test_busy_keepalive_keeps_the_line_alive(tmp_path: Path) -> None:
    """Homing takes 20 s of the printer's clock (2 s here at ten times real time), with
    ``busy: processing`` every 2 s of its clock. The driver's timeout is 1 s, half the
    homing time: only the keep-alive can carry it through."""
    path = tmp_path / "home.gcode"
    path.write_text("G28\nG1 X10 F3000\n")
    emu, w, final = await print_file(path, 250000, {"speed": 10.0, "home_s": 20.0}, timeout_s=1.0)
    assert final.job is not None and final.job.phase == JobPhase.done
    assert w.driver.line.keepalive_seen
    assert w.driver.stats_timeouts == 0
    assert numbered(emu) == ["G28", "G1 X10 F3000"]


async def test_long_command_without_keepalive_is_not_a_timeout(tmp_path: Path) -> None:
    path = tmp_path / "home.gcode"
    path.write_text("G28\nG1 X10 F3000\n")
    _, w, final = await print_file(
        path, 250000, {"speed": 10.0, "home_s": 20.0, "keepalive_s": 0.0}
    )
    assert final.job is not None and final.job.phase == JobPhase.done
    assert not w.driver.line.keepalive_seen
    assert w.driver.stats_timeouts == 0


@pytest.mark.slow
async def test_twenty_seconds_busy_at_real_speed(tmp_path: Path) -> None:
    """The same at the printer's own pace, with the driver's production timeouts."""
    path = tmp_path / "home.gcode"
    path.write_text("G28\nG1 X10 F3000\n")
    started = time.monotonic()
    _, w, final = await print_file(
        path,
        115200,
        {"speed": 1.0, "home_s": 20.0},
        timeout_s=10.0,
        motion_timeout_factor=1.0,
        long_command_timeout_s=900.0,
    )
    assert time.monotonic() - started >= 20.0
    assert final.job is not None and final.job.phase == JobPhase.done
    assert w.driver.stats_timeouts == 0


async def test_a_printer_that_stops_answering_is_lost(tmp_path: Path) -> None:
    path = head_of(VASE, 300, tmp_path / "vase-start.gcode")
    started = time.monotonic()
    emu, w, final = await print_file(
        path, 250000, {"speed": 200.0, "hang_at_line": 80}, timeout_s=0.3, max_timeouts=3
    )
    assert final.job is not None and final.job.phase == JobPhase.lost
    assert "stopped answering" in (final.job.message or "")
    assert w.driver.stats_timeouts == 4
    assert time.monotonic() - started < 15
    # The checkpoint is where the printer stopped, not where the host got to.
    ran = numbered(emu)
    commands = file_commands(path)
    done = final.job.checkpoint["offset"]
    assert 0 < done < path.stat().st_size
    assert ran == commands[: len(ran)]


async def test_kill_fails_the_job_with_the_printers_words(tmp_path: Path) -> None:
    path = head_of(VASE, 300, tmp_path / "vase-start.gcode")
    _, w, final = await print_file(path, 250000, {"speed": 200.0, "kill_at_line": 60})
    assert final.job is not None and final.job.phase == JobPhase.failed
    message = final.job.message or ""
    assert "Thermal Runaway, system stopped! Heater_ID: 0" in message
    assert "Printer halted" in message
    assert w.driver.status.state == MachineState.error


async def test_pause_resume_cancel_run_the_profile_scripts(tmp_path: Path) -> None:
    path = tmp_path / "square.gcode"
    moves = [
        f"G1 X{20 + (i % 4) * 10} Y{20 + (i // 4 % 2) * 10} Z{0.2 + i // 8 * 0.2:.1f} F1200"
        for i in range(160)
    ]
    path.write_text("G21\nG90\nM82\nG92 E0\nM104 S200\nM140 S60\n" + "\n".join(moves) + "\n")
    with emulator(baud=250000, speed=20.0) as emu:
        w = Watched(
            fast_config(
                emu.path,
                250000,
                pause_script="G91\nG1 Z7 F600\nG90\nG1 X0 Y200 F6000",
                cancel_script="M104 S0\nM140 S0\nG28 X",
            )
        )
        await w.driver.connect()
        try:
            await w.idle()
            await w.driver.start(ticket(path))
            await w.wait(lambda s: s.job is not None and (s.job.progress or 0) > 0.2)
            with pytest.raises(DriverUnavailable):
                await w.driver.resume()
            await w.driver.pause()
            paused = await w.wait(lambda s: s.job is not None and s.job.phase == JobPhase.paused)
            assert paused.state == MachineState.paused
            ran = list(emu.executed)
            assert ran[-5:] == ["G91", "G1 Z7 F600", "G90", "G1 X0 Y200 F6000", "M400"]
            last_move = next(c for c in reversed(ran) if c.startswith("G1 X") and "Y200" not in c)
            x, y, z = (float(v) for v in re.findall(r"[XYZ]([\d.]+)", last_move))
            await asyncio.sleep(0.3)
            assert len(emu.executed) == len(ran)  # nothing moves while paused
            mark = len(w.seen)
            await w.driver.resume()
            await w.wait(
                lambda s: s.job is not None and (s.job.progress or 0) > paused.job.progress,
                since=mark,
            )
            back = emu.executed[len(ran) : len(ran) + 4]
            assert back == [
                "G90",
                f"G1 X{x:.3f} Y{y:.3f} F6000",
                f"G1 Z{z:.3f} F600",
                "G91",
            ]
            await w.driver.cancel()
            final = await w.final()
            assert final.job is not None and final.job.phase == JobPhase.cancelled
            assert emu.executed[-4:] == ["M104 S0", "M140 S0", "G28 X", "M400"]
            assert w.driver.status.state == MachineState.idle
        finally:
            await w.driver.close()


async def test_emergency_stop_halts_then_a_reset_brings_it_back(tmp_path: Path) -> None:
    path = head_of(VASE, 2000, tmp_path / "vase-start.gcode")
    with emulator(baud=250000, speed=200.0) as emu:
        w = Watched(fast_config(emu.path, 250000))
        await w.driver.connect()
        try:
            await w.idle()
            await w.driver.start(ticket(path))
            await w.wait(lambda s: s.job is not None and (s.job.progress or 0) > 0.05)
            await w.driver.emergency_stop()
            final = await w.final()
            assert final.job is not None and final.job.phase == JobPhase.failed
            assert "M112" in (final.job.message or "")
            assert w.driver.status.state == MachineState.error
            await asyncio.sleep(0.2)
            assert emu.firmware.halted
            mark = len(w.seen)
            emu.reset()  # someone presses the printer's reset button
            await w.wait(lambda s: s.state == MachineState.offline, within=10, since=mark)
            await w.wait(lambda s: s.state == MachineState.idle, within=10, since=mark)
        finally:
            await w.driver.close()


async def test_files_and_checkpoints_it_cannot_use(tmp_path: Path) -> None:
    long_line = tmp_path / "long.gcode"
    long_line.write_text("G1 X1\nG1 " + "X1 " * 40 + "\n")
    binary = tmp_path / "binary.gcode"
    binary.write_bytes(b"G1 X1\n\x00\x01\x02\n")
    ok = tmp_path / "ok.gcode"
    ok.write_text("G1 X1\nG1 X2\n")
    with emulator(baud=250000) as emu:
        w = Watched(fast_config(emu.path, 250000))
        await w.driver.connect()
        try:
            await w.idle()
            with pytest.raises(JobRejected, match="line 2 is 122 bytes long"):
                await w.driver.start(ticket(long_line))
            with pytest.raises(JobRejected, match="binary"):
                await w.driver.start(ticket(binary))
            stale = {"version": 1, "offset": 6, "file_size": 999, "progress": 0.5}
            with pytest.raises(JobRejected, match="999-byte file"):
                await w.driver.start(ticket(ok, resume_from=stale))
            from_sim = {"progress": 0.5, "resume": True}
            with pytest.raises(JobRejected, match="not written by the Marlin driver"):
                await w.driver.start(ticket(ok, resume_from=from_sim))
            assert w.driver.status.state == MachineState.idle
        finally:
            await w.driver.close()


async def test_no_printer_on_the_port_is_offline_not_an_error(tmp_path: Path) -> None:
    w = Watched(fast_config(str(tmp_path / "ttyUSB9"), 115200))
    await w.driver.connect()
    try:
        await w.wait(lambda s: s.state == MachineState.offline, within=5)
        assert "cannot open" in (w.driver.status.message or "")
        with pytest.raises(DriverUnavailable):
            await w.driver.start(ticket(VASE))
    finally:
        await w.driver.close()


async def test_a_port_that_says_nothing_is_not_a_printer(tmp_path: Path) -> None:
    from drivers.transports.pty import open_pty

    pair = open_pty()  # nobody on the other end
    try:
        w = Watched(fast_config(pair.slave_path, 115200, handshake_timeout_s=1.0))
        await w.driver.connect()
        try:
            # probe() (check-profiles --probe, start-up) waits for the greeting's outcome.
            status = await w.driver.probe()
            assert status.state == MachineState.offline
            assert "no answer" in (status.message or "")
        finally:
            await w.driver.close()
    finally:
        pair.close()
