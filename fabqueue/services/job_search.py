"""Finding a job by what the counter knows of it: its file name or title, its owner's
name, or the walk-in customer's name, phone or e-mail — accents and case ignored
(``fabqueue/folding.py``), a phone number however it was typed.

One SQL condition, for the jobs page and ``GET /api/v1/jobs?q=`` alike.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import and_, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, func

from fabqueue.folding import digits, digits_of, fold, folded
from fabqueue.models import Job, User

MAX_TERMS = 6
MAX_LENGTH = 120
SEPARATOR = "\x1f"
"""Between the fields of the searched text: no word typed spans two fields."""

_PHONE = re.compile(r"^\+?[\d\s.\-/()]+$")
MIN_PHONE_DIGITS = 4


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _searched(dialect: str) -> ColumnElement[str]:
    """The job's own words in one folded text (one function call per row in SQLite)."""
    parts: list[Any] = []
    for column in (Job.title, Job.file_name, Job.customer_name, Job.customer_contact):
        if parts:
            parts.append(literal(SEPARATOR))
        parts.append(func.coalesce(col(column), ""))
    return folded(_concat(parts), dialect)


def _concat(parts: list[Any]) -> Any:
    # ``||``, not ``concat()``: SQLite has the latter only since 3.44.
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(part)
    return joined


def terms_of(q: str) -> list[str]:
    """The words typed, folded; at most :data:`MAX_TERMS` of them."""
    return fold(q[:MAX_LENGTH]).split()[:MAX_TERMS]


def is_phone(q: str) -> bool:
    return bool(_PHONE.match(q.strip())) and len(digits(q)) >= MIN_PHONE_DIGITS


def matches(q: str, dialect: str) -> ColumnElement[bool] | None:
    """Jobs whose every word typed is in their own words or their owner's name; a phone
    number also matches the customer's contact digit for digit. None: nothing typed."""
    terms = terms_of(q)
    if not terms:
        return None
    searched = _searched(dialect)
    owner_name = folded(col(User.name), dialect)
    conditions = []
    for term in terms:
        pattern = _like(term)
        owners = select(col(User.id)).where(owner_name.like(pattern, escape="\\"))
        conditions.append(or_(searched.like(pattern, escape="\\"), col(Job.owner_id).in_(owners)))
    found = and_(*conditions)
    if is_phone(q):
        contact = digits_of(func.coalesce(col(Job.customer_contact), ""), dialect)
        found = or_(found, contact.like(_like(digits(q))))
    return found
