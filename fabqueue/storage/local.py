"""The folder store (the default): uploads are streamed to disk and named by their sha256.

The data folder also holds what is local to a node whatever the store: previews,
machine-ready artifacts, temporary files."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fabqueue.storage.base import CHUNK, ContentStore, FileMissing, Stored, UploadTooLarge

PREVIEW_EXTENSIONS = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}


class FileStore(ContentStore):
    def __init__(self, root: Path) -> None:
        self.root = root
        self._files = root / "files"
        self._tmp = root / "tmp"

    def ensure(self) -> None:
        self._files.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    def collect_garbage(self, known: set[str], *, older_than_s: float = 3600.0) -> int:
        """Remove stored files no job refers to (uploads refused after they were saved),
        and abandoned temporary files. Young files are left: a submission may be
        between saving its file and recording it."""
        import time

        limit = time.time() - older_than_s
        removed = 0
        for folder, keep in ((self._files, known), (self._tmp, set())):
            if not folder.is_dir():
                continue
            for path in folder.rglob("*"):
                if path.is_file() and path.name not in keep and path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def local_files(self) -> Iterator[tuple[str, int, float]]:
        """(sha256, size, mtime) of every content file in the data folder."""
        if not self._files.is_dir():
            return
        for path in self._files.rglob("*"):
            if path.is_file() and len(path.name) == 64:
                st = path.stat()
                yield path.name, st.st_size, st.st_mtime

    def forget_local(self, sha256: str, *, older_than: float) -> bool:
        """Remove this node's copy unless it was written or used since ``older_than``."""
        path = self.path_for(sha256)
        try:
            if path.stat().st_mtime >= older_than:
                return False
        except FileNotFoundError:
            return False
        path.unlink(missing_ok=True)
        return True

    def path_for(self, sha256: str) -> Path:
        return self._files / sha256[:2] / sha256

    def preview_path(self, job_id: int) -> Path | None:
        """The job's preview, whatever its format, if it has one."""
        for path in (self.root / "previews").glob(f"{job_id}.*"):
            return path
        return None

    def save_preview(self, job_id: int, media_type: str, data: bytes) -> Path:
        ext = PREVIEW_EXTENSIONS.get(media_type, "bin")
        folder = self.root / "previews"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{job_id}.{ext}"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return path

    def artifact_dir(self, job_id: int, machine: str) -> Path:
        """Where machine-ready files made from the job for ``machine`` go."""
        return self.root / "artifacts" / str(job_id) / machine

    @property
    def name(self) -> str:
        return "local"

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def fetch(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        if not path.is_file():
            raise FileMissing(sha256, f"the data folder {self._files}")
        return path

    def delete(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed

    def read(self, sha256: str) -> Iterator[bytes]:
        with self.fetch(sha256).open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def save(self, stream: BinaryIO, *, limit: int) -> Stored:
        """Copy ``stream`` into the store in chunks; never holds the file in memory."""
        return self._save_local(stream, limit=limit)

    def _save_local(self, stream: BinaryIO, *, limit: int) -> Stored:
        self.ensure()
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="upload-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise UploadTooLarge(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            if final.exists():
                tmp.unlink()
                # Stored again: young again, so a garbage collection running now keeps it.
                os.utime(final)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp.replace(final)
            return Stored(sha, size, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
