"""``create_app(settings)``: the FastAPI application, built from explicit settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlmodel import select

from fabqueue import __version__
from fabqueue.api import api_router
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
from fabqueue.models import StoredFile
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.services.errors import ServiceError
from fabqueue.services.machines import register_local
from fabqueue.settings import Settings
from fabqueue.storage import make_store

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


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    profiles: ProfileSet | None = None,
    on_started: Callable[[Settings], None] | None = None,
) -> FastAPI:
    """``on_started`` runs on the event loop once the service is up (``serve`` tunes the
    process there; tests and embedders leave their process alone)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = build_context(settings, clock=clock, profiles=profiles)
        await asyncio.to_thread(check_schema, ctx)
        await asyncio.to_thread(register_machines, ctx)
        await asyncio.to_thread(collect_file_garbage, ctx)
        app.state.ctx = ctx
        if settings.start_dispatcher:
            ctx.dispatcher = Dispatcher(
                settings=settings,
                sessions=ctx.sessions,
                read_sessions=ctx.read_sessions,
                bus=ctx.bus,
                clock=ctx.clock,
                profiles=ctx.profiles,
                store=ctx.store,
            )
            await ctx.dispatcher.start()
        if on_started is not None:
            on_started(settings)
        try:
            yield
        finally:
            if ctx.dispatcher is not None:
                await ctx.dispatcher.stop()
            ctx.engine.dispose()

    app = FastAPI(
        title="fabqueue",
        version=__version__,
        summary="Job queue, machines, estimates and quotes for a café numérique's fab machines",
        lifespan=lifespan,
    )
    app.add_middleware(UploadLimitMiddleware, limit=settings.upload_limit_bytes)

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.message, **exc.extra}
        )

    app.include_router(api_router, prefix="/api/v1")

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
