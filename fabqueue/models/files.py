"""Uploaded files: the bytes live under the data dir, named by sha256; the row is the index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary
from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    created_at: datetime = Field(sa_type=UTCDateTime)


class FileBlob(SQLModel, table=True):
    """A file held by the database store: written once, after all its chunks, so a row
    here means the whole content is readable from any node."""

    __tablename__ = "file_blob"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_type=BigInteger)
    chunks: int
    created_at: datetime = Field(sa_type=UTCDateTime)


class FileChunk(SQLModel, table=True):
    """One piece (about 1 MiB) of a file held by the database store."""

    __tablename__ = "file_chunk"

    sha256: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=LargeBinary)
