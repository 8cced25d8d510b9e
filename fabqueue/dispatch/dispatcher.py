"""The dispatcher: registers this node's machines, runs one runner each, wakes them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from drivers.base import Driver
from drivers.hosted import in_own_process
from drivers.registry import DRIVERS
from fabqueue.clock import Clock
from fabqueue.db import SessionFactory
from fabqueue.dispatch.bookings import BookingWatcher
from fabqueue.dispatch.runner import MachineRunner
from fabqueue.events import EventBus, Message
from fabqueue.lease import NodeLease
from fabqueue.profiles import ProfileSet
from fabqueue.settings import Settings
from fabqueue.storage import FileStore
from fabqueue.workers import WorkerPool

log = logging.getLogger("fabqueue.dispatch")


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: SessionFactory,
        read_sessions: SessionFactory,
        bus: EventBus,
        clock: Clock,
        profiles: ProfileSet,
        store: FileStore,
        workers: WorkerPool,
        lease: NodeLease,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.read_sessions = read_sessions
        self.bus = bus
        self.clock = clock
        self.profiles = profiles
        self.store = store
        self.workers = workers
        self.lease = lease
        self.runners: dict[str, MachineRunner] = {}
        self._unlisten: Callable[[], None] | None = None
        self.bookings = BookingWatcher(
            sessions=sessions,
            read_sessions=read_sessions,
            clock=clock,
            tz=profiles.site.tz if profiles.site is not None else ZoneInfo("Europe/Paris"),
            every_s=settings.dispatch_poll_s,
        )

    async def start(self) -> None:
        """Start one runner per machine (their records must exist: see ``register``)."""
        for profile in self.profiles.machines.values():
            self.runners[profile.slug] = MachineRunner(
                profile=profile,
                driver_cls=self._driver_class(profile.driver_type),
                profiles=self.profiles,
                sessions=self.sessions,
                read_sessions=self.read_sessions,
                bus=self.bus,
                clock=self.clock,
                settings=self.settings,
                store=self.store,
                workers=self.workers,
                lease=self.lease,
            )
        self._unlisten = self.bus.add_listener(self._on_message)
        await asyncio.gather(*(runner.start() for runner in self.runners.values()))
        self.bookings.start()
        log.info("dispatching for %d machine(s) on node %s", len(self.runners), self.settings.node)

    def _driver_class(self, name: str) -> type[Driver[Any]]:
        cls = DRIVERS[name]
        if cls.own_process and self.settings.driver_processes:
            return in_own_process(cls)
        return cls

    async def stop(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
        await self.bookings.stop()
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))

    def wake(self, *, machine: str | None = None, kind: str | None = None) -> None:
        for runner in self.runners.values():
            if machine is not None and runner.slug != machine:
                continue
            if kind is not None and runner.profile.kind != kind:
                continue
            runner.wake(queue_only=machine is None)

    def _on_message(self, message: Message) -> None:
        p = message.payload
        if message.topic == "machine:emergency_stop":
            runner = self.runners.get(p.get("machine", ""))
            if runner is not None:
                runner.emergency_stop()
        elif message.topic == "job:state_changed":
            if p.get("to") == "queued":
                self.wake(kind=p.get("kind"))
            elif p.get("machine"):
                self.wake(machine=p["machine"])
        elif message.topic in ("job:requested", "machine:runner", "machine:material") and p.get(
            "machine"
        ):
            self.wake(machine=p["machine"])
