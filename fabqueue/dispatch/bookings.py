"""Watching booking ends: a member's job still running when their booking ends is never
stopped; the booking is flagged and the next booking's owner warned (``booking:overrun``
on the event stream). Runners see booking starts and ends by themselves, at their poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from zoneinfo import ZoneInfo

from fabqueue.clock import Clock
from fabqueue.db import SessionFactory, session_scope
from fabqueue.services.bookings import flag_overruns, overruns_pending

log = logging.getLogger("fabqueue.dispatch.bookings")


class BookingWatcher:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        read_sessions: SessionFactory,
        clock: Clock,
        tz: ZoneInfo,
        every_s: float,
    ) -> None:
        self.sessions = sessions
        self.read_sessions = read_sessions
        self.clock = clock
        self.tz = tz
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def check(self) -> int:
        with self.read_sessions() as session:
            if not overruns_pending(session, self.clock.now()):
                return 0
        with session_scope(self.sessions) as session:
            return len(flag_overruns(session, self.clock.now(), self.tz))

    async def _loop(self) -> None:
        while True:
            try:
                flagged = await asyncio.to_thread(self.check)
                if flagged:
                    log.info("%d booking(s) ended with their member's job still running", flagged)
            except Exception:
                log.exception("booking watch failed; trying again")
            await asyncio.sleep(self.every_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="booking-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
