"""HP-GL vinyl cutters on a serial line (USB-serial adapters included).

The job file is HP-GL already made for this machine (``jobs.vinyl.analysis.convert``): the
driver only moves bytes, in chunks that end on a command boundary, paced the way the
profile says (research §2, §6):

* ``esc_b``: ask the cutter its free buffer space (``ESC.B``) and never send more than
  that minus a margin. Works everywhere the cutter answers, and is exact;
* ``xonxoff``: the OS stops writing when the cutter sends XOFF;
* ``rtscts``: the UART stops when the cutter drops CTS (not testable on a pty);
* ``none``: for cutters that take anything as fast as the line brings it.

Progress is bytes accepted. The checkpoint is the start of the first path the cutter
may not have finished (sent minus what may still sit in its buffer and the host's),
so a resumed job re-cuts at most a few paths and never skips one. Cancel stops
sending, drops what the OS still holds, and sends the profile's cancel sequence
(``PU;`` by default; ``IN;`` or ``ESC.K`` only where the machine wants it).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import re
import time
from typing import Literal

from pydantic import Field, model_validator

from drivers.base import (
    Clock,
    Driver,
    DriverCapabilities,
    DriverConfig,
    DriverUnavailable,
    JobPhase,
    JobProgress,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
    StatusCallback,
)
from drivers.transports.byte_line import ByteLine, Port
from drivers.transports.device_file import DeviceFile

ESC_B = b"\x1b.B"
_COMMAND_END = re.compile(rb";\n?|\n")
_MOTION = re.compile(rb"(?:^|[;\n])\s*(P[UDAR])", re.I)
PROGRESS_EVERY_S = 0.2


class HpglSerialConfig(DriverConfig):
    port: str = Field(min_length=1)
    """The device, e.g. /dev/ttyUSB0, or better a stable /dev/serial/by-id/… path."""
    transport: Literal["serial", "device_file"] = "serial"
    """``device_file`` for cutters that appear as USB printers (/dev/usb/lp0): written
    to, never read; the USB bus paces the data."""
    baud: int = Field(9600, ge=300, le=4_000_000)
    pacing: Literal["esc_b", "xonxoff", "rtscts", "none"] = "xonxoff"
    buffer_bytes: int = Field(1024, ge=64, le=1_048_576)
    """The cutter's input buffer (what ``ESC.L`` answers, or the manual says)."""
    chunk_bytes: int = Field(256, ge=16, le=65536)
    """Largest single write; chunks always end on a command boundary."""
    esc_b_margin: int = Field(64, ge=0)
    """Bytes left free in the cutter's buffer when pacing by ``ESC.B``."""
    reply_timeout_s: float = Field(2.0, gt=0)
    stall_timeout_s: float = Field(600.0, gt=0)
    """The cutter accepting nothing for this long (XOFF or CTS held) fails the job."""
    cancel_sequence: str = "PU;"
    reconnect_s: float = Field(2.0, gt=0)
    host_buffer_bytes: int = Field(16384, ge=0)
    """What the OS and the adapter may hold unsent (for resume checkpoints)."""

    @model_validator(mode="after")
    def _device_files_cannot_answer(self) -> HpglSerialConfig:
        if self.transport == "device_file" and self.pacing != "none":
            raise ValueError(
                'a device_file cannot be read from: use pacing = "none" (the USB bus paces it)'
            )
        return self


class _Job:
    def __init__(self, ticket: JobTicket, data: bytes, start: int) -> None:
        self.ticket = ticket
        self.data = data
        self.pos = start
        bounds = [m.end() for m in _COMMAND_END.finditer(data)]
        if not bounds or bounds[-1] != len(data):
            bounds.append(len(data))
        self.bounds = bounds
        starts = [0, *bounds[:-1]]
        self.path_starts = [s for s in starts if data[s : s + 2].upper() == b"PU"]
        first = _MOTION.search(data)
        self.preamble_end = (first.start(1) if first else 0) if data else 0
        self.pending = 0
        """Bytes the cutter (and the host) may hold unexecuted."""
        self.last_push = 0.0

    def next_end(self, room: int) -> int:
        """The furthest command boundary within ``room`` bytes (at least one command)."""
        k = bisect.bisect_right(self.bounds, self.pos + room) - 1
        if k < 0 or self.bounds[k] <= self.pos:
            k = bisect.bisect_right(self.bounds, self.pos)
        return self.bounds[k]

    def checkpoint(self) -> dict[str, float | int]:
        done = self.pos - self.pending
        k = bisect.bisect_right(self.path_starts, done) - 1
        offset = self.path_starts[k] if k >= 0 else self.preamble_end
        offset = max(offset, self.preamble_end) if k < 0 else offset
        return {
            "offset": offset,
            "size": len(self.data),
            "progress": round(offset / max(1, len(self.data)), 6),
        }


