"""The run figures in plain columns (migration 0015): back-filled from the analyses on
both databases, written by ``states.transition`` when a run ends, and the database's
sums equal to the same runs added up row by row in Python."""

from __future__ import annotations

from dataclasses import astuple, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, Float, insert, inspect, text
from sqlalchemy import literal as sa_literal
from sqlalchemy import select as sa_select

from fabqueue.db import (
    alembic_config,
    current_revision,
    make_engine,
    make_session_factory,
    session_scope,
    upgrade,
)
from fabqueue.models import Job, StoredFile, User
from fabqueue.reports import accuracy, figures, groups, period, rows
from fabqueue.reports.rows import RunGroup
from fabqueue.states import JobState, transition
from tests.support.activity import PARIS, YEAR, Year

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BEFORE = "-1"
"""One step below 0015, whichever revision it is chained to (another branch adds 0014)."""

ANALYSES: list[tuple[dict[str, Any], int]] = [
    (
        {
            "duration_s": 3600.5,
            "material": {"filament_g": 12.25},
            "details": {"heatup_s": 120, "homing_s": 15, "purge_g": 0.5},
        },
        3,
    ),
    (
        {
            "duration_s": 600,
            "material": {"vinyl_area_mm2": 40_000},
            "details": {"design_area_mm2": 31_000},
        },
        1,
    ),
    ({"duration_s": -1, "material": {"thread_m": 42.5}}, 0),  # a negative figure is unknown
    ({}, 2),
]


def _job(i: int, owner: int, analysis: dict[str, Any], copies: int) -> dict[str, Any]:
    return {
        "id": i,
        "kind": "fdm_printer",
        "owner_id": owner,
        "title": "t",
        "file_sha256": "a" * 64,
        "file_name": "t.gcode",
        "file_type": "gcode",
        "file_size": 1,
        "analysis": analysis,
        "copies": copies,
        "state": "succeeded",
        "checkpoint": {},
        "created_at": T0,
        "updated_at": T0,
    }


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(text(f"SELECT {', '.join(figures.COLUMNS)} FROM job ORDER BY id"))
        ]


def _back_fill(engine: Engine) -> None:
    upgrade(engine)
    command.downgrade(alembic_config(engine), BEFORE)
    assert not set(figures.COLUMNS) & {c["name"] for c in inspect(engine).get_columns("job")}
    with engine.begin() as c:
        c.execute(insert(StoredFile).values(sha256="a" * 64, size=1, created_at=T0))
        owner = c.execute(
            insert(User).values(name="o", role="member", active=True, created_at=T0)
        ).inserted_primary_key[0]
        for i, (analysis, copies) in enumerate(ANALYSES, start=1):
            c.execute(insert(Job.__table__).values(_job(i, owner, analysis, copies)))  # type: ignore[attr-defined]
    upgrade(engine)
    assert current_revision(engine) == "0015"
    expected = [tuple(figures.columns(a, n).values()) for a, n in ANALYSES]
    assert _stored(engine) == expected
    # The first job: all three copies' time and filament, heat-up and homing once.
    assert expected[0] == (10801.5, 120.0, 15.0, 36.75, 0.0, None, 0.0, 1.5)
    assert expected[2][0] is None and expected[2][6] == 42.5
    # Down keeps the jobs (no rebuild of a referenced table), up fills them again.
    command.downgrade(alembic_config(engine), BEFORE)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM job")).scalar_one() == len(ANALYSES)
    upgrade(engine)
    assert _stored(engine) == expected


def test_migration_back_fills_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        _back_fill(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_migration_back_fills_on_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        _back_fill(engine)
    finally:
        engine.dispose()


def test_a_run_ending_writes_its_figures(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    analysis, copies = ANALYSES[0]
    try:
        with engine.begin() as c:
            c.execute(insert(StoredFile).values(sha256="a" * 64, size=1, created_at=T0))
            owner = c.execute(
                insert(User).values(name="o", role="member", active=True, created_at=T0)
            ).inserted_primary_key[0]
            row = {**_job(1, owner, analysis, copies), "state": "running"}
            c.execute(insert(Job.__table__).values(row))  # type: ignore[attr-defined]
        assert _stored(engine) == [(None,) * len(figures.COLUMNS)]
        sessions = make_session_factory(engine, None)
        with session_scope(sessions) as s:
            transition(s, 1, JobState.succeeded, expected=[JobState.running], actor="test", at=T0)
            s.commit()
        assert _stored(engine) == [tuple(figures.columns(analysis, copies).values())]
    finally:
        engine.dispose()


def _approx(g: RunGroup) -> tuple[Any, ...]:
    return tuple(pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for v in astuple(g))


@pytest.mark.parametrize("narrow", [None, ["plotter", "printer"]])
@pytest.mark.parametrize(
    "p", [period.year(YEAR, PARIS), period.quarter(YEAR, 2, PARIS), period.month(YEAR, 3, PARIS)]
)
def test_database_sums_equal_the_rows_added_up(
    any_year: Year, narrow: list[str] | None, p: period.Period
) -> None:
    with session_scope(any_year.sessions) as s:
        loaded = rows.load(s, p, narrow)
        sums = rows.load_sums(s, p, narrow)
    by_rows = groups.of_rows(loaded.jobs, loaded.redos, p)
    by_db = groups.merge(sums.groups)
    assert [g.key for g in by_db] == [g.key for g in by_rows]
    assert [_approx(g) for g in by_db] == [astuple(g) for g in by_rows]
    # Machine seconds are rounded half to even run by run, as Python's round() does.
    assert [g.seconds for g in by_db] == [g.seconds for g in by_rows]
    assert sum(g.runs for g in by_db) == len(loaded.jobs) + len(loaded.redos) > 0
    assert sorted(sums.owners) == sorted({(j.owner_id, j.owner_role) for j in loaded.jobs})
    by_machine = {m: sorted(v) for m, v in sums.ratios.items()}
    assert by_machine == {m: sorted(v) for m, v in accuracy.ratios(loaded.jobs).items()}
    assert fields(RunGroup)[5].name == "runs"


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_machine_seconds_round_half_to_even_as_python_does(
    db: str, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url"))
    values = [0.0, 0.5, 1.5, 2.5, 2.4999999, 2.5000001, 300.5, 301.5, 7.75, 1e9 + 0.5]
    try:
        with engine.connect() as c:
            got = [
                c.execute(
                    sa_select(rows._half_even(sa_literal(v, Float()), engine.dialect.name))
                ).scalar_one()
                for v in values
            ]
    finally:
        engine.dispose()
    assert [int(g) for g in got] == [round(v) for v in values]
    assert [round(v) for v in values][1:4] == [0, 2, 2]
