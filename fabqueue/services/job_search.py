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

from fabqueue.folding import digits, fold, folded, without_separators
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


def _own_words() -> Any:
    """The job's own words in one text: one function call per row, not four."""
    parts: list[Any] = []
    for column in (Job.title, Job.file_name, Job.customer_name, Job.customer_contact):
        if parts:
            parts.append(literal(SEPARATOR))
        parts.append(func.coalesce(col(column), ""))
    return _concat(parts)


def _concat(parts: list[Any]) -> Any:
    # ``||``, not ``concat()``: SQLite has the latter only since 3.44.
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(part)
    return joined


def _contains(text: Any, pattern: str, dialect: str) -> ColumnElement[bool]:
    """``text``, folded, contains ``pattern`` (folded words, wildcards escaped)."""
    return folded(text, dialect).like(pattern, escape="\\")


def terms_of(q: str) -> list[str]:
    """The words typed, folded; at most :data:`MAX_TERMS` of them."""
    return fold(q[:MAX_LENGTH]).split()[:MAX_TERMS]


def is_phone(q: str) -> bool:
    return bool(_PHONE.match(q.strip())) and len(digits(q)) >= MIN_PHONE_DIGITS


def matches(q: str, dialect: str) -> ColumnElement[bool] | None:
    """Jobs whose every word typed is in their own words or their owner's name; a phone
    number, as typed or digit for digit in the customer's contact. None: nothing typed."""
    if is_phone(q):
        # Digits and separators fold to themselves: no call per row to fold them.
        contact = without_separators(func.coalesce(col(Job.customer_contact), ""))
        typed = _like(q.strip())
        return or_(_own_words().like(typed, escape="\\"), contact.like(_like(digits(q))))
    terms = terms_of(q)
    if not terms:
        return None
    own = _own_words()
    conditions = []
    for term in terms:
        pattern = _like(term)
        owners = select(col(User.id)).where(_contains(col(User.name), pattern, dialect))
        conditions.append(or_(_contains(own, pattern, dialect), col(Job.owner_id).in_(owners)))
    return and_(*conditions)
