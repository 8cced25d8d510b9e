"""``create_app(settings)``: the FastAPI application, built from explicit settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import select

from fabqueue import __version__, redaction
from fabqueue.api import api_router, octoprint_compat
from fabqueue.api.headers import SecurityHeadersMiddleware
from fabqueue.api.limits import UploadLimitMiddleware
from fabqueue.clock import Clock, RealClock
from fabqueue.context import AppContext
from fabqueue.db import (
    current_revision,
    head_revision,
    make_engine,
    make_session_factory,
    session_scope,
)
from fabqueue.dispatch.dispatcher import Dispatcher
from fabqueue.events import EventBus
from fabqueue.lease import NodeLease
from fabqueue.models import StoredFile
from fabqueue.notify.sender import MailSender
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.services import nodes as node_service
from fabqueue.services.errors import ServiceError
from fabqueue.services.intake import unavailable as intake_unavailable
from fabqueue.services.machines import register_local
from fabqueue.settings import Settings
from fabqueue.storage import make_store
from fabqueue.web import install as install_web
from fabqueue.web import page_service_error
from fabqueue.workers import MODELS_LANE, WorkerLimits, WorkerPool
from jobs.models3d.slice import DEFAULT_TIMEOUT_S as SLICE_TIMEOUT_S

log = logging.getLogger("fabqueue")


class SchemaOutOfDate(RuntimeError):
    pass


def check_schema(ctx: AppContext) -> None:
    have, want = current_revision(ctx.engine), head_revision()
    if have != want:
        raise SchemaOutOfDate(
            f"the database schema is at {have or 'nothing'}, the code needs {want}: "
            "run `fabqueue db upgrade` (make run does it)"
        )


def register_machines(ctx: AppContext) -> None:
    """Write this node's machines to the database, so every node can take jobs for them."""
    with session_scope(ctx.sessions) as session:
        register_local(
            session=session, profiles=ctx.profiles, node=ctx.settings.node, at=ctx.clock.now()
        )


def collect_file_garbage(ctx: AppContext) -> None:
    with ctx.read_sessions() as session:
        known = set(session.exec(select(StoredFile.sha256)))
    removed = ctx.store.collect_garbage(known)
    if removed:
        log.info("removed %d stored file(s) no job refers to", removed)


def build_context(
    settings: Settings, *, clock: Clock | None = None, profiles: ProfileSet | None = None
) -> AppContext:
    bus = EventBus()
    engine = make_engine(settings.db_url)
    store = make_store(settings, engine)
    store.ensure()
    return AppContext(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine, bus),
        read_sessions=make_session_factory(engine, None, readonly=True),
        bus=bus,
        clock=clock or RealClock(),
        profiles=profiles if profiles is not None else load_profiles(settings.profiles_dir),
        store=store,
    )


async def _heartbeat(lease: NodeLease, every_s: float) -> None:
    while lease.held:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(lease.heartbeat)
        except Exception:  # a missed beat is a note, not a failure
            log.warning("node lease heartbeat failed", exc_info=True)


def make_workers(settings: Settings) -> WorkerPool:
    pool = WorkerPool(
        settings.workers,
        WorkerLimits(
            cpu_s=settings.worker_cpu_s,
            cpu_s_per_mb=settings.worker_cpu_s_per_mb,
            memory_mb=settings.worker_memory_mb,
        ),
        queue_max=settings.worker_queue,
        prestart=True,
    )
    # Models are sliced in a lane of their own: half a minute of PrusaSlicer per model
    # must not hold the workers that read everyone else's files.
    pool.lanes[MODELS_LANE] = WorkerPool(
        settings.slicer_workers,
        WorkerLimits(
            cpu_s=settings.worker_cpu_s * 3,
            cpu_s_per_mb=settings.worker_cpu_s_per_mb,
            memory_mb=settings.worker_memory_mb,
            wall_s=2 * SLICE_TIMEOUT_S + 60,  # the mesh report, then the slicing
        ),
        queue_max=settings.worker_queue,
    )
    return pool


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    profiles: ProfileSet | None = None,
    on_started: Callable[[Settings], None] | None = None,
    workers: WorkerPool | None = None,
    lease: NodeLease | None = None,
) -> FastAPI:
    """``on_started`` runs on the event loop once the service is up (``serve`` tunes the
    process there; tests and embedders leave their process alone). ``workers``: a pool the
    caller owns (tests); by default the app makes its own. ``lease``: the node's lease,
    taken by the caller (``fabqueue serve``); by default the app takes it when it starts
    the dispatcher, and refuses to start without it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = build_context(settings, clock=clock, profiles=profiles)
        ctx.workers = workers or make_workers(settings)
        await asyncio.to_thread(check_schema, ctx)
        await asyncio.to_thread(register_machines, ctx)
        await asyncio.to_thread(collect_file_garbage, ctx)
        for missing in intake_unavailable():
            log.warning("%s (see README, optional Debian packages)", missing)
        app.state.ctx = ctx
        own_lease = None
        heartbeat = None
        if settings.start_dispatcher:
            node_lease = lease
            if node_lease is None:
                own_lease = node_lease = NodeLease(settings.db_url, settings.node, ctx.clock)
                await asyncio.to_thread(own_lease.acquire)
            heartbeat = asyncio.create_task(_heartbeat(node_lease, settings.lease_heartbeat_s))
            ctx.dispatcher = Dispatcher(
                settings=settings,
                sessions=ctx.sessions,
                read_sessions=ctx.read_sessions,
                bus=ctx.bus,
                clock=ctx.clock,
                profiles=ctx.profiles,
                store=ctx.store,
                workers=ctx.workers,
                lease=node_lease,
            )
            await ctx.dispatcher.start()
        mail_sender = None
        if settings.start_mail_sender:
            mail_sender = app.state.mail_sender = MailSender(
                settings=settings,
                sessions=ctx.sessions,
                read_sessions=ctx.read_sessions,
                bus=ctx.bus,
                clock=ctx.clock,
                profiles=ctx.profiles,
            )
            await mail_sender.start()
        nodes_watch = asyncio.create_task(
            node_service.watch(
                read_sessions=ctx.read_sessions,
                bus=ctx.bus,
                clock=ctx.clock,
                offline_after_s=settings.offline_after_s,
                every_s=settings.lease_heartbeat_s,
                here=settings.node if ctx.dispatcher is not None else None,
            )
        )
        if on_started is not None:
            on_started(settings)
        try:
            yield
        finally:
            if mail_sender is not None:
                await mail_sender.stop()
            if ctx.dispatcher is not None:
                await ctx.dispatcher.stop()
            nodes_watch.cancel()
            if heartbeat is not None:
                heartbeat.cancel()
            if own_lease is not None:
                await asyncio.to_thread(own_lease.release)
            if workers is None:
                await asyncio.to_thread(ctx.workers.close)
            ctx.engine.dispose()

    app = FastAPI(
        title="fabqueue",
        version=__version__,
        summary="Job queue, machines, estimates and quotes for a café numérique's fab machines",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    redaction.install()
    app.add_middleware(
        UploadLimitMiddleware,
        limit=settings.upload_limit_bytes,
        spool_dir=settings.data_dir / "tmp",
    )
    app.add_middleware(SecurityHeadersMiddleware)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        if not request.url.path.startswith("/api/"):
            return page_service_error(request, exc)
        retry = exc.extra.get("retry_after_s")
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": exc.message, **exc.extra},
            headers={"Retry-After": str(retry)} if retry is not None else None,
        )

    app.include_router(api_router, prefix="/api/v1")
    octoprint_compat.install(app)
    install_web(app, settings)
    return app
