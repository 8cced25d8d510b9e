"""Everything a request handler may need, built once by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from fabqueue.auth import StreamTickets, TokenCache
from fabqueue.clock import Clock
from fabqueue.coalesce import Coalescer
from fabqueue.db import SessionFactory
from fabqueue.dispatch.dispatcher import Dispatcher
from fabqueue.events import EventBus
from fabqueue.profiles import ProfileSet
from fabqueue.services.machines import MachineCatalog
from fabqueue.settings import Settings
from fabqueue.storage import FileStore
from fabqueue.workers import WorkerPool


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: SessionFactory
    read_sessions: SessionFactory
    bus: EventBus
    clock: Clock
    profiles: ProfileSet
    store: FileStore
    dispatcher: Dispatcher | None = None
    tokens: TokenCache = field(default_factory=TokenCache)
    tickets: StreamTickets = field(default_factory=StreamTickets)
    job_pages: Coalescer[str] = field(default_factory=Coalescer)
    """The job list's pages: identical reads asked at the same moment made once."""
    machines: MachineCatalog | None = None
    workers: WorkerPool | None = None
    """Set by the app's lifespan: where every file analysis, conversion and preview runs."""

    def __post_init__(self) -> None:
        if self.machines is None:
            self.machines = MachineCatalog(self.read_sessions)

    @property
    def pool(self) -> WorkerPool:
        """The worker pool, once the app has started (requests only come after)."""
        if self.workers is None:
            raise RuntimeError("the worker pool is not started")
        return self.workers
