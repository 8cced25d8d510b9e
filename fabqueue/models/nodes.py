"""Which process runs each node: the row that says who holds a node's lease."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime


class NodeLeaseRecord(SQLModel, table=True):
    """Written by the process holding the node's lease (the lock itself is a
    PostgreSQL advisory lock or a lock file): for the message a second process shows,
    and for anyone wondering whether the node is alive (``heartbeat_at``)."""

    __tablename__ = "node_lease"

    node: str = Field(primary_key=True, max_length=64)
    pid: int
    host: str = Field(max_length=255)
    started_at: datetime = Field(sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(sa_type=UTCDateTime)