class HpglSerialDriver(Driver[HpglSerialConfig]):
    name = "hpgl_serial"
    own_process = True
    Config = HpglSerialConfig
    default_capabilities = DriverCapabilities(
        file_types=frozenset({"hpgl", "plt"}),
        can_pause=True,
        reports_progress=True,
        can_resume=True,
    )

    def __init__(
        self, machine: str, config: HpglSerialConfig, *, on_status: StatusCallback, clock: Clock
    ) -> None:
        super().__init__(machine, config, on_status=on_status, clock=clock)
        self._line: Port | None = None
        self._job: _Job | None = None
        self._task: asyncio.Task[None] | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._cancelled = False
        self._io = asyncio.Lock()
        self.sent = bytearray()
        """Every byte the OS took from us, in order (for tests and the log)."""

    # --- connection ---------------------------------------------------------------

    def _new_line(self) -> Port:
        if self.cfg.transport == "device_file":
            return DeviceFile(self.cfg.port)
        return ByteLine(
            self.cfg.port,
            self.cfg.baud,
            xonxoff=self.cfg.pacing == "xonxoff",
            rtscts=self.cfg.pacing == "rtscts",
        )

    def _make_line(self) -> Port:
        line = self._new_line()
        line.sink = self.sent
        return line

    async def _open(self) -> bool:
        line = self._make_line()
        try:
            await line.open()
        except DriverUnavailable as exc:
            self._push(state=MachineState.offline, message=str(exc))
            return False
        self._line = line
        self._watch = asyncio.create_task(self._watch_line(line), name=f"hpgl-watch-{self.machine}")
        self._push(state=MachineState.idle, message=None)
        return True

    async def _watch_line(self, line: Port) -> None:
        """Notice an unplugged cable even when nothing is being sent."""
        await line.lost.wait()
        if line is not self._line:
            return
        job = self._job
        if job is not None and self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._lost(job, line.error or "the line closed")
        else:
            self._push(state=MachineState.offline, message=f"{self.cfg.port} went away")
            self._start_reconnect()

    async def connect(self) -> None:
        self._push(state=MachineState.connecting)
        if not await self._open():
            self._start_reconnect()

    def _start_reconnect(self) -> None:
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        while self._line is None or not self._line.is_open:
            await asyncio.sleep(self.cfg.reconnect_s)
            if self._line is not None:
                await self._line.close()
                self._line = None
            if await self._open():
                return

    async def close(self) -> None:
        self._cancelled = True
        self._resumed.set()
        if self._line is not None:
            self._line.abort_write()
        for task in (self._task, self._reconnect, self._watch):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._reconnect = self._watch = None
        if self._line is not None:
            await self._line.close()
            self._line = None

    async def probe(self) -> MachineStatus:
        line = self._line
        if line is None or not line.is_open:
            if self._line is not None:
                await self._line.close()
                self._line = None
            if not await self._open():
                self._start_reconnect()
            return self.status
        if self.cfg.pacing == "esc_b" and self._job is None:
            try:
                free = await self._query_free()
            except DriverUnavailable as exc:
                self._push(state=MachineState.error, message=str(exc))
            else:
                self._push(state=MachineState.idle, message=f"{free} bytes free in the buffer")
        return self.status

    async def _query_free(self) -> int:
        line = self._line
        if line is None:
            raise DriverUnavailable("the cutter is not connected")
        async with self._io:
            for _ in range(3):
                line.drop_input()
                await line.write(ESC_B)
                reply = await line.read_reply(self.cfg.reply_timeout_s)
                if reply is not None:
                    try:
                        return int(reply.split(b",")[0])
                    except ValueError:
                        continue
        raise DriverUnavailable(
            "the cutter does not answer ESC.B: check the cable, or set pacing = "
            '"xonxoff" in the profile if it does not support buffer queries'
        )

    # --- jobs -------------------------------------------------------------------

    async def start(self, ticket: JobTicket) -> None:
        reason = self.supports(ticket)
        if reason is not None:
            raise JobRejected(reason)
        if (
            self._line is None
            or not self._line.is_open
            or self.status.state == MachineState.offline
        ):
            raise DriverUnavailable(f"the cutter on {self.cfg.port} is not connected")
        if self._task is not None and not self._task.done():
            raise DriverUnavailable("the cutter is busy with another job")
        try:
            data = await asyncio.to_thread(ticket.file_path.read_bytes)
        except OSError as exc:
            raise JobRejected(f"cannot read the job file: {exc.strerror}") from exc
        if not data.strip():
            raise JobRejected("the job file is empty")
        job = _Job(ticket, data, 0)
        start, prefix = 0, b""
        resume = ticket.resume_from or {}
        if "offset" in resume:
            if int(resume.get("size", -1)) != len(data):
                raise JobRejected(
                    "cannot resume: the machine file changed since the job stopped (profile "
                    "edited?); requeue the job to cut it from the start"
                )
            start = int(resume["offset"])
            prefix = data[: job.preamble_end] + b"PU;PA;"
        longest = max(
            (b - a for a, b in zip([0, *job.bounds], job.bounds, strict=False)), default=0
        )
        if self.cfg.pacing == "esc_b" and longest > self.cfg.buffer_bytes - self.cfg.esc_b_margin:
            raise JobRejected(
                f"a command of {longest} bytes does not fit the cutter's "
                f"{self.cfg.buffer_bytes}-byte buffer: use fewer pairs per command"
            )
        job.pos = start
        self._job = job
        self._cancelled = False
        self._resumed.set()
        self._push(
            state=MachineState.busy,
            job=JobProgress(
                ref=ticket.ref,
                phase=JobPhase.running,
                progress=start / len(data),
                eta_s=ticket.estimated_duration_s,
                checkpoint=job.checkpoint(),
            ),
            message=None,
        )
        self._task = asyncio.create_task(self._run(job, prefix), name=f"hpgl-{self.machine}")

    async def _write(self, data: bytes) -> None:
        line = self._line
        if line is None:
            raise DriverUnavailable("the cutter is not connected")
        try:
            async with asyncio.timeout(self.cfg.stall_timeout_s):
                await line.write(data)
        except TimeoutError:
            line.abort_write()
            raise _Stalled(
                f"the cutter accepted nothing for {self.cfg.stall_timeout_s:.0f} s "
                "(flow control held): check it"
            ) from None

    async def _run(self, job: _Job, prefix: bytes) -> None:
        try:
            if prefix:
                await self._send_paced(job, prefix)
            await self._send_job(job)
            if self._cancelled:
                return
            await self._finish_up(job)
            self._report(job, JobPhase.done, None, final=True)
        except DriverUnavailable as exc:
            if self._cancelled:
                return
            self._lost(job, str(exc))
        except _Stalled as exc:
            self._report(job, JobPhase.failed, str(exc), final=True)
        finally:
            if self._job is job and not self._cancelled:
                self._job = None

    async def _send_paced(self, job: _Job, raw: bytes) -> None:
        if self.cfg.pacing == "esc_b":
            for _ in range(int(self.cfg.stall_timeout_s / 0.05)):
                if await self._query_free() - self.cfg.esc_b_margin >= len(raw):
                    break
                await asyncio.sleep(0.05)
        await self._write(raw)

    async def _send_job(self, job: _Job) -> None:
        cfg = self.cfg
        size = len(job.data)
        budget = 0
        while job.pos < size:
            if not self._resumed.is_set():
                await self._resumed.wait()
            if self._cancelled:
                return
            if cfg.pacing == "esc_b":
                need = job.next_end(0) - job.pos
                if budget < need:
                    free = await self._query_free()
                    job.pending = cfg.buffer_bytes - free
                    budget = free - cfg.esc_b_margin
                    if budget < need:
                        await asyncio.sleep(0.02)
                        continue
                room = min(budget, cfg.chunk_bytes)
            else:
                room = cfg.chunk_bytes
                job.pending = cfg.buffer_bytes + cfg.host_buffer_bytes
            end = job.next_end(room)
            async with self._io:
                await self._write(job.data[job.pos : end])
            if cfg.pacing == "esc_b":
                budget -= end - job.pos
                job.pending += end - job.pos
            job.pos = end
            self._report(job, JobPhase.running, None)

    async def _finish_up(self, job: _Job) -> None:
        """Wait until the cutter has (nearly) done what it holds."""
        if self.cfg.pacing == "esc_b":
            deadline = time.monotonic() + self.cfg.stall_timeout_s
            while time.monotonic() < deadline and not self._cancelled:
                free = await self._query_free()
                job.pending = self.cfg.buffer_bytes - free
                if free >= self.cfg.buffer_bytes:
                    return
                await asyncio.sleep(0.1)
            return
        if self._line is not None:
            await self._line.drain()
        # No read-back: allow the time a full buffer takes at the job's average pace.
        est = job.ticket.estimated_duration_s or 0.0
        per_byte = est / max(1, len(job.data))
        await self.clock.sleep(min(30.0, per_byte * self.cfg.buffer_bytes))

    def _report(self, job: _Job, phase: JobPhase, message: str | None, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - job.last_push < PROGRESS_EVERY_S:
            return
        job.last_push = now
        size = len(job.data)
        progress = 1.0 if phase == JobPhase.done else job.pos / size
        est = job.ticket.estimated_duration_s
        if phase == JobPhase.done:
            job.pending = 0
        self._push(
            state=MachineState.idle if final else MachineState.busy,
            job=JobProgress(
                ref=job.ticket.ref,
                phase=phase,
                progress=min(1.0, progress),
                eta_s=None if est is None or final else round(est * (1 - progress), 1),
                message=message,
                checkpoint=job.checkpoint(),
            ),
        )

    def _lost(self, job: _Job, reason: str) -> None:
        self._push(
            state=MachineState.offline,
            job=JobProgress(
                ref=job.ticket.ref,
                phase=JobPhase.lost,
                progress=job.pos / len(job.data),
                message=f"the cutter went away ({reason}); resume to cut on from the last path",
                checkpoint=job.checkpoint(),
            ),
            message=reason,
        )
        self._start_reconnect()

    async def pause(self) -> None:
        job, current = self._job, self.status.job
        if job is None or current is None or current.phase != JobPhase.running:
            raise DriverUnavailable("nothing is being cut")
        self._resumed.clear()
        self._push(
            state=MachineState.paused,
            job=current.model_copy(
                update={
                    "phase": JobPhase.paused,
                    "message": "paused: the cutter finishes what is in its buffer, then waits",
                }
            ),
        )

    async def resume(self) -> None:
        current = self.status.job
        if current is None or current.phase != JobPhase.paused:
            raise DriverUnavailable("nothing is paused")
        self._push(
            state=MachineState.busy,
            job=current.model_copy(update={"phase": JobPhase.running, "message": None}),
        )
        self._resumed.set()

    async def cancel(self) -> None:
        job, current = self._job, self.status.job
        if (
            job is None
            or current is None
            or current.phase
            not in (
                JobPhase.running,
                JobPhase.paused,
                JobPhase.starting,
            )
        ):
            return
        self._cancelled = True
        self._resumed.set()
        line = self._line
        if line is not None:
            line.abort_write()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        message = "cancelled"
        if line is not None and line.is_open:
            await line.discard_output()
            try:
                async with asyncio.timeout(5.0):
                    await self._write(self.cfg.cancel_sequence.encode())
            except (TimeoutError, DriverUnavailable, _Stalled):
                line.abort_write()
                message = "cancelled; the cutter did not take the stop sequence: check it"
        self._push(
            state=MachineState.idle if line is not None else MachineState.offline,
            job=current.model_copy(
                update={"phase": JobPhase.cancelled, "eta_s": None, "message": message}
            ),
        )

    async def emergency_stop(self) -> str:
        """Stop sending at once and raise the tool (``PU;``). What the cutter already
        holds in its own buffer it may still cut: its own stop button stops that."""
        self._cancelled = True
        self._resumed.set()
        line = self._line
        if line is not None:
            line.abort_write()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        said = "stopped sending; the cutter is not connected, raise the blade by hand"
        if line is not None and line.is_open:
            await line.discard_output()
            said = "stopped sending and raised the tool (PU;)"
            try:
                async with asyncio.timeout(5.0):
                    await self._write(b"PU;")
            except (TimeoutError, DriverUnavailable, _Stalled):
                line.abort_write()
                said = "stopped sending; the cutter did not take PU;: raise the blade by hand"
        self._job = None
        open_line = line is not None and line.is_open
        self._push(
            state=MachineState.idle if open_line else MachineState.offline,
            job=None,
            message=f"emergency stop: {said}",
        )
        return said

    async def release(self) -> None:
        if self._task is not None and not self._task.done():
            await self.cancel()
        self._job = None
        state = MachineState.idle if self._line is not None and self._line.is_open else None
        self._push(state=state or MachineState.offline, job=None)


class _Stalled(Exception):
    pass
