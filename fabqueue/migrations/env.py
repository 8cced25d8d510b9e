"""Alembic environment: runs against the engine ``fabqueue.db.upgrade`` hands over."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Engine
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import fabqueue.models  # noqa: F401  (registers every table on SQLModel.metadata)
from fabqueue.models.types import UTCDateTime

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations with `fabqueue db upgrade`, which supplies the engine")


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write column types as plain SQLAlchemy so migrations never import the models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
