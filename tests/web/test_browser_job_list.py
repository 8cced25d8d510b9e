"""« Travaux » in Debian's Chromium: from the board's « and N more » to the list, a
customer found by name, their job opened; axe-core and finger-sized controls on the
list in French and English, light and dark, at the three sizes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from fabqueue.services import counter
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.support.browser import (
    SMALL_CONTROLS_JS,
    VIEWPORTS,
    ServedCounter,
    chromium,
    serious_violations,
    served_counter,
    sign_in,
)
from tests.support.job_rows import T0, add_job
from tests.support.web import STICKER

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAITING = 32
"""In the board's queue (held jobs, an interrupted one, Mme Dupont's): two more than it
shows."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def served(settings: Settings) -> Iterator[ServedCounter]:
    with served_counter(settings) as c:
        yield c


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _fill(served: ServedCounter) -> int:
    """A long queue (held: nothing runs), some history, and Mme Dupont's sticker, sent
    last through the API as the counter sends it; returns her job's id."""
    from sqlmodel import select

    from fabqueue.models import User

    with served.ctx.read_sessions() as s:
        camille = s.exec(select(User).where(User.name == "camille")).one()
    assert camille.id is not None
    for i in range(WAITING - 2):
        at = T0 + timedelta(minutes=i)
        add_job(served.ctx.sessions, camille.id, JobState.held, at=at, file=f"badge-{i}.svg")
    for i, state in enumerate((JobState.succeeded, JobState.failed, JobState.interrupted)):
        add_job(served.ctx.sessions, camille.id, state, at=T0 - timedelta(hours=i + 1))
    job = served.submit(STICKER, material="vinyle-noir", hold="true")
    with served.ctx.sessions() as s:
        counter.set_customer(
            session=s, job_id=job["id"], user=camille, name="Mme Hélène Dupont", contact="06 12"
        )
    return int(job["id"])


def test_from_the_boards_link_to_a_customers_job(browser: Any, served: ServedCounter) -> None:
    expect = _expect()
    job_id = _fill(served)
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, served.url)
    expect(page.get_by_role("heading", name=f"File d'attente ({WAITING})")).to_be_visible()
    page.get_by_role("link", name="et 2 autres travaux en attente après ceux-ci").click()
    expect(page).to_have_url(re.compile(r"/jobs\?state=waiting$"))
    expect(page.get_by_role("heading", name=f"En file ({WAITING})")).to_be_visible()
    page.get_by_label("Chercher un travail").fill("helene DUPONT")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.get_by_role("heading", name="En file (1) · « helene DUPONT »")).to_be_visible()
    rows = page.locator("li.row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("pour Mme Hélène Dupont (06 12)")
    expect(rows.first).to_contain_text("en attente")
    rows.first.get_by_role("link", name="gecko_silhouette.svg").click()
    expect(page).to_have_url(re.compile(rf"/jobs/{job_id}$"))
    expect(page.get_by_role("heading", name=re.compile("gecko_silhouette"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("Mme Hélène Dupont")
    context.close()


def test_the_list_follows_the_live_stream(browser: Any, served: ServedCounter) -> None:
    expect = _expect()
    job_id = _fill(served)
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    sign_in(page, served.url)
    page.goto(f"{served.url}/jobs?state=waiting&q=dupont")
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Chercher un travail").fill("tapé mais pas envoyé")
    expect(page.locator("li.row")).to_have_count(1)
    # Someone cancels the job elsewhere (the API, another tablet): the list follows
    # without a reload, and the words being typed stay in the box.
    with served.ctx.sessions() as s:
        from sqlmodel import select

        from fabqueue.models import User
        from fabqueue.services import jobs as job_service

        user = s.exec(select(User).where(User.name == "script")).one()
        now = served.ctx.clock.now()
        job_service.act(session=s, job_id=job_id, action="cancel", user=user, at=now)
    expect(page.get_by_role("heading", name="En file (0) · « dupont »")).to_be_visible()
    expect(page.locator("li.row")).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_label("Chercher un travail")).to_have_value("tapé mais pas envoyé")
    context.close()


PAGES = [
    "/jobs",
    "/jobs?state=waiting",
    "/jobs?state=failed",
    "/jobs?q=dupont",
    "/jobs?state=to_check&q=dupont",
]
"""Rows with every kind of action, a search, an empty search."""


def test_axe_finds_nothing_serious_on_the_list(browser: Any, served: ServedCounter) -> None:
    from axe_playwright_python.sync_playwright import Axe

    _fill(served)
    axe = Axe()
    found: dict[str, list[str]] = {}
    for lang, scheme in (("fr-FR", "light"), ("fr-FR", "dark"), ("en-GB", "light")):
        context = browser.new_context(locale=lang, color_scheme=scheme)
        page = context.new_page()
        sign_in(page, served.url, english=lang == "en-GB")
        for path in PAGES:
            page.goto(f"{served.url}{path}")
            assert page.locator("html").get_attribute("lang") == lang[:2]
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            bad = serious_violations(axe, page)
            if bad:
                found[f"{lang} {scheme} {path}"] = bad
        context.close()
    assert found == {}


def test_every_control_is_at_least_48_px_at_three_sizes(
    browser: Any, served: ServedCounter
) -> None:
    _fill(served)
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    sign_in(page, served.url)
    small: dict[str, list[str]] = {}
    for name, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        for path in PAGES:
            page.goto(f"{served.url}{path}")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            found = page.evaluate(SMALL_CONTROLS_JS)
            if found:
                small[f"{name} {path}"] = found
    context.close()
    assert small == {}
