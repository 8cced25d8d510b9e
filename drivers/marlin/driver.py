"""Marlin printers over USB serial: numbered, checksummed lines streamed from the host.

One task owns the line: it opens the port (again and again while the printer is away),
greets the firmware (``M110 N0``, ``M115``), then reads every reply and decides what to
write next. The protocol bookkeeping is in ``marlin_stream`` (pure), the print's in
``marlin_job`` (pure); this module joins them to the transport and to the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from drivers.base import (
    Driver,
    DriverCapabilities,
    DriverUnavailable,
    JobPhase,
    JobProgress,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
    StatusCallback,
    Temperature,
)
from drivers.marlin.config import MarlinSerialConfig
from drivers.marlin.file import FileProblem, prepare
from drivers.marlin.job import LineMeta, Marker, PrintJob, Scripts, Stage, resume_point
from drivers.marlin.protocol import LineError, Reply, ReplyKind, frame, parse_reply
from drivers.marlin.state import PrintState
from drivers.marlin.stream import LineStream, StreamBroken
from drivers.transports.serial import SerialTransport
from fabqueue.clock import Clock

_LOST = object()
_UNNUMBERED_OK = re.compile(r"ok P\d+ B\d+")


class MarlinSerialDriver(Driver[MarlinSerialConfig]):
    name = "marlin_serial"
    Config = MarlinSerialConfig
    default_capabilities = DriverCapabilities(
        file_types=frozenset({"gcode", "gco", "g"}),
        can_pause=True,
        reports_progress=True,
        can_resume=True,
    )

    def __init__(
        self, machine: str, config: MarlinSerialConfig, *, on_status: StatusCallback, clock: Clock
    ) -> None:
        super().__init__(machine, config, on_status=on_status, clock=clock)
        self.scripts = Scripts(
            self.cfg.pause_script,
            self.cfg.resume_script,
            self.cfg.recover_script,
            self.cfg.cancel_script,
        )
        self._task: asyncio.Task[None] | None = None
        self._transport: SerialTransport | None = None
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._settled = asyncio.Event()
        self.stream: LineStream | None = None
        self.job: PrintJob | None = None
        self.capabilities_seen: dict[str, bool] = {}
        self.firmware_name = ""
        self._ready = False
        self._halted = False
        self._resync = False
        self._last_rx = 0.0
        self._timeouts = 0
        self._keepalive_seen = False
        self._last_error: LineError | None = None
        self._last_message = ""
        self._next_poll = 0.0
        self._last_report = 0.0
        self._dirty = False
        self._temps: dict[str, Temperature] = {}
        self._planner_blocks = 16
        self._prev: ReplyKind | None = None
        self._prev_unknown = False
        self.stats_timeouts = 0
        self.stray_commands = 0
        """Commands the firmware ran without a line number (see ``_check_stray``)."""

    # --- life cycle ----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._task is None or self._task.done():
            self._push(state=MachineState.connecting, message=None)
            self._task = asyncio.create_task(self._supervise(), name=f"marlin-{self.machine}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_transport()

    async def _close_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def probe(self) -> MachineStatus:
        """The state once the greeting is over (the first answer takes a moment)."""
        if self._task is not None and self.status.state == MachineState.connecting:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.handshake_timeout_s + 0.5):
                    await self._settled.wait()
        return self.status

    def _push(self, **changes: Any) -> MachineStatus:
        status = super()._push(**changes)
        if status.state == MachineState.connecting:
            self._settled.clear()
        else:
            self._settled.set()
        return status

    async def _supervise(self) -> None:
        while True:
            try:
                await self._session()
            except DriverUnavailable as exc:
                self._lose(str(exc))
            except Exception as exc:  # a bug must not leave the printer unwatched
                self.log.exception("the Marlin session failed")
                self._lose(f"internal error: {exc}")
            finally:
                await self._close_transport()
            await asyncio.sleep(self.cfg.reconnect_s)

    def _lose(self, why: str) -> None:
        """The printer went away (cable, power, reset): the job is lost, not failed."""
        self._ready = False
        job, self.job = self.job, None
        changes: dict[str, Any] = {"state": MachineState.offline, "message": why}
        if job is not None:
            changes["job"] = self._progress(job, JobPhase.lost, f"connection lost: {why}")
        self._push(**changes)

    # --- one connection ------------------------------------------------------------------------

    async def _session(self) -> None:
        transport = SerialTransport(self.cfg.port, self.cfg.baud, low_latency=self.cfg.low_latency)
        await transport.open()
        self._transport = transport
        self._inbox = asyncio.Queue()
        reader = asyncio.create_task(self._read(transport), name=f"marlin-rx-{self.machine}")
        try:
            await self._handshake()
            await self._serve()
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, transport: SerialTransport) -> None:
        try:
            while True:
                line = await transport.readline()
                if line is not None:
                    self._inbox.put_nowait(line)
        except DriverUnavailable as exc:
            self._inbox.put_nowait((_LOST, str(exc)))

    async def _next_line(self, timeout: float | None) -> Reply | None:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that lands as the item arrives, and close() would wait forever.
            async with asyncio.timeout(timeout):
                item = await self._inbox.get()
        except TimeoutError:
            return None
        if isinstance(item, tuple):
            raise DriverUnavailable(item[1])
        text = item.decode("latin-1").strip()
        reply = parse_reply(text)
        if self._alive(reply):
            self._last_rx = self.clock.monotonic()
        if reply.kind not in (ReplyKind.ok, ReplyKind.temperature, ReplyKind.busy):
            self.log.debug("<< %s", text)
        return reply

    def _alive(self, reply: Reply) -> bool:
        """Does this reply show the firmware is getting on with our lines? Periodic
        temperature reports do not (they go on while an ok is lost), except while it
        waits for a heater."""
        if reply.kind in (ReplyKind.ok, ReplyKind.resend, ReplyKind.busy, ReplyKind.error):
            return True
        if reply.kind == ReplyKind.temperature and reply.text.rstrip().endswith("W:?"):
            return True
        return reply.kind == ReplyKind.temperature and self._heating()

    def _heating(self) -> bool:
        stream = self.stream
        if stream is None:
            return False
        for n in range(stream.acked + 1, stream.sent_hi + 1):
            meta = stream.meta(n)
            if isinstance(meta, LineMeta) and meta.long_running:
                return True
        return False

    async def _write(self, data: bytes) -> None:
        if self._transport is None:
            raise DriverUnavailable("the port is closed")
        await self._transport.write(data)

    async def _handshake(self) -> None:
        """``M110 N0`` until the firmware answers, then learn what it can do (``M115``)."""
        self._ready = self._halted = False
        self._push(state=MachineState.connecting)
        deadline = self.clock.monotonic() + self.cfg.handshake_timeout_s
        hello: Reply | None = None
        while hello is None:
            if self.clock.monotonic() > deadline:
                raise DriverUnavailable(
                    f"no answer from {self.cfg.port} at {self.cfg.baud} baud "
                    "(is it a Marlin printer, and is the baud rate right?)"
                )
            await self._write(frame(0, b"M110 N0"))
            until = self.clock.monotonic() + 1.0
            while hello is None and self.clock.monotonic() < until:
                reply = await self._next_line(max(0.01, until - self.clock.monotonic()))
                if reply is not None and reply.kind == ReplyKind.ok:
                    hello = reply
        advanced = hello.number is not None and hello.buffer_free is not None
        window = min(self.cfg.max_in_flight, hello.buffer_free or 1) if advanced else 1
        if hello.planner_free is not None:
            self._planner_blocks = hello.planner_free + 1
        self.stream = LineStream(
            windowed=advanced and self.cfg.windowed and window > 1,
            window=window,
            calm_lines=self.cfg.calm_lines,
            byte_s=10.0 / self.cfg.baud,
        )
        self.capabilities_seen = {}
        self._keepalive_seen = False
        self._timeouts = 0
        self._inject(b"M115")
        await self._pump()
        while not self._ready:
            reply = await self._next_line(self.cfg.handshake_timeout_s)
            if reply is None:
                raise DriverUnavailable("the printer did not answer M115")
            await self._handle(reply)
            if self.stream.idle:
                self._ready = True
        if self.capabilities_seen.get("AUTOREPORT_TEMP"):
            self._inject(b"M155 S%d" % max(1, round(self.cfg.temperature_interval_s)))
        self.log.info(
            "connected to %s (%s, %s)",
            self.cfg.port,
            self.firmware_name or "unknown firmware",
            f"window {window}" if self.stream.windowed else "one line in flight",
        )
        self._push(state=MachineState.idle, message=None)

    def _inject(self, command: bytes) -> None:
        """A command of our own (not the file's), numbered like the rest."""
        assert self.stream is not None
        meta = self.job.here() if self.job is not None else LineMeta(0, PrintState())
        self.stream.add(command, meta)

    async def _serve(self) -> None:
        while True:
            if self._resync:
                # The numbering can no longer be trusted: start it again from 0.
                self._resync = False
                await self._handshake()
            timeout = self._wait_time()
            reply = await self._next_line(timeout)
            if reply is not None:
                await self._handle(reply)
            await self._tick()
            await self._pump()

    # --- reading the printer -------------------------------------------------------------------

    async def _handle(self, reply: Reply) -> None:
        try:
            await self._dispatch(reply)
        finally:
            self._prev = reply.kind
            self._prev_unknown = reply.text.startswith("echo:Unknown command")

    def _check_stray(self, reply: Reply) -> None:
        """With ADVANCED_OK every ok for our lines names the line. A bare ok that follows
        neither a resend request nor an "Unknown command" means the firmware ran a line
        without its number: the tail of a line it cut in two after a transmission error
        (docs/printers.md). Nothing can undo it; say so on the job."""
        stream = self.stream
        if (
            stream is None
            or not stream.windowed
            # Exactly Marlin's form for a command without a number; a garbled
            # "ok N123 P15 B3" would not look like this.
            or _UNNUMBERED_OK.fullmatch(reply.text) is None
            or self._prev in (ReplyKind.resend, ReplyKind.error)
            or self._prev_unknown
        ):
            return
        self.stray_commands += 1
        self.log.warning("the printer ran a command without its line number (line noise)")
        if self.job is not None:
            self.job.message = (
                "line noise: the printer may have run a piece of a line out of order; "
                "check the part"
            )
            self._dirty = True

    async def _dispatch(self, reply: Reply) -> None:
        stream = self.stream
        assert stream is not None
        kind = reply.kind
        if reply.temperatures:
            self._set_temps(reply.temperatures)
        if kind in (ReplyKind.ok, ReplyKind.resend):
            if self._halted:
                return
            self._timeouts = 0
            before = stream.acked
            try:
                moved = stream.on_reply(reply, self.clock.monotonic(), self._last_error)
            except StreamBroken as exc:
                self._fail(str(exc), MachineState.error)
                self._resync = True
                return
            self._last_error = None
            if kind == ReplyKind.ok:
                self._check_stray(reply)
            if moved and stream.acked > before:
                self._on_acked(stream.acked)
        elif kind == ReplyKind.error:
            self._last_error = reply.line_error
            if reply.line_error is None:
                self._last_message = reply.text
                self.log.warning("printer error: %s", reply.text)
        elif kind == ReplyKind.fatal:
            reason = self._last_message
            message = f"{reason} — {reply.text}" if reason else reply.text
            self._halted = True
            self._fail(f"the printer stopped: {message}", MachineState.error)
        elif kind == ReplyKind.busy:
            self._keepalive_seen = True
        elif kind == ReplyKind.start:
            if self._ready or self.job is not None:
                raise DriverUnavailable("the printer restarted")
        elif kind == ReplyKind.capability:
            self.capabilities_seen[reply.name] = reply.enabled
        elif kind == ReplyKind.firmware:
            self.firmware_name = reply.name
        elif kind == ReplyKind.action:
            await self._on_action(reply.name)
        elif kind == ReplyKind.wait and stream.outstanding:
            self._prod()

    def _on_acked(self, number: int) -> None:
        assert self.stream is not None
        job = self.job
        meta = self.stream.meta(number)
        if job is None or not isinstance(meta, LineMeta):
            return
        marker = job.on_ack(meta)
        if marker == Marker.done:
            self._end(job, JobPhase.done, job.message)  # a line-noise warning outlives the job
        elif marker == Marker.cancelled:
            self._end(job, JobPhase.cancelled, job.message)
        elif marker == Marker.paused:
            self._push(
                state=MachineState.paused,
                job=self._progress(job, JobPhase.paused, job.message),
            )
        else:
            self._dirty = True

    def _set_temps(self, temps: dict[str, tuple[float, float | None]]) -> None:
        for name, (actual, target) in temps.items():
            self._temps[name] = Temperature(actual=actual, target=target)
        if self.job is not None:
            self.job.note_targets({name: target for name, (_, target) in temps.items()})
        self._dirty = True

    async def _on_action(self, action: str) -> None:
        """Buttons pressed on the printer itself during a print from the host."""
        if self.job is None:
            return
        if action == "pause" and self.job.pause():
            self.job.message = "paused at the printer"
        elif action == "resume" and self.job.resume():
            self._push(state=MachineState.busy, job=self._progress(self.job, JobPhase.running))
        elif action == "cancel":
            self.job.message = "cancelled at the printer"
            self.job.cancel()

    # --- time ----------------------------------------------------------------------------------

    def _silence_limit(self) -> float:
        stream = self.stream
        assert stream is not None
        long_running = False
        motion = 0.0
        for n in range(max(1, stream.acked - self._planner_blocks), stream.sent_hi + 1):
            meta = stream.meta(n)
            if isinstance(meta, LineMeta):
                motion += meta.move_s
                long_running = long_running or (n > stream.acked and meta.long_running)
        if long_running and not self._keepalive_seen:
            return self.cfg.long_command_timeout_s
        return self.cfg.timeout_s + motion * self.cfg.motion_timeout_factor

    def _wait_time(self) -> float:
        now = self.clock.monotonic()
        stream = self.stream
        assert stream is not None
        deadlines = [now + self.cfg.report_interval_s]
        if stream.outstanding:
            deadlines.append(self._last_rx + self._silence_limit())
        if not self.capabilities_seen.get("AUTOREPORT_TEMP"):
            deadlines.append(self._next_poll)
        extra = stream.next_deadline()
        if extra is not None:
            deadlines.append(extra)
        return max(0.0, min(deadlines) - now)

    async def _tick(self) -> None:
        stream = self.stream
        assert stream is not None
        now = self.clock.monotonic()
        stream.tick(now)
        if stream.outstanding and not self._halted and now - self._last_rx > self._silence_limit():
            self._timeouts += 1
            self.stats_timeouts += 1
            if self._timeouts > self.cfg.max_timeouts:
                raise DriverUnavailable(
                    f"the printer stopped answering ({self._timeouts - 1} prods unanswered)"
                )
            self.log.warning("no answer for %.1f s; asking the printer", now - self._last_rx)
            self._last_rx = now
            self._prod()
        if (
            not self.capabilities_seen.get("AUTOREPORT_TEMP")
            and now >= self._next_poll
            and not self._halted
            and stream.in_flight < 2
        ):
            self._next_poll = now + self.cfg.temperature_interval_s
            self._inject(b"M105")
        if self._dirty and now - self._last_report >= self.cfg.report_interval_s:
            self._report()

    def _prod(self) -> None:
        """Make the firmware say where it is (see ``LineStream.timeout``)."""
        assert self.stream is not None
        self.stream.timeout()

    async def _pump(self) -> None:
        stream = self.stream
        assert stream is not None
        if self._halted:
            return
        while True:
            while stream.wants_line() and self.job is not None:
                item = self.job.next_command()
                if item is None:
                    break
                stream.add(*item)
            frames = stream.take()
            if not frames:
                return
            await self._write(b"".join(frames))

    # --- status --------------------------------------------------------------------------------

    def _progress(self, job: PrintJob, phase: JobPhase, message: str | None = None) -> JobProgress:
        done = phase == JobPhase.done
        return JobProgress(
            ref=job.ticket.ref,
            phase=phase,
            progress=1.0 if done else job.progress,
            eta_s=0.0 if done else job.eta_s(),
            message=message,
            checkpoint=job.checkpoint(),
        )

    def _report(self) -> None:
        self._dirty = False
        self._last_report = self.clock.monotonic()
        changes: dict[str, Any] = {"temperatures": dict(self._temps)}
        job = self.job
        if job is not None and job.stage in (Stage.running, Stage.finishing, Stage.pausing):
            changes["job"] = self._progress(job, JobPhase.running, job.message)
        self._push(**changes)

    def _end(self, job: PrintJob, phase: JobPhase, message: str | None) -> None:
        self.job = None
        self._push(state=MachineState.idle, job=self._progress(job, phase, message))

    def _fail(self, message: str, state: MachineState) -> None:
        job, self.job = self.job, None
        changes: dict[str, Any] = {"state": state, "message": message}
        if job is not None:
            changes["job"] = self._progress(job, JobPhase.failed, message)
        self._push(**changes)

    # --- orders from the dispatcher ------------------------------------------------------------

    async def start(self, ticket: JobTicket) -> None:
        reason = self.supports(ticket)
        if reason is not None:
            raise JobRejected(reason)
        if not self._ready or self.status.state != MachineState.idle or self.job is not None:
            raise DriverUnavailable(f"the printer is {self.status.state.value}")
        offset, state = 0, None
        if ticket.resume_from:
            try:
                size = ticket.file_path.stat().st_size
                offset, state = resume_point(ticket.resume_from, size)
            except (OSError, ValueError) as exc:
                raise JobRejected(f"cannot resume: {exc}; requeue the job instead") from exc
        try:
            prepared = await asyncio.to_thread(prepare, ticket.file_path, offset)
        except FileProblem as exc:
            raise JobRejected(str(exc)) from exc
        if not self._ready or self.job is not None:
            raise DriverUnavailable("the printer went away while the file was read")
        self.job = PrintJob(ticket, prepared, self.scripts, state)
        self.job.note_targets({name: t.target for name, t in self._temps.items()})
        self._push(
            state=MachineState.busy, job=self._progress(self.job, JobPhase.running), message=None
        )
        await self._kick()

    async def _kick(self) -> None:
        """Orders arrive from other tasks: let the line task act on them now."""
        if self._ready and self.stream is not None:
            try:
                await self._pump()
            except DriverUnavailable as exc:
                self.log.warning("write failed: %s", exc)

    async def pause(self) -> None:
        job = self.job
        if job is None or not job.pause():
            raise DriverUnavailable("nothing is printing that could pause")
        await self._kick()

    async def resume(self) -> None:
        job = self.job
        if job is None or not job.resume():
            raise DriverUnavailable("nothing is paused")
        job.message = None
        self._push(state=MachineState.busy, job=self._progress(job, JobPhase.running))
        await self._kick()

    async def cancel(self) -> None:
        job = self.job
        if job is None:
            return
        if self._halted or not self._ready:
            self._end(job, JobPhase.cancelled, "cancelled; the printer was not answering")
            return
        job.cancel()
        await self._kick()

    async def release(self) -> None:
        if self.job is not None:
            await self.cancel()
        self._push(job=None)

    async def emergency_stop(self) -> None:
        """``M112`` at once, outside the numbered stream: Marlin's emergency parser acts on
        it as the bytes arrive. The printer halts and must be reset by hand."""
        if self._transport is None:
            raise DriverUnavailable("the printer is not connected")
        await self._transport.write(b"M112\n")
        self._halted = True
        self._fail(
            "emergency stop (M112): reset the printer before printing again", MachineState.error
        )
