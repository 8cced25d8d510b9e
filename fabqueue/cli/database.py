"""``fabqueue db upgrade``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="database schema")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="create or migrate the schema to this version")
    up.set_defaults(func=upgrade)


def upgrade(_args: argparse.Namespace) -> int:
    from fabqueue.cli.storage import migrate_files
    from fabqueue.db import current_revision, make_engine
    from fabqueue.db import upgrade as do_upgrade
    from fabqueue.settings import Settings

    settings = Settings()
    engine = make_engine(settings.db_url)
    try:
        do_upgrade(engine)
        print(f"database at revision {current_revision(engine)}")
        copied, _already = migrate_files(settings, engine, explicit=False)
        if copied:
            print(f"{copied} file(s) of the data folder copied into the database")
    finally:
        engine.dispose()
    return 0
