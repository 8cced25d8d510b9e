"""Quotes under concurrency and large sums, on SQLite and on PostgreSQL: converts racing
for one accepted quote make its jobs once and leave no ghost job; totals above what a
32-bit column holds are kept to the cent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from fabqueue.models import Job, Quote, QuoteEvent, QuoteJob, User
from fabqueue.quotes import convert as quote_convert
from fabqueue.services.errors import Conflict
from fabqueue.settings import Settings
from jobs.base import MachineKind
from jobs.registry import ANALYZERS, AnalyzerSpec
from tests.conftest import Api
from tests.support.quotes import (
    BENCHY,
    SetClock,
    add_design,
    draft_for,
    fixed_gcode_analysis,
    free_line,
    make_client,
    quote_profiles,
    staff,
)

CONVERTERS = 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_api(
    request: pytest.FixtureRequest,
    make_api: Callable[..., Api],
    settings: Settings,
    tmp_path: Path,
    clock: SetClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Api:
    """The quote API (as ``qapi``) on SQLite, then on PostgreSQL."""
    monkeypatch.setitem(
        ANALYZERS, "gcode", AnalyzerSpec(MachineKind.fdm_printer, fixed_gcode_analysis)
    )
    url = settings.db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    root = quote_profiles(tmp_path / "qprofiles", "normal")
    return make_api(
        settings.model_copy(
            update={"db_url": url, "profiles_dir": root, "start_dispatcher": False}
        ),
        clock=clock,
    )


def _accepted_quote(api: Api) -> int:
    org, client = make_client(api)
    q = draft_for(api, org, "Bateaux")
    assert add_design(api, q["id"], BENCHY, staff(api), quantity=3).status_code == 201
    assert add_design(api, q["id"], BENCHY, staff(api), quantity=2).status_code == 201
    r = api.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(api))
    assert r.status_code == 200, r.text
    r = api.client.post(
        f"/api/v1/quotes/{q['id']}/accept",
        headers=client,
        json={"signer_name": "C. Martin", "agree": True},
    )
    assert r.status_code == 200, r.text
    return int(q["id"])


def test_racing_converts_make_the_jobs_once_and_no_ghost(backend_api: Api) -> None:
    api = backend_api
    quote_id = _accepted_quote(api)
    ctx = api.ctx
    with ctx.sessions() as session:
        user = session.get(User, api.user_ids["staff"])
        assert user is not None
        session.expunge(user)
    start = threading.Barrier(CONVERTERS)

    def convert(_: int) -> str:
        start.wait(timeout=30)
        try:
            quote_convert.convert(
                sessions=ctx.sessions,
                read_sessions=ctx.read_sessions,
                store=ctx.store,
                profiles=ctx.profiles,
                user=user,
                quote_id=quote_id,
                hold=False,
                now=ctx.clock.now(),
            )
        except Conflict as exc:
            return f"refused: {exc.message}"
        return "converted"

    with ThreadPoolExecutor(CONVERTERS) as pool:
        outcomes = list(pool.map(convert, range(CONVERTERS)))

    assert outcomes.count("converted") == 1, outcomes
    assert all("converted" in o for o in outcomes if o != "converted"), outcomes
    with ctx.sessions() as session:
        jobs = session.exec(select(Job)).all()
        links = session.exec(select(QuoteJob).where(QuoteJob.quote_id == quote_id)).all()
        moves = session.exec(
            select(func.count())
            .select_from(QuoteEvent)
            .where(QuoteEvent.quote_id == quote_id)
            .where(col(QuoteEvent.to_state) == "converted")
        ).one()
    # 3 + 2 copies, all queued: no job was made and then cancelled by a loser.
    assert sorted(str(j.state) for j in jobs) == ["queued"] * 5
    assert sorted(j.id for j in jobs) == sorted(link.job_id for link in links)
    assert moves == 1


def _money_quote(api: Api, lines: int, org: int | None = None) -> dict[str, Any]:
    if org is None:
        org, _ = make_client(api)
    q = draft_for(api, org, "Fresque du port")
    for i in range(lines):
        r = free_line(api, q["id"], f"Panneau {i + 1}", "1", "999999.99")
        assert r.status_code == 201, r.text
    return q


def test_totals_above_32_bits_are_kept_to_the_cent(backend_api: Api) -> None:
    """30 lines at 999,999.99 € HT: 29,999,999.70 € HT, 35,999,999.64 € TTC — more cents
    than a 32-bit column holds (2,147,483,647)."""
    api = backend_api
    q = _money_quote(api, 30)
    r = api.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(api))
    assert r.status_code == 200, r.text
    totals = r.json()["totals"]
    assert Decimal(totals["ht"]) == Decimal("29999999.70")
    assert Decimal(totals["ttc"]) == Decimal("35999999.64")
    with api.ctx.sessions() as session:
        stored = session.get(Quote, q["id"])
        assert stored is not None
        assert stored.total_ttc_cents == 3_599_999_964 > 2**31 - 1


def _family(api: Api, org: int) -> tuple[int, int]:
    """A sent quote and its revision, a draft ready to be sent."""
    q = _money_quote(api, 1, org)
    r = api.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(api))
    assert r.status_code == 200, r.text
    r = api.client.post(f"/api/v1/quotes/{q['id']}/revise", headers=staff(api))
    assert r.status_code == 201, r.text
    return int(q["id"]), int(r.json()["id"])


def test_accepting_a_version_while_its_revision_is_sent_lets_one_win(backend_api: Api) -> None:
    """The client accepts A while staff send B (its revision): they lock both versions
    in the same order, so one waits for the other, and never both succeed."""
    from fabqueue.models.quote_public import Acceptance
    from fabqueue.quotes import answers, sending

    api = backend_api
    ctx = api.ctx
    org, _ = make_client(api)
    pairs = [_family(api, org) for _ in range(4)]
    with ctx.sessions() as session:
        staff_user = session.get(User, api.user_ids["staff"])
        assert staff_user is not None
        session.expunge(staff_user)

    def accept(quote_id: int, start: threading.Barrier) -> str:
        start.wait(timeout=30)
        with ctx.sessions() as session:
            try:
                answers.accept_as(
                    session=session,
                    user=staff_user,
                    quote_id=quote_id,
                    data=Acceptance(signer_name="C. Martin", agree=True),
                    profiles=ctx.profiles,
                    at=ctx.clock.now(),
                )
            except Conflict:
                return "refused"
        return "accepted"

    def send(quote_id: int, start: threading.Barrier) -> str:
        start.wait(timeout=30)
        with ctx.sessions() as session:
            try:
                sending.send(
                    session=session,
                    user=staff_user,
                    quote_id=quote_id,
                    profiles=ctx.profiles,
                    at=ctx.clock.now(),
                )
            except Conflict:
                return "refused"
        return "sent"

    with ThreadPoolExecutor(2) as pool:
        for first, revision in pairs:
            start = threading.Barrier(2)
            accepted = pool.submit(accept, first, start)
            sent = pool.submit(send, revision, start)
            outcome = (accepted.result(timeout=60), sent.result(timeout=60))
            with ctx.read_sessions() as session:
                a, b = session.get(Quote, first), session.get(Quote, revision)
                assert a is not None and b is not None
                states = (str(a.state), str(b.state))
            assert (outcome, states) in [
                (("accepted", "refused"), ("accepted", "cancelled")),
                (("refused", "sent"), ("superseded", "sent")),
            ], (outcome, states)
