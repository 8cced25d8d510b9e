"""What every file store offers: content-addressed, written once, streamed in and out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
"""Bytes read, written and (in the database) stored at a time: memory stays flat."""


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the file is larger than the {limit // (1024 * 1024)} MB limit")


class FileMissing(Exception):
    """The content is in no store this node can reach."""

    def __init__(self, sha256: str, where: str) -> None:
        self.sha256 = sha256
        super().__init__(f"the file {sha256[:12]}… is not in {where}")


class StorageMisconfigured(Exception):
    pass


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    path: Path
    """Where this node reads it from (the store itself, or its cache)."""


class ContentStore(ABC):
    """Files named by their sha256. ``save`` streams a file in; ``fetch`` makes sure this
    node has it on disk (drivers and converters read paths) and says where."""

    @abstractmethod
    def save(self, stream: BinaryIO, *, limit: int) -> Stored: ...

    @abstractmethod
    def fetch(self, sha256: str) -> Path:
        """A local path holding the content; raises :class:`FileMissing`."""

    @abstractmethod
    def has(self, sha256: str) -> bool:
        """Whether the content is held where every node that shares this store reads it."""

    @abstractmethod
    def read(self, sha256: str) -> Iterator[bytes]:
        """The content in chunks of at most :data:`CHUNK` bytes; raises :class:`FileMissing`."""

    @abstractmethod
    def delete(self, sha256: str) -> bool:
        """Forget the content everywhere this store keeps it; True if it was there."""

    @property
    @abstractmethod
    def name(self) -> str: ...
