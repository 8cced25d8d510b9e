"""One Marlin printer's line, run by a thread of its own: the connection, the greeting,
every reply read and acted on, the next lines written, the timeouts.

Everything here runs on that thread, with blocking calls (:class:`BlockingLine`); the
event loop's orders arrive through ``orders`` (run between two replies) and every
status change leaves through ``post`` (which hands it to the loop). See
:mod:`drivers.marlin.driver` for the side the dispatcher talks to. The line's timing
(timeouts, resend holds) is the port's real time, ``time.monotonic``, whatever clock the
service injects for its own schedule.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from drivers.base import DriverUnavailable, JobPhase, JobProgress, MachineState, Temperature
from drivers.marlin.config import MarlinSerialConfig
from drivers.marlin.file import PreparedFile
from drivers.marlin.job import LineMeta, Marker, PrintJob, Scripts, Stage
from drivers.marlin.protocol import LineError, Reply, ReplyKind, frame, parse_reply
from drivers.marlin.state import PrintState
from drivers.marlin.stream import LineStream, StreamBroken
from drivers.transports.blocking_line import BlockingLine

_UNNUMBERED_OK = re.compile(r"ok P\d+ B\d+")

Post = Callable[..., None]
"""``post(**changes)``: a status change, handed to the event loop (in order)."""


class _Stopping(Exception):
    """close() was called: the line thread winds down."""


class MarlinLine:
    """The line thread's state and work. Only that thread changes it; the event loop
    reads a few fields (``ready``, ``job``) to refuse orders early."""

    def __init__(
        self,
        cfg: MarlinSerialConfig,
        scripts: Scripts,
        *,
        post: Post,
        log: logging.Logger,
    ) -> None:
        self.cfg = cfg
        self.scripts = scripts
        self.post = post
        self.log = log
        self.stopping = threading.Event()
        self.orders: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._line: BlockingLine | None = None
        self.stream: LineStream | None = None
        self.job: PrintJob | None = None
        self.capabilities_seen: dict[str, bool] = {}
        self.firmware_name = ""
        self._ready = False
        self._halted = False
        self._resync = False
        self._last_rx = 0.0
        self._timeouts = 0
        self.keepalive_seen = False
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

    @property
    def ready(self) -> bool:
        return self._ready

    def wake(self) -> None:
        """Make the thread look at its orders now (from any thread)."""
        line = self._line
        if line is not None:
            line.wake()

    def run(self) -> None:
        """The thread's body, until ``stopping`` is set."""
        self._supervise()

    def _supervise(self) -> None:
        while not self.stopping.is_set():
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
            self.run_orders()
            self.stopping.wait(self.cfg.reconnect_s)
        self.run_orders()

    def _close_line(self) -> None:
        line, self._line = self._line, None
        if line is not None:
            line.dispose()

    def run_orders(self) -> None:
        """The event loop's orders, in order. Between sessions too: with no printer there
        they check ``_ready`` and answer DriverUnavailable."""
        while True:
            try:
                order = self.orders.get_nowait()
            except queue.Empty:
                return
            order()

    def _lose(self, why: str) -> None:
        """The printer went away (cable, power, reset): the job is lost, not failed."""
        self._ready = False
        job, self.job = self.job, None
        changes: dict[str, Any] = {"state": MachineState.offline, "message": why}
        if job is not None:
            changes["job"] = self.progress(job, JobPhase.lost, f"connection lost: {why}")
        self.post(**changes)

    # --- one connection (line thread) ---------------------------------------------------------

    def _session(self) -> None:
        line = BlockingLine(self.cfg.port, self.cfg.baud, low_latency=self.cfg.low_latency)
        self._line = line
        line.open()
        self._handshake()
        self._serve()

    def _next_line(self, timeout: float | None) -> Reply | None:
        """The next reply, or None after ``timeout`` or when an order arrives."""
        if self.stopping.is_set():
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
        self.post(state=MachineState.connecting)
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
        self.keepalive_seen = False
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
        self.post(state=MachineState.idle, message=None)

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
            self.run_orders()
            self._tick()
            self._pump()

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
        self.keepalive_seen = True

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

    _HANDLERS: ClassVar[dict[ReplyKind, Callable[[MarlinLine, Reply], None]]] = {
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
            self.post(
                state=MachineState.paused,
                job=self.progress(job, JobPhase.paused, job.message),
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
            self.post(state=MachineState.busy, job=self.progress(self.job, JobPhase.running))
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
        if long_running and not self.keepalive_seen:
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

    def progress(self, job: PrintJob, phase: JobPhase, message: str | None = None) -> JobProgress:
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
            changes["job"] = self.progress(job, JobPhase.running, job.message)
        self.post(**changes)

    def _end(self, job: PrintJob, phase: JobPhase, message: str | None) -> None:
        self.job = None
        self.post(state=MachineState.idle, job=self.progress(job, phase, message))

    def _fail(self, message: str, state: MachineState) -> None:
        job, self.job = self.job, None
        changes: dict[str, Any] = {"state": state, "message": message}
        if job is not None:
            changes["job"] = self.progress(job, JobPhase.failed, message)
        self.post(**changes)

    # --- orders from the dispatcher (event loop; acted on by the line thread) -----------------

    # --- orders (run on the thread, from the event loop's queue) -------------------------------

    def begin(self, ticket: Any, prepared: PreparedFile, state: PrintState | None) -> None:
        if not self._ready or self.job is not None:
            raise DriverUnavailable("the printer went away while the file was read")
        job = PrintJob(ticket, prepared, self.scripts, state)
        job.note_targets({name: t.target for name, t in self._temps.items()})
        self.job = job
        self.post(state=MachineState.busy, job=self.progress(job, JobPhase.running), message=None)
        self._pump()

    def pause(self) -> None:
        job = self.job
        if job is None or not job.pause():
            raise DriverUnavailable("nothing is printing that could pause")
        self._pump()

    def resume(self) -> None:
        job = self.job
        if job is None or not job.resume():
            raise DriverUnavailable("nothing is paused")
        job.message = None
        self.post(state=MachineState.busy, job=self.progress(job, JobPhase.running))
        self._pump()

    def cancel(self) -> None:
        job = self.job
        if job is None:
            return
        if self._halted or not self._ready:
            self._end(job, JobPhase.cancelled, "cancelled; the printer was not answering")
            return
        job.cancel()
        self._pump()

    def halt(self) -> None:
        """After an ``M112`` written outside the stream."""
        self._halted = True
        self._fail(
            "emergency stop (M112): reset the printer before printing again", MachineState.error
        )

    def write_now(self, data: bytes) -> None:
        """Bytes outside the numbered stream (``M112``), from any thread."""
        line = self._line
        if line is None:
            raise DriverUnavailable("the printer is not connected")
        line.write(data)
