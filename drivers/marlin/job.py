"""One print on a Marlin printer, seen from the host: what to send next, and what the
acknowledged lines mean (progress, ETA, the checkpoint a resume needs).

File lines move the tracked state; script lines (pause, resume, recover, cancel, and the
final ``M400``) do not, since they must not change where the *file* believes the printer
is. Every line carries the file position and state reached once it has run, so the
acknowledgement of any line — file or script — says how far the file has got.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from drivers.base import JobTicket
from drivers.marlin.file import PreparedFile
from drivers.marlin.state import (
    PrintState,
    StateTracker,
    is_long_running,
    render_script,
    restore_modes,
)

CHECKPOINT_VERSION = 1
RESUME_HEATERS = ("hotend", "bed")


class Marker(StrEnum):
    """What it means once the line carrying it has run."""

    paused = "paused"
    cancelled = "cancelled"
    done = "done"


class Stage(StrEnum):
    running = "running"
    pausing = "pausing"
    paused = "paused"
    cancelling = "cancelling"
    finishing = "finishing"


@dataclass(frozen=True, slots=True)
class LineMeta:
    offset: int
    state: PrintState
    move_s: float = 0.0
    long_running: bool = False
    marker: Marker | None = None


@dataclass(frozen=True)
class Scripts:
    pause: str
    resume: str
    recover: str
    cancel: str


class PrintJob:
    def __init__(
        self,
        ticket: JobTicket,
        file: PreparedFile,
        scripts: Scripts,
        state: PrintState | None = None,
    ) -> None:
        self.ticket = ticket
        self.file = file
        self.scripts = scripts
        self.tracker = StateTracker(state)
        self.stage = Stage.running
        self._next = 0
        self._sent_offset = file.start_offset
        self._injected: deque[tuple[bytes, Marker | None]] = deque()
        self.acked = LineMeta(file.start_offset, self.tracker.state)
        self.paused_state: PrintState | None = None
        self.message: str | None = None
        self.printer_targets: dict[str, float] = {}
        """The last non-zero heater targets the printer reported (``hotend``, ``bed``):
        what a resume reheats to when the file had set none before its checkpoint."""
        if state is not None:
            # Resuming an interrupted print: bring the printer back to where the file was.
            self._inject(render_script(scripts.recover, state) + restore_modes(state))
        if not len(file):
            self._finish()

    # --- what to send ---------------------------------------------------------------------

    def here(self) -> LineMeta:
        """Where the file stands after the last line handed out (for our own commands)."""
        return LineMeta(self._sent_offset, self.tracker.state)

    def _inject(self, commands: list[bytes], marker: Marker | None = None) -> None:
        for i, cmd in enumerate(commands):
            self._injected.append((cmd, marker if i == len(commands) - 1 else None))

    def _finish(self) -> None:
        # M400 answers once the last move has been made: "done" means the print is over.
        self._inject([b"M400"], Marker.done)
        self.stage = Stage.finishing

    def next_command(self) -> tuple[bytes, LineMeta] | None:
        if self._injected:
            cmd, marker = self._injected.popleft()
            meta = LineMeta(
                self._sent_offset,
                self.tracker.state,
                long_running=is_long_running(cmd),
                marker=marker,
            )
            return cmd, meta
        if self.stage != Stage.running or self._next >= len(self.file):
            return None
        cmd = self.file.command(self._next)
        move_s = self.tracker.apply(cmd)
        self._sent_offset = self.file.offset_after(self._next)
        self._next += 1
        meta = LineMeta(self._sent_offset, self.tracker.state, move_s, is_long_running(cmd))
        if self._next >= len(self.file):
            self._finish()
        return cmd, meta

    # --- requests -----------------------------------------------------------------------------

    def pause(self) -> bool:
        if self.stage != Stage.running:
            return False
        self.stage = Stage.pausing
        self.paused_state = self.tracker.state
        self._inject(
            [*render_script(self.scripts.pause, self.paused_state), b"M400"], Marker.paused
        )
        return True

    def resume(self) -> bool:
        if self.stage != Stage.paused or self.paused_state is None:
            return False
        state = self.paused_state
        self._inject(render_script(self.scripts.resume, state) + restore_modes(state))
        self.stage = Stage.finishing if self._next >= len(self.file) else Stage.running
        if self.stage == Stage.finishing:
            self._finish()
        return True

    def cancel(self) -> None:
        self._injected.clear()
        self.stage = Stage.cancelling
        self._inject(
            [*render_script(self.scripts.cancel, self.tracker.state), b"M400"], Marker.cancelled
        )

    # --- what the printer has done --------------------------------------------------------------

    def note_targets(self, targets: dict[str, float | None]) -> None:
        for name in RESUME_HEATERS:
            target = targets.get(name)
            if target is not None and target > 0.0:
                self.printer_targets[name] = target

    def on_ack(self, meta: LineMeta) -> Marker | None:
        if meta.offset >= self.acked.offset:
            self.acked = meta
        if meta.marker == Marker.paused and self.stage == Stage.pausing:
            self.stage = Stage.paused
            return Marker.paused
        if meta.marker == Marker.cancelled and self.stage == Stage.cancelling:
            return Marker.cancelled
        if meta.marker == Marker.done and self.stage == Stage.finishing:
            return Marker.done
        return None

    @property
    def progress(self) -> float:
        size = self.file.size
        return min(1.0, self.acked.offset / size) if size else 1.0

    def eta_s(self) -> float | None:
        remaining = self.acked.state.remaining_min
        if remaining is not None:
            return remaining * 60.0
        if self.ticket.estimated_duration_s:
            return self.ticket.estimated_duration_s * (1.0 - self.progress)
        return None

    def checkpoint(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "offset": self.acked.offset,
            "file_size": self.file.size,
            "progress": round(self.progress, 6),
            **self.acked.state.to_checkpoint(),
            "printer_targets": dict(self.printer_targets),
        }


def resume_point(checkpoint: dict[str, Any], file_size: int) -> tuple[int, PrintState]:
    """Where to start again, from a checkpoint this driver wrote. ValueError if it cannot
    be used with this file."""
    if checkpoint.get("version") != CHECKPOINT_VERSION or "offset" not in checkpoint:
        raise ValueError("the checkpoint was not written by the Marlin driver")
    if checkpoint.get("file_size") != file_size:
        raise ValueError(
            f"the checkpoint is for a {checkpoint.get('file_size')}-byte file, "
            f"this one has {file_size} bytes"
        )
    offset = checkpoint["offset"]
    if not isinstance(offset, int) or not 0 <= offset <= file_size:
        raise ValueError(f"bad offset in the checkpoint: {offset!r}")
    return offset, _with_known_temperatures(PrintState.from_checkpoint(checkpoint), checkpoint)


def _with_known_temperatures(state: PrintState, checkpoint: dict[str, Any]) -> PrintState:
    """The file's own targets where it had set them before the checkpoint, else the last
    the printer reported. The recover script reheats to these: a 0 would wait for a cold
    nozzle and then push filament through it."""
    reported = checkpoint.get("printer_targets")
    reported = reported if isinstance(reported, dict) else {}
    state = replace(
        state,
        hotend=state.hotend if state.hotend > 0.0 else _reported(reported, "hotend"),
        bed=state.bed if state.bed > 0.0 else _reported(reported, "bed"),
    )
    if state.hotend <= 0.0:
        raise ValueError(
            "no nozzle temperature is known for this print (the file had set none before "
            "the point reached, and the printer reported none): it cannot be reheated safely"
        )
    return state


def _reported(targets: dict[str, Any], name: str) -> float:
    value = targets.get(name)
    return float(value) if isinstance(value, int | float) and value > 0.0 else 0.0
