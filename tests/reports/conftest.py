from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.activity import Year, open_year


@pytest.fixture
def year(sqlite_url: str, tmp_path: Path) -> Iterator[Year]:
    """A generated year of activity on SQLite."""
    yield from open_year(sqlite_url, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_year(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Year]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    yield from open_year(url, tmp_path)
