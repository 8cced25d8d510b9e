"""The driver's own process: the real driver on an event loop of its own, its orders
read from the pipe, every status change and every answer written back.

The process ends when the parent asks it to (after ``close``), when the pipe breaks or
when the parent is gone (the server died): the driver is closed first, within a bound,
so the port is let go. A driver left running would keep reopening its port; when the
port's name is given to another device (a pseudo-terminal number, a USB adapter plugged
in elsewhere), it would write into that device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import threading
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from drivers.base import Driver, DriverError, MachineStatus

log = logging.getLogger(__name__)

NICENESS = -5
CLOSE_WITHIN_S = 10.0
"""A driver that cannot let go of its port in this time is left to the kernel."""
ORPHAN_CHECK_S = 1.0
COMM_PREFIX = "fq-drv-"
"""The process's name in ``ps``/``top`` (15 characters at most): which machine it runs."""
"""Asked for, not required: a printer's line before the server's readers, where allowed."""


class WallClock:
    """The driver process's clock: real time (the line's timing is real time anyway)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it crosses the pipe, else its words in a DriverError."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return DriverError(f"{type(exc).__name__}: {exc}")
    return exc


class _Host:
    def __init__(self, conn: Connection, driver_cls: type[Driver[Any]], machine: str, cfg: Any):
        self.conn = conn
        self.lock = threading.Lock()
        self.driver = driver_cls(machine, cfg, on_status=self.status, clock=WallClock())
        self.inbox: asyncio.Queue[tuple[int, str, tuple[Any, ...]] | None] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, message: tuple[Any, ...]) -> None:
        # The server gone: the reader sees it too and ends the process.
        with self.lock, contextlib.suppress(OSError, EOFError):
            self.conn.send(message)

    def status(self, status: MachineStatus) -> None:
        self.send(("status", status))

    def read(self, loop: asyncio.AbstractEventLoop) -> None:
        """The pipe, on a thread: blocking reads never hold the driver's loop."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                message = None
            loop.call_soon_threadsafe(self.inbox.put_nowait, message)
            if message is None:
                return

    def watch_parent(self, loop: asyncio.AbstractEventLoop, parent: int) -> None:
        """The pipe's end is not always seen when the server is killed (another process
        may hold a copy of it): a parent that changed means the server is gone."""
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_S)
        log.error("the server is gone: closing the driver")
        loop.call_soon_threadsafe(self.inbox.put_nowait, None)

    async def call(self, call_id: int, method: str, args: tuple[Any, ...]) -> None:
        try:
            value = await getattr(self.driver, method)(*args)
        except BaseException as exc:  # handed to the caller in the server
            self.send(("done", call_id, False, _portable(exc)))
        else:
            self.send(("done", call_id, True, value))

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        threading.Thread(target=self.read, args=(loop,), daemon=True).start()
        parent = os.getppid()
        threading.Thread(target=self.watch_parent, args=(loop, parent), daemon=True).start()
        while (message := await self.inbox.get()) is not None:
            call_id, method, args = message
            task = asyncio.create_task(self.call(call_id, method, args))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            if method == "close":
                await task
                return
        # The server died: let go of the port, but never linger because of it.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WITHIN_S):
                await self.driver.close()


def main(conn: Connection, driver_cls: type[Driver[Any]], machine: str, cfg: Any) -> None:
    with contextlib.suppress(OSError):  # lowering niceness needs the right to
        os.nice(NICENESS)
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text((COMM_PREFIX + machine)[:15])
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s driver {machine}: %(message)s")
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_serve(conn, driver_cls, machine, cfg))
    finally:
        # Not asyncio.run's tidy end: it waits for every helper thread, and one still
        # blocked on the line (a read that never returns) would keep the process, and
        # the port, alive. The driver has let go of the port by now.
        logging.shutdown()
        os._exit(0)


async def _serve(conn: Connection, driver_cls: type[Driver[Any]], machine: str, cfg: Any) -> None:
    await _Host(conn, driver_cls, machine, cfg).serve()
