"""``fabqueue serve``: what ``make run`` starts."""

from __future__ import annotations

import argparse
from typing import Any

from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="start the service (API, dispatcher, machines)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from fabqueue.app import SchemaOutOfDate, build_context, check_schema, create_app
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
    ctx = build_context(settings, profiles=profiles)
    try:
        check_schema(ctx)
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
    try:
        uvicorn.run(
            create_app(settings, profiles=profiles, lease=lease),
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=settings.access_log,
        )
    finally:
        lease.release()
    return 0
