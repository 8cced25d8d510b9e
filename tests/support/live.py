"""The app served by a real uvicorn in a thread of the test process: real HTTP, real
streaming, with the app's context (and database) reachable from the test."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from fabqueue.clock import FakeClock
from tests.support.service import free_port


@contextmanager
def live_server(app: FastAPI, **config: Any) -> Iterator[str]:
    port = config.pop("port", None) or free_port()
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


class ClockHand:
    """Moves the served app's ``FakeClock`` from the test's thread: the clock's sleepers
    live on the server's event loop, so time moves there (pass ``started`` as the app's
    ``on_started``)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.loop: asyncio.AbstractEventLoop | None = None

    def started(self, _settings: object) -> None:
        self.loop = asyncio.get_running_loop()

    def advance(self, seconds: float) -> None:
        assert self.loop is not None, "the app has not started: pass on_started=hand.started"
        asyncio.run_coroutine_threadsafe(self.clock.advance(seconds), self.loop).result(30)
