"""Text folded for searching: « Hélène » is found by « helene », « HÉLÈNE » and « hél ».

The same folding must run in the database, where the rows are, and on the words typed:
SQLite gets :func:`fold` as an SQL function at each connection (see
``db.py``); PostgreSQL gets an SQL expression doing the same for Latin letters
(``translate`` then ``lower``: its ``lower`` only folds ASCII under the C locale the
café's server may run with, and ``unaccent`` is an extension an administrator must add).
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement

SQL_FOLD = "fq_fold"
PHONE_SEPARATORS = " .-/()+\u00a0\u202f"
"""What people put between the digits of a phone number."""


def fold(text: str | None) -> str:
    """Without accents, case folded; ``None`` as an empty string."""
    if not text:
        return ""
    if text.isascii():
        # Most rows: SQLite calls this once per row searched, and NFKD is the slow part.
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def digits(text: str | None) -> str:
    """Only the digits: « 06 12.34-56 » and « 06123456 » are the same number."""
    return re.sub(r"\D", "", text or "")


def _latin_pairs() -> tuple[str, str]:
    """Each accented Latin letter and the one ASCII letter it folds to (for ``translate``)."""
    accented, plain = [], []
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if base != char and len(base) == 1 and base.isascii() and base.isalpha():
            accented.append(char)
            plain.append(base)
    return "".join(accented), "".join(plain)


LATIN_ACCENTED, LATIN_PLAIN = _latin_pairs()


def register_sqlite(connection: sqlite3.Connection) -> None:
    """The folding functions, in SQLite's SQL (deterministic: the planner may reuse them)."""
    connection.create_function(SQL_FOLD, 1, fold, deterministic=True)


def folded(expr: Any, dialect: str) -> ColumnElement[str]:
    """``expr`` folded in the database, as :func:`fold` folds the words typed."""
    if dialect == "sqlite":
        return getattr(func, SQL_FOLD)(expr)  # type: ignore[no-any-return]
    return func.lower(func.translate(expr, LATIN_ACCENTED, LATIN_PLAIN))


def without_separators(expr: Any) -> ColumnElement[str]:
    """``expr`` without what separates a phone number's digits, in the database (the same
    SQL on SQLite and PostgreSQL, and no Python call per row)."""
    for separator in PHONE_SEPARATORS:
        expr = func.replace(expr, separator, "")
    return expr  # type: ignore[no-any-return]
