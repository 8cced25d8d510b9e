"""Uploaded files: the bytes live under the data dir, named by sha256; the row is the index."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime


class StoredFile(SQLModel, table=True):
    __tablename__ = "stored_file"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    created_at: datetime = Field(sa_type=UTCDateTime)
