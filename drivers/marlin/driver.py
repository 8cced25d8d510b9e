"""Marlin printers over USB serial: numbered, checksummed lines streamed from the host.

One thread owns the line: it opens the port (again and again while the printer is
away), greets the firmware (``M110 N0``, ``M115``), then reads every reply, does the
ok/resend bookkeeping and writes what comes next, all with blocking calls of its own.
The event loop never touches the port: its orders (start, pause, resume, cancel) go to
the thread through a queue, and the thread's status snapshots come back to the loop with
``call_soon_threadsafe``. So a loop busy with other work (an upload being analysed, fifty
readers) cannot starve a printer of lines; before, the stream stalled 20-390 ms at a
time on a busy server (docs/printers.md, "Streaming speed").

The thread's work is :class:`drivers.marlin.line.MarlinLine`; this module is the face
the dispatcher talks to. The protocol bookkeeping is in :mod:`drivers.marlin.stream`
(pure), the print's in :mod:`drivers.marlin.job` (pure).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from drivers.base import (
    Clock,
    Driver,
    DriverCapabilities,
    DriverUnavailable,
    JobPhase,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
    StatusCallback,
)
from drivers.marlin.config import MarlinSerialConfig
from drivers.marlin.file import FileProblem, prepare
from drivers.marlin.job import PrintJob, Scripts, resume_point
from drivers.marlin.line import MarlinLine
from drivers.marlin.stream import LineStream

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


class MarlinSerialDriver(Driver[MarlinSerialConfig]):
    name = "marlin_serial"
    own_process = True
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._settled = asyncio.Event()
        self.line = MarlinLine(self.cfg, self.scripts, post=self._post, log=self.log)

    # What the line thread knows, for the curious (benchmarks, tests, check-profiles).

    @property
    def stream(self) -> LineStream | None:
        return self.line.stream

    @property
    def job(self) -> PrintJob | None:
        return self.line.job

    @property
    def stats_timeouts(self) -> int:
        return self.line.stats_timeouts

    @property
    def stray_commands(self) -> int:
        return self.line.stray_commands

    @property
    def firmware_name(self) -> str:
        return self.line.firmware_name

    @property
    def capabilities_seen(self) -> dict[str, bool]:
        return self.line.capabilities_seen

    # --- life cycle ----------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._loop = asyncio.get_running_loop()
            self._push(state=MachineState.connecting, message=None)
            self.line.stopping.clear()
            _shorten_switch_interval()
            self._thread = threading.Thread(
                target=self.line.run, name=f"marlin-{self.machine}", daemon=True
            )
            self._thread.start()

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        self.line.stopping.set()
        self.line.wake()
        if thread is not None:
            await asyncio.to_thread(thread.join, 10.0)
        if thread is None or not thread.is_alive():
            self.line.run_orders()  # one that raced with the thread's end must not hang

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

        self.line.orders.put(run)
        self.line.wake()
        return await asyncio.wrap_future(done)

    # --- orders from the dispatcher ------------------------------------------------------------

    async def start(self, ticket: JobTicket) -> None:
        reason = self.supports(ticket)
        if reason is not None:
            raise JobRejected(reason)
        if not self.line.ready or self.status.state != MachineState.idle or self.job is not None:
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
        await self._order(functools.partial(self.line.begin, ticket, prepared, state))

    async def pause(self) -> None:
        await self._order(self.line.pause)

    async def resume(self) -> None:
        await self._order(self.line.resume)

    async def cancel(self) -> None:
        job = self.job
        if job is None:
            return
        if self._thread is None or not self._thread.is_alive():
            self.line.job = None
            self._push(
                state=MachineState.idle,
                job=self.line.progress(job, JobPhase.cancelled, "cancelled; the printer was away"),
            )
            return
        await self._order(self.line.cancel)

    async def release(self) -> None:
        if self.job is not None:
            await self.cancel()
        self._push(job=None)

    async def emergency_stop(self) -> str:
        """``M112`` at once, outside the numbered stream: Marlin's emergency parser acts on
        it as the bytes arrive. The printer halts and must be reset by hand."""
        if not self.line.ready:
            raise DriverUnavailable("the printer is not connected")
        await asyncio.to_thread(self.line.write_now, b"M112\n")
        await self._order(self.line.halt)
        return "M112 sent: the printer halted; reset it before printing again"
