"""Helpers shared by commands."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from fabqueue.storage import FileStore


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"fabqueue: {message}", file=sys.stderr)
    raise SystemExit(code)


def store_or_fail(settings: Any, engine: Any) -> FileStore:
    """The file store the server uses (the database's with FABQUEUE_STORAGE=database),
    or a clear exit when the settings cannot have one."""
    from fabqueue.storage import StorageMisconfigured, make_store

    try:
        return make_store(settings, engine)
    except StorageMisconfigured as exc:
        fail(str(exc))
