"""The learnt correction factor, from real job rows (SQLite, and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fabqueue.db import SessionFactory, make_engine, make_session_factory, session_scope
from fabqueue.models import Job, JobEvent, MachineRecord, StoredFile
from fabqueue.services.estimates import (
    MIN_SAMPLES,
    WINDOW,
    apply_correction,
    correction_factor,
    job_ratio,
)
from fabqueue.states import JobState
from jobs.base import Analysis, MachineKind
from tests.support.factories import make_user

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SHA = "a" * 64


def analysis(duration: float, heatup: float = 100.0, homing: float = 20.0) -> dict[str, Any]:
    return {
        "kind": "fdm_printer",
        "file_type": "gcode",
        "analyzer": "gcode-planner",
        "duration_s": duration,
        "details": {"heatup_s": heatup, "homing_s": homing},
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[SessionFactory]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url)
    yield make_session_factory(engine, None)
    engine.dispose()


class Rows:
    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.owner, _ = make_user(sessions, "mia", "member")
        self.minutes = 0
        with session_scope(sessions) as s:
            s.add(StoredFile(sha256=SHA, size=1, created_at=T0))
            for slug, driver in (("mk3", "marlin_serial"), ("mini", "octoprint"), ("sim", "sim")):
                s.add(
                    MachineRecord(
                        slug=slug,
                        node="n1",
                        name=slug,
                        kind=MachineKind.fdm_printer,
                        driver=driver,
                        updated_at=T0,
                    )
                )

    def job(
        self,
        machine: str,
        actual: float | None,
        estimate: dict[str, Any],
        *,
        state: JobState = JobState.succeeded,
        copies: int = 1,
        interrupted: bool = False,
    ) -> int:
        self.minutes += 10
        at = T0 + timedelta(minutes=self.minutes)
        with session_scope(self.sessions) as s:
            job = Job(
                kind=MachineKind.fdm_printer,
                machine=machine,
                owner_id=self.owner,
                title="part",
                file_sha256=SHA,
                file_name="part.gcode",
                file_type="gcode",
                file_size=1,
                analysis=estimate,
                state=state,
                copies=copies,
                actual_duration_s=actual,
                created_at=at,
                updated_at=at,
                finished_at=at,
            )
            s.add(job)
            s.flush()
            assert job.id is not None
            if interrupted:
                s.add(
                    JobEvent(
                        job_id=job.id,
                        from_state=JobState.running,
                        to_state=JobState.interrupted,
                        at=at,
                        actor="system",
                    )
                )
            return job.id


def test_ratio_takes_heat_up_and_homing_out() -> None:
    assert job_ratio(analysis(1000), 1320) == pytest.approx(1.2)  # (1320-100-20)/1000
    assert job_ratio(analysis(1000), None) is None
    assert job_ratio(analysis(0), 1000) is None
    assert job_ratio({"duration_s": 1000}, 900) == pytest.approx(0.9)
    assert job_ratio(analysis(1000), 5000) is None  # 4.9: a night paused by hand
    assert job_ratio(analysis(1000), 150) is None  # less than the heat-up: nonsense


def test_factor_is_the_median_of_the_latest_usable_jobs(db: SessionFactory) -> None:
    rows = Rows(db)
    with db() as s:
        assert correction_factor(s, "mk3") is None  # no history yet
    rows.job("mk3", 1220, analysis(1000))  # 1.1
    rows.job("mk3", 1320, analysis(1000))  # 1.2
    with db() as s:
        assert correction_factor(s, "mk3") is None  # fewer than MIN_SAMPLES
    assert MIN_SAMPLES == 3
    rows.job("mk3", 1420, analysis(1000))  # 1.3
    # Not usable: failed, several copies, resumed after an interruption, an outlier,
    # another machine, no measured time.
    rows.job("mk3", 3000, analysis(1000), state=JobState.failed)
    rows.job("mk3", 3000, analysis(1000), copies=3)
    rows.job("mk3", 3000, analysis(1000), interrupted=True)
    rows.job("mk3", 9000, analysis(1000))
    rows.job("mini", 620, analysis(1000))
    rows.job("mk3", None, analysis(1000))
    with db() as s:
        c = correction_factor(s, "mk3")
    assert c is not None
    assert (c.factor, c.samples) == (pytest.approx(1.2), 3)
    # The window keeps the latest WINDOW jobs: ten newer jobs 10 % faster than estimated.
    for _ in range(WINDOW):
        rows.job("mk3", 1020, analysis(1000))
    with db() as s:
        c = correction_factor(s, "mk3")
    assert c is not None and (c.factor, c.samples) == (pytest.approx(0.9), WINDOW)


def test_simulated_machines_teach_nothing(db: SessionFactory) -> None:
    rows = Rows(db)
    for _ in range(5):
        rows.job("sim", 1320, analysis(1000))
    with db() as s:
        assert correction_factor(s, "sim") is None
        assert correction_factor(s, "no-such-machine") is None


def test_corrected_duration_is_shown_beside_the_raw_one(db: SessionFactory) -> None:
    rows = Rows(db)
    for actual in (1220, 1320, 1420, 1320):
        rows.job("mk3", actual, analysis(1000))
    raw = Analysis(kind=MachineKind.fdm_printer, file_type="gcode", analyzer="x", duration_s=600)
    with db() as s:
        corrected = apply_correction(raw, correction_factor(s, "mk3"))
    assert corrected.duration_s == 600
    assert corrected.details["correction_factor"] == pytest.approx(1.2)
    assert corrected.details["correction_samples"] == 4
    assert corrected.details["duration_corrected_s"] == pytest.approx(720.0)
    assert apply_correction(raw, None) == raw
