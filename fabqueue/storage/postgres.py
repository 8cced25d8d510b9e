"""The database store: files live in PostgreSQL in ~1 MiB chunks, so every node of a
network reads them through the database it already shares. Each node keeps the files
it used on disk, by checksum, within a size limit."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from fabqueue.models import FileBlob, FileChunk
from fabqueue.storage.base import CHUNK, FileMissing, Stored
from fabqueue.storage.local import FileStore

_blob = FileBlob.__table__  # type: ignore[attr-defined]
_chunk = FileChunk.__table__  # type: ignore[attr-defined]


IN_USE_S = 600.0
"""A cached file saved or fetched this recently may still be about to be read (an upload
waiting for a worker to analyse it, a claimed job's file waiting to be converted or
read by its driver): the cache runs over its size rather than take it away."""


class DatabaseStore(FileStore):
    """The data folder serves as this node's cache; the database is the store of record.

    ``in_use_s``: recent files the cache keeps over its size (see IN_USE_S; the server's
    store uses it); 0 keeps the cache to its size at every trim."""

    def __init__(
        self, root: Path, engine: Engine, *, cache_bytes: int, in_use_s: float = 0.0
    ) -> None:
        super().__init__(root)
        self.engine = engine
        self.cache_bytes = cache_bytes
        self.in_use_s = in_use_s

    @property
    def name(self) -> str:
        return "database"

    def has(self, sha256: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(select(_blob.c.size).where(_blob.c.sha256 == sha256)).first()
        return row is not None

    def delete(self, sha256: str) -> bool:
        cached = super().delete(sha256)
        with self.engine.begin() as conn:
            gone = conn.execute(delete(_blob).where(_blob.c.sha256 == sha256)).rowcount
            conn.execute(delete(_chunk).where(_chunk.c.sha256 == sha256))
        return bool(gone) or cached

    def save(self, stream: BinaryIO, *, limit: int) -> Stored:
        stored = self._save_local(stream, limit=limit)
        self.put(stored.path, stored.sha256)
        self.trim_cache(keep=stored.sha256)
        return stored

    def put(self, path: Path, sha256: str) -> bool:
        """Copy a local file into the database unless it is there; True if copied.

        Already there: its ``created_at`` becomes now, so a garbage collection running
        meanwhile (it keeps young files) cannot take it from the job about to use it."""
        if self._touch(sha256):
            return False
        seq = 0
        size = 0
        try:
            with self.engine.begin() as conn, path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    conn.execute(insert(_chunk).values(sha256=sha256, seq=seq, data=chunk))
                    seq += 1
                    size += len(chunk)
                # Last, in the same transaction: a blob row means every chunk is there.
                conn.execute(
                    insert(_blob).values(
                        sha256=sha256, size=size, chunks=seq, created_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            # Another node stored the same content meanwhile: written once, by it.
            if not self.has(sha256):
                raise
            return False
        return True

    def _touch(self, sha256: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(_blob).where(_blob.c.sha256 == sha256).values(created_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    def read(self, sha256: str) -> Iterator[bytes]:
        with self.engine.connect() as conn:
            chunks = conn.execute(
                select(_blob.c.chunks).where(_blob.c.sha256 == sha256)
            ).scalar_one_or_none()
            if chunks is None:
                raise FileMissing(sha256, "the database")
            # One chunk per query: the driver never buffers the whole file.
            for seq in range(chunks):
                data = conn.execute(
                    select(_chunk.c.data).where(_chunk.c.sha256 == sha256, _chunk.c.seq == seq)
                ).scalar_one()
                yield bytes(data)

    def fetch(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        if path.is_file():
            os.utime(path)  # recently used: the cache keeps it longest
            return path
        self.ensure()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="fetch-")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for chunk in self.read(sha256):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise FileMissing(sha256, "the database (its copy is damaged)")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.trim_cache(keep=sha256)
        return path

    def trim_cache(self, *, keep: str = "") -> int:
        """Remove the least recently used cached files beyond the size limit. Only files
        the database holds are removed: a file saved before the move to the database
        may be the only copy. Nor files used in the last ``in_use_s``: see IN_USE_S."""
        files = [p for p in self._files.rglob("*") if p.is_file()] if self._files.is_dir() else []
        stats = [(p, p.stat()) for p in files]
        total = sum(s.st_size for _, s in stats)
        removed = 0
        in_use_since = time.time() - self.in_use_s
        for path, st in sorted(stats, key=lambda ps: ps[1].st_mtime):
            if total <= self.cache_bytes or st.st_mtime > in_use_since:
                break
            if path.name == keep or not self.has(path.name):
                continue
            path.unlink(missing_ok=True)
            total -= st.st_size
            removed += 1
        return removed

    def migrate_local(self) -> tuple[int, int]:
        """Copy every file of the data folder into the database: (copied, already there).
        Safe to run again."""
        copied = already = 0
        files = sorted(self._files.rglob("*")) if self._files.is_dir() else []
        for path in files:
            if not path.is_file() or len(path.name) != 64:
                continue
            if self.put(path, path.name):
                copied += 1
            else:
                already += 1
        return copied, already
