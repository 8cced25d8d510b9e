"""The storage interface, run against both backends: the folder and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from fabqueue.db import make_engine
from fabqueue.models import FileChunk
from fabqueue.settings import Settings
from fabqueue.storage import (
    CHUNK,
    FileMissing,
    FileStore,
    StorageMisconfigured,
    UploadTooLarge,
    make_store,
)
from fabqueue.storage.postgres import DatabaseStore
from tests.support.storage import PatternStream

BIG = 50 * 1024 * 1024


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["local", pytest.param("database", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "local":
        return FileStore(tmp_path / "data")
    engine = request.getfixturevalue("pg_engine")
    return DatabaseStore(tmp_path / "data", engine, cache_bytes=10 * 1024 * 1024)


def other_node(store: FileStore, tmp_path: Path) -> FileStore:
    """A second node with its own, empty data folder, sharing what nodes share."""
    if isinstance(store, DatabaseStore):
        return DatabaseStore(tmp_path / "other", store.engine, cache_bytes=store.cache_bytes)
    return store


def test_saved_content_reads_back_whole_and_named_by_its_checksum(
    store: FileStore, tmp_path: Path
) -> None:
    data = os.urandom(3 * CHUNK + 17)
    stored = store.save(io.BytesIO(data), limit=10 * CHUNK)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert store.has(stored.sha256)
    assert b"".join(store.read(stored.sha256)) == data
    assert all(len(c) <= CHUNK for c in store.read(stored.sha256))
    elsewhere = other_node(store, tmp_path)
    assert elsewhere.fetch(stored.sha256).read_bytes() == data


def test_the_same_content_is_stored_once(store: FileStore) -> None:
    data = b"G1 X1\n" * 1000
    first = store.save(io.BytesIO(data), limit=CHUNK)
    second = store.save(io.BytesIO(data), limit=CHUNK)
    assert first.sha256 == second.sha256
    if isinstance(store, DatabaseStore):
        with store.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(FileChunk.sha256 == first.sha256)  # type: ignore[arg-type]
            ).scalar_one()
        assert count == 1


def test_unknown_content_is_missing_everywhere(store: FileStore, tmp_path: Path) -> None:
    sha = hashlib.sha256(b"never saved").hexdigest()
    assert not store.has(sha)
    with pytest.raises(FileMissing, match=sha[:12]):
        store.fetch(sha)
    with pytest.raises(FileMissing):
        b"".join(store.read(sha))
    with pytest.raises(FileMissing):
        other_node(store, tmp_path).fetch(sha)


def test_too_large_an_upload_is_refused_and_leaves_nothing(store: FileStore) -> None:
    with pytest.raises(UploadTooLarge):
        store.save(io.BytesIO(b"x" * (2 * CHUNK + 1)), limit=2 * CHUNK)
    assert not any((store.root / "tmp").iterdir())
    assert not any(p.is_file() for p in (store.root / "files").rglob("*"))


@pytest.mark.postgres
def test_the_cache_keeps_to_its_size_and_refetches(pg_engine: Engine, tmp_path: Path) -> None:
    store = DatabaseStore(tmp_path / "data", pg_engine, cache_bytes=3 * CHUNK)
    shas = [store.save(io.BytesIO(os.urandom(CHUNK)), limit=2 * CHUNK).sha256 for _ in range(5)]
    cached = [p for p in (tmp_path / "data" / "files").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in cached) <= 3 * CHUNK
    assert store.path_for(shas[-1]).is_file()  # the newest is kept
    assert not store.path_for(shas[0]).is_file()
    assert store.fetch(shas[0]).stat().st_size == CHUNK  # back from the database


@pytest.mark.postgres
def test_migrate_moves_folder_files_once(pg_engine: Engine, tmp_path: Path) -> None:
    data = os.urandom(CHUNK + 5)
    sha = FileStore(tmp_path / "data").save(io.BytesIO(data), limit=4 * CHUNK).sha256
    store = DatabaseStore(tmp_path / "data", pg_engine, cache_bytes=0)
    assert not store.has(sha)
    assert store.migrate_local() == (1, 0)
    assert store.migrate_local() == (0, 1)
    other = DatabaseStore(tmp_path / "other", pg_engine, cache_bytes=0)
    assert other.fetch(sha).read_bytes() == data


def test_the_database_store_needs_postgresql(tmp_path: Path, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        settings = Settings(db_url=sqlite_url, data_dir=tmp_path, storage="database")
        with pytest.raises(StorageMisconfigured, match="PostgreSQL"):
            make_store(settings, engine)
        assert isinstance(
            make_store(settings.model_copy(update={"storage": "local"}), engine), FileStore
        )
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_streaming_50_mb_keeps_memory_flat(pg_engine: Engine, tmp_path: Path) -> None:
    writer = DatabaseStore(tmp_path / "a", pg_engine, cache_bytes=BIG * 2)
    reader = DatabaseStore(tmp_path / "b", pg_engine, cache_bytes=BIG * 2)
    tracemalloc.start()
    try:
        stored = writer.save(PatternStream(BIG), limit=BIG)
        _, peak_in = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        path = reader.fetch(stored.sha256)
        _, peak_out = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size == BIG
    assert peak_in < 8 * CHUNK, peak_in
    assert peak_out < 8 * CHUNK, peak_out


def test_deleted_content_is_gone_for_every_node(store: FileStore, tmp_path: Path) -> None:
    sha = store.save(io.BytesIO(b"M104 S200\n" * 50), limit=CHUNK).sha256
    elsewhere = other_node(store, tmp_path)
    elsewhere.fetch(sha)
    assert store.delete(sha) is True
    assert not store.has(sha)
    if elsewhere is not store:
        elsewhere.delete(sha)  # its own cache: purges run on every node
    with pytest.raises(FileMissing):
        elsewhere.fetch(sha)
    assert store.delete(sha) is False
