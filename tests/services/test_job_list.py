"""The jobs page's list: filters, the search (owner, file, walk-in customer; accents and
case ignored), keyset pages that neither repeat nor skip a row — on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.db import SessionFactory, make_engine, make_session_factory, session_scope
from fabqueue.models import Job, MachineRecord, User
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.services.job_list import JobFilter, JobListing, View, job_listing
from fabqueue.services.jobs import job_summaries
from fabqueue.states import JobState
from jobs.base import MachineKind
from tests.support.factories import make_user
from tests.support.job_rows import T0, add_job
from tests.support.web import counter_profiles

RENAMED = {
    "file": "file",
    "customer": "customer_name",
    "contact": "customer_contact",
    "target": "target_machine",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[SessionFactory]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url)
    yield make_session_factory(engine, None)
    engine.dispose()


@pytest.fixture
def profiles(tmp_path: Path) -> ProfileSet:
    return load_profiles(counter_profiles(tmp_path / "profiles"))


class Cafe:
    """People and jobs written straight into the database (a read-side test)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.camille, _ = make_user(sessions, "camille", "facilitator")
        self.helene, _ = make_user(sessions, "Hélène Šimić", "member")
        self.minutes = 0
        with session_scope(sessions) as s:
            for slug in ("plotter", "plotter-2"):
                s.add(
                    MachineRecord(
                        slug=slug,
                        node="n1",
                        name=slug,
                        kind=MachineKind.vinyl_cutter,
                        driver="sim",
                        updated_at=T0,
                    )
                )

    def job(
        self, state: JobState = JobState.queued, *, at: datetime | None = None, **fields: Any
    ) -> int:
        """One more job, a minute after the last one unless ``at`` says when."""
        self.minutes += 1
        fields.setdefault("owner", self.camille)
        return add_job(
            self.sessions,
            fields.pop("owner"),
            state,
            at=at or T0 + timedelta(minutes=self.minutes),
            **{RENAMED.get(k, k): v for k, v in fields.items()},
        )

    def user(self, user_id: int) -> User:
        with self.sessions() as s:
            user = s.get(User, user_id)
            assert user is not None
            s.expunge(user)
            return user


def listing(
    cafe: Cafe, profiles: ProfileSet, f: JobFilter, after: str | None = None, limit: int = 50
) -> JobListing:
    with cafe.sessions() as s:
        return job_listing(s, profiles, cafe.user(cafe.camille), f, after=after, limit=limit)


def ids(found: JobListing) -> list[int]:
    return [j.id for j in found.jobs if j.id is not None]


def every_page(cafe: Cafe, profiles: ProfileSet, f: JobFilter, limit: int) -> list[int]:
    seen: list[int] = []
    after = None
    for _ in range(1000):
        page = listing(cafe, profiles, f, after, limit)
        assert len(page.jobs) <= limit
        seen.extend(ids(page))
        if page.next_key is None:
            return seen
        after = page.next_key
    raise AssertionError("the pages never end")


def test_each_filter_shows_its_states_and_every_view_is_counted(
    db: SessionFactory, profiles: ProfileSet
) -> None:
    cafe = Cafe(db)
    made = {state: cafe.job(state) for state in JobState}
    expected = {
        View.waiting: {JobState.queued, JobState.held, JobState.draft, JobState.interrupted},
        View.running: {JobState.starting, JobState.running, JobState.paused},
        View.to_check: {JobState.awaiting_operator},
        View.done: {JobState.succeeded},
        View.failed: {JobState.failed, JobState.interrupted},
        View.all: set(JobState),
    }
    for view, states in expected.items():
        found = listing(cafe, profiles, JobFilter(view=view))
        assert set(ids(found)) == {made[s] for s in states}, view
        assert found.counts[view] == len(states)
    assert found.counts == {view: len(states) for view, states in expected.items()}
    assert found.counts[View.waiting] == 4, "the board's queue: interrupted jobs wait for staff"


def test_newest_first_and_the_queue_in_the_order_it_runs(
    db: SessionFactory, profiles: ProfileSet
) -> None:
    cafe = Cafe(db)
    old = cafe.job(JobState.held)
    urgent = cafe.job(JobState.queued, priority=5)
    new = cafe.job(JobState.queued)
    done = cafe.job(JobState.succeeded)
    assert ids(listing(cafe, profiles, JobFilter())) == [done, new, urgent, old]
    assert ids(listing(cafe, profiles, JobFilter(view=View.waiting))) == [urgent, old, new]


