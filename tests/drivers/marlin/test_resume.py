"""Resuming an interrupted print: the temperatures the recover script reheats to.

A file that had set no temperature before its checkpoint (it starts mid-print, or the
printer was heated by hand) used to be resumed with ``M140 S0, M104 S0, M190 S0,
M109 S0``. The checkpoint keeps the last targets the printer reported; with none known,
the resume is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.base import JobPhase, JobRejected, MachineState
from drivers.marlin.job import resume_point
from tests.support.marlin import Watched, emulator, fast_config, ticket


def square_moves(path: Path, lines: int) -> Path:
    """Moves and extrusion only: no temperature anywhere in the file."""
    body = ["G90", "M83"]
    for k in range(lines):
        x, y = (10 + k % 50, 10 + (k // 50) % 50)
        body.append(f"G1 X{x} Y{y} E0.05 F3000")
    path.write_text("\n".join(body) + "\n")
    return path


def checkpoint_of(size: int, **extra: object) -> dict[str, object]:
    return {"version": 1, "offset": 6, "file_size": size, "progress": 0.1, **extra}


def test_the_file_s_own_targets_come_first() -> None:
    cp = checkpoint_of(100, hotend=215.0, bed=0.0, printer_targets={"hotend": 200, "bed": 60})
    _, state = resume_point(cp, 100)
    assert (state.hotend, state.bed) == (215.0, 60.0)


def test_the_printer_s_targets_fill_what_the_file_had_not_set() -> None:
    cp = checkpoint_of(100, printer_targets={"hotend": 200.0, "bed": 60.0})
    _, state = resume_point(cp, 100)
    assert (state.hotend, state.bed) == (200.0, 60.0)


@pytest.mark.parametrize(
    "targets", [None, {}, {"bed": 60.0}, {"hotend": 0.0}, {"hotend": "hot"}, "200"]
)
def test_no_known_nozzle_temperature_is_refused(targets: object) -> None:
    cp = checkpoint_of(100) if targets is None else checkpoint_of(100, printer_targets=targets)
    with pytest.raises(ValueError, match="no nozzle temperature is known"):
        resume_point(cp, 100)


@pytest.mark.asyncio
async def test_resume_reheats_to_what_the_printer_reported(tmp_path: Path) -> None:
    """Heated by a first job (as an operator would by hand), then a file without any
    temperature is cut by a disconnect and resumed after the printer comes back (a fresh
    boot: its targets are 0 again)."""
    preheat = tmp_path / "preheat.gcode"
    preheat.write_text("M140 S60\nM104 S200\n")
    body = square_moves(tmp_path / "body.gcode", 600)
    options = {"speed": 200.0, "disconnect_at_line": 300, "reconnect_after_s": 0.5}
    with emulator(baud=250000, **options) as emu:
        w = Watched(fast_config(emu.path, 250000, temperature_interval_s=0.2))
        await w.driver.connect()
        try:
            await w.idle()
            await w.driver.start(ticket(preheat))
            assert (await w.final()).job.phase == JobPhase.done
            await w.wait(
                lambda s: "hotend" in s.temperatures and s.temperatures["hotend"].target == 200.0
            )
            mark = len(w.seen)
            await w.driver.start(ticket(body, job_id=2))
            lost = await w.wait(
                lambda s: s.job is not None and s.job.phase == JobPhase.lost, since=mark
            )
            checkpoint = lost.job.checkpoint
            assert checkpoint["hotend"] == checkpoint["bed"] == 0.0  # the file set none
            assert checkpoint["printer_targets"] == {"hotend": 200.0, "bed": 60.0}
            await w.wait(lambda s: s.state == MachineState.idle, since=mark)
            ran_before = len(emu.executed)
            mark = len(w.seen)
            await w.driver.start(ticket(body, job_id=2, resume_from=checkpoint))
            final = await w.wait(
                lambda s: s.job is not None and s.job.phase == JobPhase.done, since=mark
            )
            assert final.job.checkpoint["hotend"] == 200.0
        finally:
            await w.driver.close()
    resumed = emu.executed[ran_before:]
    heats = [c for c in resumed if c.split(" ")[0] in ("M140", "M104", "M190", "M109")]
    assert heats[:4] == ["M140 S60", "M104 S200", "M190 S60", "M109 S200"]


@pytest.mark.asyncio
async def test_resume_without_a_known_temperature_is_refused(tmp_path: Path) -> None:
    body = square_moves(tmp_path / "body.gcode", 20)
    with emulator(baud=250000) as emu:
        w = Watched(fast_config(emu.path, 250000))
        await w.driver.connect()
        try:
            await w.idle()
            cp = checkpoint_of(body.stat().st_size, resume=True)
            with pytest.raises(JobRejected, match="cannot resume: no nozzle temperature"):
                await w.driver.start(ticket(body, resume_from=cp))
            assert w.driver.status.state == MachineState.idle
            assert not any(c.startswith(("M109", "M104")) for c in emu.executed)
        finally:
            await w.driver.close()
