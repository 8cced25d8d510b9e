"""``fabqueue storage migrate``: move the data folder's files into the database store."""

from __future__ import annotations

import argparse
from typing import Any

from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("storage", help="where uploaded files live")
    ssub = p.add_subparsers(dest="storage_command", required=True, metavar="ACTION")
    mig = ssub.add_parser(
        "migrate",
        help="copy the data folder's files into PostgreSQL (FABQUEUE_STORAGE=database); "
        "safe to run again",
    )
    mig.set_defaults(func=migrate)


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
    from fabqueue.storage import StorageMisconfigured, make_store
    from fabqueue.storage.postgres import DatabaseStore

    if settings.storage != "database":
        if explicit:
            fail("FABQUEUE_STORAGE is not 'database': files already live in the data folder")
        return 0, 0
    try:
        store = make_store(settings, engine)
    except StorageMisconfigured as exc:
        fail(str(exc))
    assert isinstance(store, DatabaseStore)
    return store.migrate_local()