def test_rows_carry_owner_estimate_and_the_boards_price_for_waiting_jobs(
    db: SessionFactory, profiles: ProfileSet
) -> None:
    cafe = Cafe(db)
    waiting = cafe.job(JobState.queued, owner=cafe.helene)
    done = cafe.job(JobState.succeeded)
    found = listing(cafe, profiles, JobFilter())
    assert found.owners == {cafe.helene: "Hélène Šimić", cafe.camille: "camille"}
    assert found.estimates == {waiting: 360.0, done: 360.0}
    assert set(found.prices) == {waiting}
    assert found.prices[waiting].ht > 0


def test_the_machine_filter_takes_the_machine_it_ran_on_or_was_sent_to(
    db: SessionFactory, profiles: ProfileSet
) -> None:
    cafe = Cafe(db)
    ran = cafe.job(JobState.succeeded, machine="plotter")
    sent = cafe.job(JobState.queued, target="plotter")
    cafe.job(JobState.succeeded, machine="plotter-2")
    cafe.job(JobState.queued)
    found = listing(cafe, profiles, JobFilter(machine="plotter"))
    assert ids(found) == [sent, ran]
    assert found.counts[View.waiting] == 1 and found.counts[View.all] == 2


def search(cafe: Cafe, profiles: ProfileSet, q: str, view: View = View.all) -> list[int]:
    return ids(listing(cafe, profiles, JobFilter(view=view, q=q)))


def test_search_finds_a_customer_by_name_phone_or_email_whatever_the_case_or_accents(
    db: SessionFactory, profiles: ProfileSet
) -> None:
    cafe = Cafe(db)
    dupont = cafe.job(JobState.succeeded, customer="Mme Élodie Dupont", contact="06 12 34 56 78")
    mail = cafe.job(JobState.queued, customer="M. Garçon", contact="Jean.Garcon@Exemple.fr")
    cafe.job(JobState.queued, customer="Mme Martin", contact="07 00 00 00 00")
    assert search(cafe, profiles, "dupont") == [dupont]
    assert search(cafe, profiles, "DUPONT") == [dupont]
    assert search(cafe, profiles, "elodie") == [dupont]
    assert search(cafe, profiles, "ÉLODIE dup") == [dupont], "every word, anywhere"
    assert search(cafe, profiles, "0612345678") == [dupont], "a phone typed without spaces"
    assert search(cafe, profiles, "06.12.34") == [dupont]
    assert search(cafe, profiles, "garcon") == [mail]
    assert search(cafe, profiles, "garçon") == [mail]
    assert search(cafe, profiles, "jean.garcon@exemple") == [mail]
    assert search(cafe, profiles, "dupont garcon") == [], "both words must match one job"
    assert search(cafe, profiles, "dupont", View.waiting) == []


def test_search_finds_a_file_or_its_owner_and_reads_wildcards_as_text(
    db: SessionFactory, profiles: ProfileSet
) -> None:
    cafe = Cafe(db)
    logo = cafe.job(JobState.queued, file="Logo-Boulangerie_100%.svg")
    hers = cafe.job(JobState.held, owner=cafe.helene, file="porte-clés.gcode")
    assert search(cafe, profiles, "boulangerie") == [logo]
    assert search(cafe, profiles, "100%") == [logo]
    assert search(cafe, profiles, "%") == [logo], "a % typed is a %, not 'anything'"
    assert search(cafe, profiles, "o_b") == [], "and _ is an underscore (not the - of Logo-B)"
    assert search(cafe, profiles, "e_1") == [logo]
    assert search(cafe, profiles, "helene") == [hers], "the owner's name, accents ignored"
    assert search(cafe, profiles, "SIMIC") == [hers]
    assert search(cafe, profiles, "porte-cles") == [hers]
    assert search(cafe, profiles, "   ") == [hers, logo], "nothing typed: every job"
    found = listing(cafe, profiles, JobFilter(q="helene"))
    assert found.counts[View.waiting] == 1 and found.counts[View.all] == 1


