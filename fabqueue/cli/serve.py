"""``fabqueue serve``: what ``make run`` starts."""

from __future__ import annotations

import argparse
import gc
from typing import TYPE_CHECKING, Any

from fabqueue.cli.common import fail

if TYPE_CHECKING:
    from fabqueue.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="start the service (API, dispatcher, machines)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from fabqueue.app import SchemaOutOfDate, build_context, check_schema, create_app
    from fabqueue.cli.address import banner
    from fabqueue.clock import RealClock
    from fabqueue.lease import LeaseHeld, NodeLease
    from fabqueue.profiles import ProfileErrors, load_profiles
    from fabqueue.settings import Settings

    settings = Settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    # Refuse to start on bad profiles or an old schema with a message, not a traceback.
    try:
        profiles = load_profiles(settings.profiles_dir)
    except ProfileErrors as exc:
        fail(f"{exc}\nFix the profiles (fabqueue check-profiles) and start again.")
    from fabqueue.storage import StorageMisconfigured

    try:
        ctx = build_context(settings, profiles=profiles)
    except StorageMisconfigured as exc:
        fail(str(exc))
    try:
        check_schema(ctx)
        signable = anyone_can_sign_in(ctx)
    except SchemaOutOfDate as exc:
        fail(str(exc))
    finally:
        ctx.engine.dispose()
    # Before anything else touches the machines or their jobs: one process per node.
    lease = NodeLease(settings.db_url, settings.node, RealClock())
    try:
        lease.acquire()
    except LeaseHeld as exc:
        fail(str(exc))
    print(banner(settings.host, settings.port, signable), flush=True)
    try:
        uvicorn.run(
            create_app(settings, profiles=profiles, lease=lease, on_started=tune_process),
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=settings.access_log,
        )
    finally:
        lease.release()
    return 0


def tune_process(settings: Settings) -> None:
    """Process-wide tuning for a service that owns its process; runs on the event loop
    once the app has started (the thread limiter belongs to the running loop)."""
    import anyio.to_thread

    # Everything built so far lives as long as the service: keep it out of the
    # garbage collector's way, so collections stay short under load.
    gc.collect()
    gc.freeze()
    # Requests allocate many short-lived objects: collect the young generation less
    # often (its cost is per collection, not per object).
    gc.set_threshold(20_000, 20, 20)
    # Handlers run in threads that share one interpreter lock: past a few, more
    # threads only make every answer later (measured by bench/api_submit.py).
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads


def anyone_can_sign_in(ctx: Any) -> bool:
    from sqlmodel import col, select

    from fabqueue.models import User

    with ctx.read_sessions() as session:
        found = session.exec(
            select(User.id).where(col(User.password_hash).is_not(None)).where(User.active)
        ).first()
    return found is not None
