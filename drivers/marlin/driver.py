"""Marlin printers over USB serial: numbered, checksummed lines streamed from the host.

One thread owns the line: it opens the port (again and again while the printer is
away), greets the firmware (``M110 N0``, ``M115``), then reads every reply, does the
ok/resend bookkeeping and writes what comes next, all with blocking calls of its own.
The event loop never touches the port: its orders (start, pause, resume, cancel) go to
the thread through a queue, and the thread's status snapshots come back to the loop with
``call_soon_threadsafe``. So a loop busy with other work (an upload being analysed, fifty
readers) cannot starve a printer of lines; before, the stream stalled 20-390 ms at a
time on a busy server (docs/printers.md, "Streaming speed").

The protocol bookkeeping is in :mod:`drivers.marlin.stream` (pure), the print's in
:mod:`drivers.marlin.job` (pure); this module joins them to the line and to the
dispatcher. The line's timing (timeouts, resend holds) is the real time of the port,
``time.monotonic``, whatever clock the service injects for its own schedule.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

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
from drivers.transports.blocking_line import BlockingLine
from fabqueue.clock import Clock

_UNNUMBERED_OK = re.compile(r"ok P\d+ B\d+")
T = TypeVar("T")


SWITCH_INTERVAL_S = 0.0002
"""The interpreter's thread switch interval while a printer is connected (CPython's
default is 5 ms). The line thread lets go of the interpreter lock at every wait, read
and write; while another thread computes (the event loop in a slow handler, an
analysis), taking it back can cost a whole interval each time: three per reply, 15 ms,
more than the firmware's few buffered lines last at 115200 baud. Measured on the
emulator (docs/printers.md): the stream kept about half its pace at 5 ms."""


def _shorten_switch_interval() -> None:
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)


class _Stopping(Exception):
    """close() was called: the line thread winds down."""


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
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._line: BlockingLine | None = None
        self._orders: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
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

    # --- life cycle (event loop) --------------------------------------------------------------

    async def connect(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._loop = asyncio.get_running_loop()
            self._push(state=MachineState.connecting, message=None)
            self._stopping.clear()
            _shorten_switch_interval()
            self._thread = threading.Thread(
                target=self._supervise, name=f"marlin-{self.machine}", daemon=True
            )
            self._thread.start()

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        self._stopping.set()
        self._wake()
        if thread is not None:
            await asyncio.to_thread(thread.join, 10.0)
        if thread is None or not thread.is_alive():
            self._refuse_orders()  # one that raced with the thread's end must not hang

    async def probe(self) -> MachineStatus:
        """The state once the greeting is over (the first answer takes a moment)."""
        if self._thread is not None and self.status.state == MachineState.connecting:
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

    def _post(self, **changes: Any) -> None:
        """A status change seen by the line thread, applied on the event loop (in order)."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(functools.partial(self._push, **changes))

    def _wake(self) -> None:
        line = self._line
        if line is not None:
            line.wake()

    async def _order(self, action: Callable[[], T]) -> T:
        """Run ``action`` on the line thread (where the job and the stream live) and
        return what it returns, or raise what it raises."""
        if self._thread is None or not self._thread.is_alive():
            raise DriverUnavailable("the printer is not connected")
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not done.set_running_or_notify_cancel():
                return
            try:
                done.set_result(action())
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)

        self._orders.put(run)
        self._wake()
        return await asyncio.wrap_future(done)

    # --- life cycle (line thread) --------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            try:
                self._session()
            except _Stopping:
                self._ready = False
            except DriverUnavailable as exc:
                self._lose(str(exc))
            except Exception as exc:  # a bug must not leave the printer unwatched
                self.log.exception("the Marlin session failed")
                self._lose(f"internal error: {exc}")
            finally:
                self._close_line()
            self._refuse_orders()
            self._stopping.wait(self.cfg.reconnect_s)
        self._refuse_orders()

    def _close_line(self) -> None:
        line, self._line = self._line, None
        if line is not None:
            line.dispose()

    def _refuse_orders(self) -> None:
        """Orders that arrived while no printer was there: run them now (they check
        ``_ready`` and answer DriverUnavailable)."""
        while True:
            try:
                order = self._orders.get_nowait()
            except queue.Empty:
                return
            order()

    def _lose(self, why: str) -> None:
        """The printer went away (cable, power, reset): the job is lost, not failed."""
        self._ready = False
        job, self.job = self.job, None
        changes: dict[str, Any] = {"state": MachineState.offline, "message": why}
        if job is not None:
            changes["job"] = self._progress(job, JobPhase.lost, f"connection lost: {why}")
        self._post(**changes)

    # --- one connection (line thread) ---------------------------------------------------------

    def _session(self) -> None:
        line = BlockingLine(self.cfg.port, self.cfg.baud, low_latency=self.cfg.low_latency)
        self._line = line
        line.open()
        self._handshake()
        self._serve()

    def _next_line(self, timeout: float | None) -> Reply | None:
        """The next reply, or None after ``timeout`` or when an order arrives."""
        if self._stopping.is_set():
            raise _Stopping
        line = self._line
        if line is None:
            raise DriverUnavailable("the port is closed")
        raw = line.readline(timeout if timeout is not None else 1.0)
        if raw is None:
            return None
        text = raw.decode("latin-1").strip()
        reply = parse_reply(text)
        if self._alive(reply):
            self._last_rx = time.monotonic()
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

    def _write(self, data: bytes) -> None:
        if self._line is None:
            raise DriverUnavailable("the port is closed")
        self._line.write(data)

    def _handshake(self) -> None:
        """``M110 N0`` until the firmware answers, then learn what it can do (``M115``)."""
        self._ready = self._halted = False
        self._post(state=MachineState.connecting)
        deadline = time.monotonic() + self.cfg.handshake_timeout_s
        hello: Reply | None = None
        while hello is None:
            if time.monotonic() > deadline:
                raise DriverUnavailable(
                    f"no answer from {self.cfg.port} at {self.cfg.baud} baud "
                    "(is it a Marlin printer, and is the baud rate right?)"
                )
            self._write(frame(0, b"M110 N0"))
            until = time.monotonic() + 1.0
            while hello is None and time.monotonic() < until:
                reply = self._next_line(max(0.01, until - time.monotonic()))
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
        self._pump()
        deadline = time.monotonic() + self.cfg.handshake_timeout_s
        while not self._ready:
            reply = self._next_line(max(0.0, deadline - time.monotonic()))
            if reply is None:
                if time.monotonic() < deadline:
                    continue  # woken by an order: it waits for the greeting to end
                raise DriverUnavailable("the printer did not answer M115")
            self._handle(reply)
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
        self._post(state=MachineState.idle, message=None)

    def _inject(self, command: bytes) -> None:
        """A command of our own (not the file's), numbered like the rest."""
        assert self.stream is not None
        meta = self.job.here() if self.job is not None else LineMeta(0, PrintState())
        self.stream.add(command, meta)

    def _serve(self) -> None:
        while True:
            if self._resync:
                # The numbering can no longer be trusted: start it again from 0.
                self._resync = False
                self._handshake()
            reply = self._next_line(self._wait_time())
            if reply is not None:
                self._handle(reply)
            self._run_orders()
            self._tick()
            self._pump()

    def _run_orders(self) -> None:
        while True:
            try:
                order = self._orders.get_nowait()
            except queue.Empty:
                return
            order()

    # --- reading the printer -------------------------------------------------------------------

    def _handle(self, reply: Reply) -> None:
        try:
            self._dispatch(reply)
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

    def _dispatch(self, reply: Reply) -> None:
        if reply.temperatures:
            self._set_temps(reply.temperatures)
        handler = self._HANDLERS.get(reply.kind)
        if handler is not None:
            handler(self, reply)

    def _on_line_reply(self, reply: Reply) -> None:
        """``ok`` and ``Resend:``: the stream's bookkeeping, then what the line acknowledged."""
        stream = self.stream
        assert stream is not None
        if self._halted:
            return
        self._timeouts = 0
        before = stream.acked
        try:
            moved = stream.on_reply(reply, time.monotonic(), self._last_error)
        except StreamBroken as exc:
            self._fail(str(exc), MachineState.error)
            self._resync = True
            return
        self._last_error = None
        if reply.kind == ReplyKind.ok:
            self._check_stray(reply)
        if moved and stream.acked > before:
            self._on_acked(stream.acked)

    def _on_error(self, reply: Reply) -> None:
        self._last_error = reply.line_error
        if reply.line_error is None:
            self._last_message = reply.text
            self.log.warning("printer error: %s", reply.text)

    def _on_fatal(self, reply: Reply) -> None:
        reason = self._last_message
        message = f"{reason} — {reply.text}" if reason else reply.text
        self._halted = True
        self._fail(f"the printer stopped: {message}", MachineState.error)

    def _on_busy(self, reply: Reply) -> None:
        self._keepalive_seen = True

    def _on_start(self, reply: Reply) -> None:
        if self._ready or self.job is not None:
            raise DriverUnavailable("the printer restarted")

    def _on_capability(self, reply: Reply) -> None:
        self.capabilities_seen[reply.name] = reply.enabled

    def _on_firmware(self, reply: Reply) -> None:
        self.firmware_name = reply.name

    def _on_wait(self, reply: Reply) -> None:
        if self.stream is not None and self.stream.outstanding:
            self._prod()

    _HANDLERS: ClassVar[dict[ReplyKind, Callable[[MarlinSerialDriver, Reply], None]]] = {
        ReplyKind.ok: _on_line_reply,
        ReplyKind.resend: _on_line_reply,
        ReplyKind.error: _on_error,
        ReplyKind.fatal: _on_fatal,
        ReplyKind.busy: _on_busy,
        ReplyKind.start: _on_start,
        ReplyKind.capability: _on_capability,
        ReplyKind.firmware: _on_firmware,
        ReplyKind.action: lambda self, reply: self._on_action(reply.name),
        ReplyKind.wait: _on_wait,
    }

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
            self._post(
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

    def _on_action(self, action: str) -> None:
        """Buttons pressed on the printer itself during a print from the host."""
        if self.job is None:
            return
        if action == "pause" and self.job.pause():
            self.job.message = "paused at the printer"
        elif action == "resume" and self.job.resume():
            self._post(state=MachineState.busy, job=self._progress(self.job, JobPhase.running))
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
        now = time.monotonic()
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

    def _tick(self) -> None:
        stream = self.stream
        assert stream is not None
        now = time.monotonic()
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

    def _pump(self) -> None:
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
            self._write(b"".join(frames))

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
        self._last_report = time.monotonic()
        changes: dict[str, Any] = {"temperatures": dict(self._temps)}
        job = self.job
        if job is not None and job.stage in (Stage.running, Stage.finishing, Stage.pausing):
            changes["job"] = self._progress(job, JobPhase.running, job.message)
        self._post(**changes)

    def _end(self, job: PrintJob, phase: JobPhase, message: str | None) -> None:
        self.job = None
        self._post(state=MachineState.idle, job=self._progress(job, phase, message))

    def _fail(self, message: str, state: MachineState) -> None:
        job, self.job = self.job, None
        changes: dict[str, Any] = {"state": state, "message": message}
        if job is not None:
            changes["job"] = self._progress(job, JobPhase.failed, message)
        self._post(**changes)

    # --- orders from the dispatcher (event loop; acted on by the line thread) -----------------

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

        def begin() -> None:
            if not self._ready or self.job is not None:
                raise DriverUnavailable("the printer went away while the file was read")
            job = PrintJob(ticket, prepared, self.scripts, state)
            job.note_targets({name: t.target for name, t in self._temps.items()})
            self.job = job
            self._post(
                state=MachineState.busy, job=self._progress(job, JobPhase.running), message=None
            )
            self._pump()

        await self._order(begin)

    async def pause(self) -> None:
        def pause() -> None:
            job = self.job
            if job is None or not job.pause():
                raise DriverUnavailable("nothing is printing that could pause")
            self._pump()

        await self._order(pause)

    async def resume(self) -> None:
        def resume() -> None:
            job = self.job
            if job is None or not job.resume():
                raise DriverUnavailable("nothing is paused")
            job.message = None
            self._post(state=MachineState.busy, job=self._progress(job, JobPhase.running))
            self._pump()

        await self._order(resume)

    async def cancel(self) -> None:
        def cancel() -> None:
            job = self.job
            if job is None:
                return
            if self._halted or not self._ready:
                self._end(job, JobPhase.cancelled, "cancelled; the printer was not answering")
                return
            job.cancel()
            self._pump()

        if self.job is None:
            return
        if self._thread is None or not self._thread.is_alive():
            job, self.job = self.job, None
            self._push(
                state=MachineState.idle,
                job=self._progress(job, JobPhase.cancelled, "cancelled; the printer was away"),
            )
            return
        await self._order(cancel)

    async def release(self) -> None:
        if self.job is not None:
            await self.cancel()
        self._push(job=None)

    async def emergency_stop(self) -> None:
        """``M112`` at once, outside the numbered stream: Marlin's emergency parser acts on
        it as the bytes arrive. The printer halts and must be reset by hand."""
        line = self._line
        if line is None or not self._ready:
            raise DriverUnavailable("the printer is not connected")
        await asyncio.to_thread(line.write, b"M112\n")

        def halt() -> None:
            self._halted = True
            self._fail(
                "emergency stop (M112): reset the printer before printing again",
                MachineState.error,
            )

        await self._order(halt)