@pytest.mark.parametrize("q", ["", "STICKER"], ids=["all", "searched"])
def test_keyset_pages_neither_repeat_nor_skip_a_job(
    db: SessionFactory, profiles: ProfileSet, q: str
) -> None:
    """Without words the database orders and pages; with words, one pass reads every match
    and the page is cut from it: both the same way."""
    cafe = Cafe(db)
    states = [JobState.queued, JobState.held, JobState.succeeded, JobState.failed]
    for i in range(57):
        cafe.job(states[i % 4], priority=i % 3 - 1)
    with db() as s:
        everything = list(s.exec(select(Job)))
    newest_first = sorted((j.id for j in everything if j.id), reverse=True)
    assert every_page(cafe, profiles, JobFilter(q=q), limit=10) == newest_first
    queue = sorted(
        (j for j in everything if j.state in (JobState.queued, JobState.held)),
        key=lambda j: (-j.priority, j.created_at, j.id),
    )
    waiting = JobFilter(view=View.waiting, q=q)
    assert every_page(cafe, profiles, waiting, limit=7) == [j.id for j in queue]
    assert every_page(cafe, profiles, waiting, limit=len(queue)) == [j.id for j in queue]


@pytest.mark.parametrize("q", ["", "sticker"], ids=["all", "searched"])
def test_the_queue_pages_by_its_whole_key_when_jobs_arrive_at_the_same_moment(
    db: SessionFactory, profiles: ProfileSet, q: str
) -> None:
    cafe = Cafe(db)
    same = T0 + timedelta(microseconds=123_457)
    first = [cafe.job(JobState.queued, at=same) for _ in range(5)]
    later = cafe.job(JobState.queued, at=same + timedelta(microseconds=1))
    page = listing(cafe, profiles, JobFilter(view=View.waiting, q=q), limit=3)
    assert ids(page) == first[:3] and page.next_key is not None
    # Between two pages a job arrives at the front and one of the next page leaves.
    cafe.job(JobState.queued, priority=9)
    with session_scope(db) as s:
        gone = s.get(Job, first[3])
        assert gone is not None
        gone.state = JobState.cancelled
    rest = listing(cafe, profiles, JobFilter(view=View.waiting, q=q), after=page.next_key, limit=3)
    assert ids(rest) == [first[4], later] and rest.next_key is None


def test_a_page_link_edited_by_hand_shows_the_first_page(
    db: SessionFactory, profiles: ProfileSet
) -> None:
    cafe = Cafe(db)
    made = [cafe.job(JobState.queued) for _ in range(3)]
    for view, q in [(v, q) for v in (View.all, View.waiting) for q in ("", "sticker")]:
        for key in ("abc", "1.2", "9" * 40, "1.2.x", "-1"):
            found = listing(cafe, profiles, JobFilter(view=view, q=q), after=key)
            if key == "-1" and view == View.all:
                assert ids(found) == [], "no job before id -1: an empty page, not an error"
            else:
                assert sorted(ids(found)) == made, (view, key)


def test_a_member_sees_only_their_own_jobs(db: SessionFactory, profiles: ProfileSet) -> None:
    cafe = Cafe(db)
    hers = cafe.job(JobState.queued, owner=cafe.helene)
    cafe.job(JobState.queued)
    with db() as s:
        found = job_listing(s, profiles, cafe.user(cafe.helene), JobFilter())
    assert ids(found) == [hers] and found.counts[View.all] == 1


def test_the_apis_summaries_search_the_same_way(db: SessionFactory) -> None:
    cafe = Cafe(db)
    dupont = cafe.job(JobState.succeeded, customer="Mme Dupont", contact="dupont@exemple.fr")
    cafe.job(JobState.queued)
    with db() as s:
        staff = cafe.user(cafe.camille)
        rows, total = job_summaries(s, staff, q="DUPONT")
        assert [r["id"] for r in rows] == [dupont] and total == 1
        rows, total = job_summaries(s, staff, q="dupont", states=[JobState.queued])
        assert rows == [] and total == 0
        _rows, total = job_summaries(s, staff)
        assert total == 2


def test_filters_combine(db: SessionFactory, profiles: ProfileSet) -> None:
    cafe = Cafe(db)
    wanted = cafe.job(JobState.queued, target="plotter", customer="Dupont")
    cafe.job(JobState.queued, target="plotter-2", customer="Dupont")
    cafe.job(JobState.succeeded, machine="plotter", customer="Dupont")
    f = JobFilter(view=View.waiting, machine="plotter", q="dupont")
    assert ids(listing(cafe, profiles, f)) == [wanted]
    assert listing(cafe, profiles, replace(f, view=View.all)).counts[View.all] == 2
