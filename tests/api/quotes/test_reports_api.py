"""Estimate against actual: the runner's time, the operator's entries, the report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.models import Job
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.api import submit
from tests.support.jobs import run_job
from tests.support.quotes import (
    BENCHY,
    add_design,
    draft_for,
    make_client,
    staff,
)

ESTIMATE = 2323.0


def finish(api: Api, job_id: int, state: JobState, actual: float | None) -> None:
    """What the runner writes when a job ends (the dispatcher is off in these tests)."""
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    with api.ctx.sessions() as s:
        run_job(
            s,
            job_id,
            state,
            # One machine each: a job left awaiting the operator holds its machine.
            machine=f"printer-{job_id}",
            at=at,
            values={"actual_duration_s": actual, "finished_at": at},
        )
        s.commit()


def quote_jobs(api: Api) -> list[int]:
    org, _client = make_client(api)
    q = draft_for(api, org)
    add_design(api, q["id"], BENCHY, staff(api), quantity=3)
    sent = api.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(api)).json()
    api.client.post(
        f"/api/v1/quotes/link/{sent['accept_token']}/accept",
        json={"signer_name": "C", "agree": True},
    )
    done = api.client.post(f"/api/v1/quotes/{q['id']}/convert", headers=staff(api), json={})
    assert done.status_code == 200, done.text
    return done.json()["job_ids"]  # type: ignore[no-any-return]


def report(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = api.client.get("/api/v1/reports/estimates", headers=staff(api), params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_median_and_worst_ratio_per_kind(qapi: Api) -> None:
    j1, j2, j3 = quote_jobs(qapi)
    assert report(qapi) == []  # nothing finished yet
    finish(qapi, j1, JobState.succeeded, ESTIMATE * 1.2)
    finish(qapi, j2, JobState.succeeded, ESTIMATE * 0.9)
    # An embroidery-folder-like machine could not time the third: the operator says.
    finish(qapi, j3, JobState.awaiting_operator, None)
    r = qapi.client.put(
        f"/api/v1/reports/actuals/{j3}",
        headers=staff(qapi),
        json={
            "duration_s": ESTIMATE * 1.5,
            "material": {"filament_g": 15.324},
            "note": "deux supports ratés",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["recorded_by"].startswith("user:")

    [fdm] = report(qapi)
    assert fdm["kind"] == "fdm_printer" and fdm["jobs"] == 3
    d = fdm["duration"]
    # Ratios 1.2, 0.9, 1.5: median 1.2; worst is the furthest from 1 (1.5).
    assert (d["count"], d["worst_job_id"]) == (3, j3)
    assert d["median"] == pytest.approx(1.2) and d["worst"] == pytest.approx(1.5)
    [m] = fdm["material"]
    assert (m["metric"], m["count"]) == ("filament_g", 1)
    assert m["median"] == pytest.approx(15.324 / 12.77)

    # A member's own print (not from a quote) took twice the estimate.
    r = submit(qapi, BENCHY, machine="printer")
    assert r.status_code == 201, r.text
    finish(qapi, r.json()["id"], JobState.succeeded, ESTIMATE * 2)
    [fdm] = report(qapi)
    # 0.9, 1.2, 1.5, 2.0: median 1.35, worst 2.0.
    assert fdm["duration"]["median"] == pytest.approx(1.35)
    assert fdm["duration"]["worst"] == pytest.approx(2.0)
    [fdm] = report(qapi, quotes_only=True)
    assert fdm["duration"]["median"] == pytest.approx(1.2)
    assert report(qapi, since="2026-03-04T00:00:00Z") == []


def test_actuals_are_refused_for_unfinished_jobs_and_bad_figures(qapi: Api) -> None:
    j1, _, _ = quote_jobs(qapi)
    r = qapi.client.put(
        f"/api/v1/reports/actuals/{j1}", headers=staff(qapi), json={"duration_s": 100}
    )
    assert r.status_code == 409 and "queued" in r.json()["detail"]
    finish(qapi, j1, JobState.succeeded, 10.0)
    for body in (
        {"duration_s": -5},
        {"duration_s": 0},
        {"material": {"filament_g": -1}},
        {},
        {"duration_s": 10, "colour": "rouge"},
    ):
        r = qapi.client.put(f"/api/v1/reports/actuals/{j1}", headers=staff(qapi), json=body)
        assert r.status_code == 422, (body, r.text)
    assert (
        qapi.client.put(
            "/api/v1/reports/actuals/999", headers=staff(qapi), json={"duration_s": 5}
        ).status_code
        == 404
    )
    member = qapi.headers("maya", "member")
    assert qapi.client.get("/api/v1/reports/estimates", headers=member).status_code == 403
    with qapi.ctx.read_sessions() as s:
        assert s.exec(select(Job).where(Job.id == j1)).one().actual_duration_s == 10.0
