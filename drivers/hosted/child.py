"""The driver's own process: the real driver on an event loop of its own, its orders
read from the pipe, every status change and every answer written back.

The process ends when the parent asks it to (after ``close``) or when the pipe breaks
(the server died): the driver is closed first, so the port is let go.
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
from typing import Any

from drivers.base import Driver, DriverError, MachineStatus

log = logging.getLogger(__name__)

NICENESS = -5
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
        while (message := await self.inbox.get()) is not None:
            call_id, method, args = message
            task = asyncio.create_task(self.call(call_id, method, args))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            if method == "close":
                await task
                return
        await self.driver.close()  # the server died: let go of the port


def main(conn: Connection, driver_cls: type[Driver[Any]], machine: str, cfg: Any) -> None:
    with contextlib.suppress(OSError):  # lowering niceness needs the right to
        os.nice(NICENESS)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s driver {machine}: %(message)s")
    asyncio.run(_serve(conn, driver_cls, machine, cfg))


async def _serve(conn: Connection, driver_cls: type[Driver[Any]], machine: str, cfg: Any) -> None:
    await _Host(conn, driver_cls, machine, cfg).serve()
