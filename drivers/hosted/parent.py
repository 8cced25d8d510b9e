"""The server's side of a driver in its own process: a :class:`Driver` whose every
method is a call through a pipe, and whose status is what the process reports.

The process is started fresh (``spawn``: never a fork of the threaded server) on
``connect``. If it dies, the machine is reported offline with the reason, calls in
flight fail as :class:`DriverUnavailable` (a vanished machine, as when its cable is
pulled: the job is interrupted), and a new process is started after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, ClassVar

from drivers.base import (
    FINAL_PHASES,
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
from drivers.hosted.child import main

log = logging.getLogger(__name__)

RESTART_AFTER_S = 2.0
"""Pause before a driver process that died is started again."""
CLOSE_TIMEOUT_S = 15.0


def in_own_process(cls: type[Driver[Any]]) -> type[Driver[Any]]:
    """``cls`` run in a process of its own (same name, config and capabilities)."""
    attrs = {
        "inner": cls,
        "name": cls.name,
        "Config": cls.Config,
        "default_capabilities": cls.default_capabilities,
    }
    return type(f"Hosted{cls.__name__}", (HostedDriver,), attrs)


class HostedDriver(Driver[Any]):
    inner: ClassVar[type[Driver[Any]]]

    def __init__(
        self, machine: str, config: Any, *, on_status: StatusCallback, clock: Clock
    ) -> None:
        super().__init__(machine, config, on_status=on_status, clock=clock)
        # Never connected: it answers what the driver can do without a process.
        self._shadow = self.inner(machine, config, on_status=lambda _s: None, clock=clock)
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._closing = False
        self._restart: asyncio.TimerHandle | None = None
        self.on_report: StatusCallback | None = None
        """Each status as the process stamped it (when the machine said it, not when
        this busy process got to it): for measuring the line's own pace."""

    @property
    def capabilities(self) -> DriverCapabilities:
        return self._shadow.capabilities

    def supports(self, ticket: JobTicket) -> str | None:
        return self._shadow.supports(ticket)

    @property
    def pid(self) -> int | None:
        """The driver process (tests and benchmarks look at it)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    # --- the process ---------------------------------------------------------------------

    async def connect(self) -> None:
        self._closing = False
        self._loop = asyncio.get_running_loop()
        if self._proc is None or not self._proc.is_alive():
            await asyncio.to_thread(self._spawn)
            proc = self._proc
            if self._closing and proc is not None:
                # close() ran while this process was starting (a restart after a
                # crash): it must not outlive the driver that was closed.
                if self._conn is not None:
                    self._conn.close()
                await asyncio.to_thread(self._end, proc)
                raise DriverUnavailable("the driver was closed while its process started")
        await self._call("connect")

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=main,
            args=(theirs, self.inner, self.machine, self.cfg),
            name=f"fabqueue-driver-{self.machine}",
            daemon=True,
        )
        proc.start()
        theirs.close()
        self._proc, self._conn = proc, ours
        threading.Thread(
            target=self._read, args=(ours,), name=f"driver-pipe-{self.machine}", daemon=True
        ).start()

    def _read(self, conn: Connection) -> None:
        """The pipe, on a thread of its own; what arrives is applied on the event loop."""
        loop = self._loop
        assert loop is not None
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError, TypeError):  # TypeError: closed while reading
                break
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._arrived, message)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._gone, conn)

    def _arrived(self, message: tuple[Any, ...]) -> None:
        if message[0] == "status":
            status: MachineStatus = message[1]
            if self.on_report is not None:
                self.on_report(status)
            self._push(**_fields(status))
            return
        _, call_id, ok, value = message
        future = self._calls.pop(call_id, None)
        if future is None or future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _gone(self, conn: Connection) -> None:
        """The process ended (asked to, or crashed)."""
        if conn is not self._conn:
            return
        self._conn = None
        for future in self._calls.values():
            if not future.done():
                future.set_exception(DriverUnavailable("the machine's driver process stopped"))
        self._calls.clear()
        if self._closing:
            return
        code = self._proc.exitcode if self._proc is not None else None
        log.error("driver process of %s ended (exit %s); starting another", self.machine, code)
        why = f"the driver process stopped (exit {code}); reconnecting"
        job = self.status.job
        if job is not None and job.phase not in FINAL_PHASES:
            # As when the cable is pulled: the job is lost where it got to, its
            # checkpoint kept so that staff can resume it.
            job = job.model_copy(update={"phase": JobPhase.lost, "message": why})
        self._push(state=MachineState.offline, job=job, message=why)
        assert self._loop is not None
        self._restart = self._loop.call_later(
            RESTART_AFTER_S, lambda: asyncio.ensure_future(self._again())
        )

    async def _again(self) -> None:
        if self._closing:
            return
        try:
            await self.connect()
        except Exception:  # it reports offline itself; try again later
            log.exception("could not restart the driver process of %s", self.machine)

    async def _call(self, method: str, *args: Any) -> Any:
        conn = self._conn
        if conn is None:
            raise DriverUnavailable("the machine's driver process is not running")
        loop = asyncio.get_running_loop()
        call_id = next(self._ids)
        future: asyncio.Future[Any] = loop.create_future()
        self._calls[call_id] = future
        try:
            with self._send_lock:
                conn.send((call_id, method, args))
        except (OSError, EOFError) as exc:
            self._calls.pop(call_id, None)
            raise DriverUnavailable("the machine's driver process stopped") from exc
        return await future

    async def close(self) -> None:
        self._closing = True
        if self._restart is not None:
            self._restart.cancel()
        proc = self._proc
        if proc is None:
            return
        if proc.is_alive() and self._conn is not None:
            with contextlib.suppress(DriverUnavailable, TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await self._call("close")
        await asyncio.to_thread(self._end, proc)

    def _end(self, proc: BaseProcess) -> None:
        proc.join(5.0)
        if proc.is_alive():
            proc.kill()
            proc.join(5.0)
        if self._proc is proc:
            self._proc = None

    # --- the driver's face: each a call to the process --------------------------------------

    async def probe(self) -> MachineStatus:
        status: MachineStatus = await self._call("probe")
        return self._push(**_fields(status))

    async def start(self, ticket: JobTicket) -> None:
        reason = self.supports(ticket)
        if reason is not None:
            raise JobRejected(reason)
        await self._call("start", ticket)

    async def pause(self) -> None:
        await self._call("pause")

    async def resume(self) -> None:
        await self._call("resume")

    async def cancel(self) -> None:
        await self._call("cancel")

    async def release(self) -> None:
        await self._call("release")

    async def emergency_stop(self) -> str:
        said: str = await self._call("emergency_stop")
        return said

    async def operator_report(self, ref: str, report: dict[str, Any]) -> None:
        await self._call("operator_report", ref, report)


def _fields(status: MachineStatus) -> dict[str, Any]:
    """The status as the process saw it, but for its time stamp (ours is the server's)."""
    return {name: getattr(status, name) for name in type(status).model_fields if name != "at"}
