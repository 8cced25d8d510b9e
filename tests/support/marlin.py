"""Shared pieces of the Marlin tests: the emulator on a pty, driver configs, corpus lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drivers.base import FINAL_PHASES, Driver, JobTicket, MachineState, MachineStatus
from drivers.emulators.marlin import MarlinEmulator, MarlinOptions
from drivers.hosted import in_own_process
from drivers.marlin.config import MarlinSerialConfig
from drivers.marlin.driver import MarlinSerialDriver
from drivers.marlin.file import prepare
from fabqueue.clock import RealClock
from tests.support.factories import CORPUS, REPO

VASE = CORPUS / "gcode" / "prusaslicer-vase.gcode"

OUR_OWN = {"M110 N0", "M115", "M155 S2", "M105", "M400"}
"""Commands the driver sends itself (greeting, temperature reports, the final wait)."""


@contextmanager
def emulator(**options: Any) -> Iterator[MarlinEmulator]:
    emu = MarlinEmulator(MarlinOptions(**options))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def fast_config(port: str, baud: int, **changes: Any) -> MarlinSerialConfig:
    """Timeouts sized for an emulator that runs faster than real time."""
    values: dict[str, Any] = {
        "port": port,
        "baud": baud,
        "timeout_s": 0.5,
        "motion_timeout_factor": 0.0,
        "long_command_timeout_s": 5.0,
        "handshake_timeout_s": 5.0,
        "reconnect_s": 0.2,
        "report_interval_s": 0.1,
    }
    values.update(changes)
    return MarlinSerialConfig(**values)


def file_commands(path: Path) -> list[str]:
    prepared = prepare(path)
    return [prepared.command(i).decode("latin-1") for i in range(len(prepared))]


def head_of(path: Path, lines: int, out: Path) -> Path:
    """The first ``lines`` lines of a corpus file (a shorter print, same content)."""
    with path.open("rb") as src:
        out.write_bytes(b"".join(src.readline() for _ in range(lines)))
    return out


def numbered(emu: MarlinEmulator) -> list[str]:
    """What ran from numbered lines, less the driver's own commands."""
    skip = set(emu.firmware.unnumbered)
    return [c for i, c in enumerate(emu.executed) if i not in skip and c not in OUR_OWN]


def own_lines_before(emu: MarlinEmulator, file_lines: int) -> int:
    """The driver's own numbered commands the printer ran before its ``file_lines``-th
    command of the file."""
    skip = set(emu.firmware.unnumbered)
    own = seen = 0
    for i, command in enumerate(emu.executed):
        if i in skip:
            continue
        if command in OUR_OWN:
            own += 1
        else:
            seen += 1
            if seen == file_lines:
                break
    return own


def ticket(path: Path, job_id: int = 1, **changes: Any) -> JobTicket:
    return JobTicket(
        job_id=job_id,
        ref=f"fq-{job_id}-1",
        file_path=path,
        file_name=path.name,
        file_type="gcode",
        **changes,
    )


class Watched:
    """A driver with its status history, for waiting on what it reports."""

    def __init__(self, config: Any, driver_cls: type[Driver] = MarlinSerialDriver) -> None:
        self.seen: list[MachineStatus] = []
        self.driver: Any = driver_cls("m1", config, on_status=self.seen.append, clock=RealClock())

    async def wait(self, pred: Any, within: float = 30.0, since: int = 0) -> MachineStatus:
        """The first status matching ``pred``, looking from ``since`` in the history."""
        deadline = asyncio.get_running_loop().time() + within
        start = since
        while True:
            for status in self.seen[start:]:
                if pred(status):
                    return status
            start = len(self.seen)
            if asyncio.get_running_loop().time() > deadline:
                last = self.seen[-1] if self.seen else None
                raise AssertionError(f"no matching status within {within} s; last: {last}")
            await asyncio.sleep(0.02)

    async def idle(self, within: float = 30.0) -> None:
        await self.wait(lambda s: s.state == MachineState.idle, within)

    async def final(self, within: float = 120.0) -> MachineStatus:
        return await self.wait(lambda s: s.job is not None and s.job.phase in FINAL_PHASES, within)


def _try_nice(by: int) -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(OSError):
        os.nice(by)


@contextmanager
def emulator_process(
    baud: int, *options: str, ahead: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``fabqueue simulate marlin`` in its own process, like a printer on a cable: its
    pacing does not share this process' interpreter lock. Yields (its pty path, the
    stats it prints when stopped — filled in on exit)."""
    args = [sys.executable, "-m", "fabqueue", "simulate", "marlin", "--baud", str(baud)]
    for option in options:
        args += ["-o", option]
    # ``ahead``: scheduled before this machine's other work, as a real printer's own
    # board would be (root only; elsewhere it runs as it is).
    nice = (lambda: _try_nice(-5)) if ahead else None
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True, preexec_fn=nice)
    assert proc.stdout is not None
    stats: dict[str, Any] = {}
    try:
        path = proc.stdout.readline().strip()
        assert path, "the emulator did not start"
        yield path, stats
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        lines = out.strip().splitlines()
        if lines:
            stats.update(json.loads(lines[-1]))


async def stream_seconds(
    port: str, baud: int, path: Path, *, hosted: bool = False, **config: Any
) -> float:
    """Seconds the printer on ``port`` took to go from 10 % to 90 % of ``path``.

    Timed where the driver reports progress (what this process is doing when it receives
    those reports does not enter the figure): on the line thread, or with ``hosted``
    (the driver in its own process, as the service runs it) by the process's own stamps."""
    values: dict[str, Any] = {"report_interval_s": 0.05, **config}
    cls = in_own_process(MarlinSerialDriver) if hosted else MarlinSerialDriver
    w = Watched(MarlinSerialConfig(port=port, baud=baud, **values), cls)
    marks: list[tuple[float, float]] = []
    if hosted:

        def stamped(status: MachineStatus) -> None:
            if status.job is not None and status.job.progress is not None:
                marks.append((status.at.timestamp(), status.job.progress))

        w.driver.on_report = stamped
    else:
        post = w.driver.line.post

        def timed_post(**changes: Any) -> None:
            job = changes.get("job")
            if job is not None and job.progress is not None:
                marks.append((time.monotonic(), job.progress))
            post(**changes)

        w.driver.line.post = timed_post
    await w.driver.connect()
    try:
        await w.idle(within=20)
        mark = len(w.seen)
        await w.driver.start(ticket(path))
        final = await w.wait(
            lambda s: s.job is not None and s.job.phase in FINAL_PHASES, within=300, since=mark
        )
        assert final.job is not None and final.job.phase.value == "done", final
    finally:
        await w.driver.close()
    start = next(t for t, progress in marks if progress >= 0.1)
    end = next(t for t, progress in marks if progress >= 0.9)
    return end - start


def marlin_profile(port: str, baud: int = 250000, name: str = "Imprimante Marlin") -> str:
    """A machine profile for a Marlin printer at ``port`` (an emulator's pty), with
    timeouts sized for an emulator that runs faster than real time."""
    return f"""
        name = "{name}"
        kind = "fdm_printer"
        [driver]
        type = "marlin_serial"
        port = "{port}"
        baud = {baud}
        timeout_s = 0.5
        motion_timeout_factor = 0.0
        long_command_timeout_s = 5.0
        reconnect_s = 0.2
        report_interval_s = 0.1
        [printer]
        build_x_mm = 250
        build_y_mm = 210
        build_z_mm = 210
    """
