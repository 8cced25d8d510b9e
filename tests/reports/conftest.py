from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fabqueue.db import SessionFactory, make_engine, make_session_factory, session_scope
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.reports import period, service
from fabqueue.reports.service import Report
from tests.support.activity import NOW, PARIS, YEAR, Ledger, generate, write_cafe


@dataclass
class Year:
    sessions: SessionFactory
    profiles: ProfileSet
    ledger: Ledger

    def report(self, p: period.Period | None = None, **kw: object) -> Report:
        with session_scope(self.sessions) as s:
            return service.build(
                s,
                self.profiles,
                p or period.year(YEAR, PARIS),
                now=NOW,
                **kw,  # type: ignore[arg-type]
            )


def _year(url: str, tmp_path: Path) -> Iterator[Year]:
    engine = make_engine(url)
    sessions = make_session_factory(engine, None)
    profiles = load_profiles(write_cafe(tmp_path / "profiles"))
    ledger = generate(sessions)
    yield Year(sessions, profiles, ledger)
    engine.dispose()


@pytest.fixture
def year(sqlite_url: str, tmp_path: Path) -> Iterator[Year]:
    """A generated year of activity on SQLite."""
    yield from _year(sqlite_url, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_year(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Year]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    yield from _year(url, tmp_path)
