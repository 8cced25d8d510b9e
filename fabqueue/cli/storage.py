"""``fabqueue storage migrate``: move the data folder's files into the database store;
``fabqueue storage gc``: remove stored files nothing refers to any more."""

from __future__ import annotations

import argparse
from typing import Any

from fabqueue.cli.common import fail, store_or_fail


def register(sub: Any) -> None:
    p = sub.add_parser("storage", help="where uploaded files live")
    ssub = p.add_subparsers(dest="storage_command", required=True, metavar="ACTION")
    mig = ssub.add_parser(
        "migrate",
        help="copy the data folder's files into PostgreSQL (FABQUEUE_STORAGE=database); "
        "safe to run again",
    )
    mig.set_defaults(func=migrate)
    gc = ssub.add_parser(
        "gc",
        help="list the stored files no job or quote refers to any more; --apply removes them",
    )
    gc.add_argument("--apply", action="store_true", help="remove them (default: only list)")
    gc.add_argument(
        "--min-age-minutes",
        type=float,
        default=60.0,
        help="leave files stored or used more recently than this (default 60)",
    )
    gc.set_defaults(func=collect_garbage)


def migrate(_args: argparse.Namespace) -> int:
    from fabqueue.db import make_engine
    from fabqueue.settings import Settings

    settings = Settings()
    engine = make_engine(settings.db_url)
    try:
        copied, already = migrate_files(settings, engine, explicit=True)
    finally:
        engine.dispose()
    print(f"{copied} file(s) copied into the database, {already} already there")
    return 0


def migrate_files(settings: Any, engine: Any, *, explicit: bool) -> tuple[int, int]:
    """(copied, already there); nothing to do with the folder store unless asked."""
    from fabqueue.storage.postgres import DatabaseStore

    if settings.storage != "database":
        if explicit:
            fail("FABQUEUE_STORAGE is not 'database': files already live in the data folder")
        return 0, 0
    store = store_or_fail(settings, engine)
    assert isinstance(store, DatabaseStore)
    return store.migrate_local()


def collect_garbage(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import make_engine, make_session_factory
    from fabqueue.services.storage_gc import collect
    from fabqueue.settings import Settings

    if args.min_age_minutes < 0:
        fail("--min-age-minutes cannot be negative")
    settings = Settings()
    engine = make_engine(settings.db_url)
    try:
        store = store_or_fail(settings, engine)
        with make_session_factory(engine, None)() as session:
            report = collect(
                session,
                store,
                now=utcnow(),
                min_age_s=args.min_age_minutes * 60,
                apply=args.apply,
            )
    finally:
        engine.dispose()
    for orphan in report.orphans:
        print(f"{orphan.sha256}\t{orphan.size}\t{','.join(sorted(orphan.where))}")
    verb = "removed" if report.applied else "would be removed (run again with --apply)"
    print(
        f"{len(report.orphans)} file(s), {report.size} bytes, {verb}; "
        f"{report.young} recent file(s) left alone; {report.loose_chunks} loose chunk group(s)"
    )
    return 0
