"""Where uploaded files live: one interface, a folder backend (the default) and a
PostgreSQL backend for a network of nodes that share nothing but their database."""

from __future__ import annotations

from sqlalchemy import Engine

from fabqueue.settings import Settings
from fabqueue.storage.base import (
    CHUNK,
    ContentStore,
    FileMissing,
    StorageMisconfigured,
    Stored,
    UploadTooLarge,
)
from fabqueue.storage.local import PREVIEW_EXTENSIONS, FileStore

__all__ = [
    "CHUNK",
    "PREVIEW_EXTENSIONS",
    "ContentStore",
    "FileMissing",
    "FileStore",
    "StorageMisconfigured",
    "Stored",
    "UploadTooLarge",
    "make_store",
]


def make_store(settings: Settings, engine: Engine) -> FileStore:
    """The store ``FABQUEUE_STORAGE`` names; the database store needs PostgreSQL."""
    if settings.storage == "local":
        return FileStore(settings.data_dir)
    if engine.dialect.name != "postgresql":
        raise StorageMisconfigured(
            f"FABQUEUE_STORAGE=database keeps files in PostgreSQL, but FABQUEUE_DB_URL is "
            f"{engine.dialect.name}: use FABQUEUE_STORAGE=local, or a PostgreSQL database"
        )
    from fabqueue.storage.postgres import IN_USE_S, DatabaseStore

    return DatabaseStore(
        settings.data_dir, engine, cache_bytes=settings.storage_cache_bytes, in_use_s=IN_USE_S
    )
