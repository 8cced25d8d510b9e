"""The counter in a real browser (Debian's Chromium via Playwright) against the real
service with simulated machines: the facilitator's day, double taps, roles, a restart,
English, accessibility (axe-core) and finger-sized controls."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.support.browser import (
    SMALL_CONTROLS_JS,
    VIEWPORTS,
    Counter,
    ServedCounter,
    chromium,
    serious_violations,
    served_counter,
    sign_in,
)
from tests.support.waiting import wait_for
from tests.support.web import PIN, STICKER, counter_profiles

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_S = 30_000
"""ms: the sim cutter's run plus a loaded machine's slack."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def counter(tmp_path: Path, sqlite_template: Path) -> Iterator[Counter]:
    db = tmp_path / "fabqueue.db"
    shutil.copy(sqlite_template, db)
    c = Counter(tmp_path, db)
    c.service.start()
    yield c
    c.service.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _price(page: Any) -> str:
    text: str = page.locator("#price").inner_text()
    return text


def _understood(page: Any, *, english: bool = False) -> None:
    page.locator("#file").set_input_files(str(STICKER))
    page.locator("#material").select_option("vinyle-noir")
    heading = "What fabqueue understood" if english else "Ce que fabqueue a compris"
    # The analysis runs in the worker pool: on a loaded machine it takes a few seconds.
    _expect()(page.get_by_role("heading", name=heading)).to_be_visible(timeout=LIVE_S)


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    """For the app served in-process: a cutter that cuts in real (clock) time."""
    return counter_profiles(tmp_path / "served-profiles", cutter_speed=1.0)


@pytest.fixture
def served(settings: Settings) -> Iterator[ServedCounter]:
    with served_counter(settings) as c:
        yield c


def test_the_facilitators_day(page: Any, served: ServedCounter) -> None:
    """On the injected clock: the cut moves only when the test moves time, so what the
    board shows at each step is known, however loaded the machine running the test."""
    expect = _expect()
    sign_in(page, served.url)
    expect(page.get_by_role("heading", name="File d'attente (0)")).to_be_visible()

    page.get_by_role("link", name="Nouveau travail").first.click()
    _understood(page)
    before = _price(page)
    page.get_by_label("Largeur voulue (mm)").fill("80")
    page.get_by_label("Largeur voulue (mm)").press("Tab")
    expect(page.locator("#size")).to_contain_text("80,0 ×")
    expect(page.locator("#price")).not_to_have_text(before)
    assert re.search(r"\d+,\d\d\s€ HT · \d+,\d\d\s€ TTC", _price(page).replace("\u202f", " "))
    page.get_by_label("Nom du client").fill("Mme Ferrand")
    page.get_by_role("button", name="Mettre en file").click()
    expect(page.get_by_role("heading", name=re.compile("gecko_silhouette"))).to_be_visible()

    page.get_by_role("link", name=re.compile("fabqueue ·")).click()
    page.evaluate("window.__sameDocument = true")
    card = page.locator("article.machine", has=page.get_by_role("heading", name="Plotter"))
    expect(card).to_contain_text("Mme Ferrand")
    expect(card).to_contain_text("en cours", timeout=LIVE_S)
    percent = card.locator(".progress-row .big-figure").first
    expect(percent).to_have_text(re.compile(r"^0\s?%$"))
    (first,) = served.jobs()
    # Nothing moves until the test moves time; then the cut moves as far as it does.
    wait_for(
        lambda: served.advance(0.5) or (served.jobs()[0].progress or 0) >= 0.3,
        timeout=60,
        what="a third of the cut",
    )
    expect(percent).to_have_text(re.compile(r"^[1-9]\d\s?%$"))
    assert served.jobs()[0].state == JobState.running
    wait_for(
        lambda: served.advance(0.5) or served.jobs()[0].state == JobState.awaiting_operator,
        timeout=60,
        what="the end of the cut",
    )
    expect(card).to_contain_text("Vinyle échenillé ?")
    expect(card.get_by_role("button", name="Bonne")).to_be_visible()
    expect(card.get_by_role("button", name="À refaire")).to_be_visible()
    assert served.jobs()[0].state == JobState.awaiting_operator

    # The next customer's job arrives meanwhile (from a script, say): it waits its turn.
    served.submit(STICKER, material="vinyle-noir", title="badge suivant")
    expect(page.get_by_role("heading", name="File d'attente (1)")).to_be_visible()
    card.get_by_role("button", name="Bonne").click()
    expect(card).to_contain_text("badge suivant", timeout=LIVE_S)
    expect(page.get_by_role("heading", name="File d'attente (0)")).to_be_visible()
    states = {j.title: j.state for j in served.jobs()}
    assert states[first.title] == JobState.succeeded
    # The clock stands still: the next job has started and cannot have finished.
    assert states["badge suivant"] in (JobState.starting, JobState.running)
    assert page.evaluate("window.__sameDocument") is True, "the board never reloaded"


def test_a_double_tapped_submit_makes_one_job(page: Any, counter: Counter) -> None:
    sign_in(page, counter.url)
    page.goto(f"{counter.url}/jobs/new")
    _understood(page)
    page.get_by_label("Largeur voulue (mm)").fill("50")
    page.get_by_role("button", name="Mettre en attente").dblclick()
    _expect()(page.get_by_role("heading", name=re.compile("gecko_silhouette"))).to_be_visible()
    assert len(counter.jobs()) == 1
    # Past the page's own guard: the same form sent twice at once still makes one job.
    page.goto(f"{counter.url}/jobs/new")
    _understood(page)
    statuses = page.evaluate(
        """async () => {
            const form = document.getElementById('new-job');
            const send = () => { const d = new FormData(form); d.set('hold', '1');
                return fetch('/jobs/new', {method: 'POST', body: d}).then(r => r.status); };
            return Promise.all([send(), send()]);
        }"""
    )
    assert statuses == [200, 200]
    assert len(counter.jobs()) == 2


def test_a_member_gets_the_403_page_on_staff_pages(page: Any, counter: Counter) -> None:
    sign_in(page, counter.url, "momo")
    for path in ("/", "/jobs/new", "/machines/plotter"):
        response = page.goto(f"{counter.url}{path}")
        assert response.status == 403
        _expect()(page.get_by_role("heading", name="Page réservée à l'équipe")).to_be_visible()


def test_the_board_recovers_after_the_server_restarts(page: Any, counter: Counter) -> None:
    expect = _expect()
    sign_in(page, counter.url)
    expect(page.get_by_role("heading", name="File d'attente (0)")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    counter.service.stop()
    expect(page.get_by_text("Connexion perdue — nouvelle tentative…")).to_be_visible()
    counter.service.start()
    expect(page.get_by_text("Connexion perdue — nouvelle tentative…")).to_be_hidden(timeout=LIVE_S)
    counter.submit(STICKER, material="vinyle-noir", hold="true", title="après redémarrage")
    expect(page.get_by_role("link", name="après redémarrage")).to_be_visible(timeout=LIVE_S)
    assert page.evaluate("window.__sameDocument") is True


def test_english_renders_the_same_flow(browser: Any, counter: Counter) -> None:
    expect = _expect()
    context = browser.new_context(locale="en-GB", viewport={"width": 768, "height": 1024})
    page = context.new_page()
    try:
        sign_in(page, counter.url, english=True)
        expect(page.get_by_role("heading", name="Job queue (0)")).to_be_visible()
        page.get_by_role("link", name="New job").first.click()
        _understood(page, english=True)
        page.get_by_label("Wanted width (mm)").fill("80")
        page.get_by_label("Wanted width (mm)").press("Tab")
        expect(page.locator("#size")).to_contain_text("80.0 ×")
        expect(page.locator("#price")).to_contain_text("excl. VAT")
        page.get_by_role("button", name="Queue", exact=True).click()
        page.get_by_role("link", name=re.compile("fabqueue ·")).click()
        card = page.locator("article.machine", has=page.get_by_role("heading", name="Plotter"))
        expect(card).to_contain_text("Vinyl weeded?", timeout=LIVE_S)
        card.get_by_role("button", name="Good").click()
        expect(card).to_contain_text("free", timeout=LIVE_S)
        assert counter.jobs()[0]["state"] == "succeeded"
    finally:
        context.close()


def _every_page(page: Any, counter: Counter) -> list[str]:
    """Sign in, make the pages full (a job to check, jobs waiting), return their URLs."""
    expect = _expect()
    sign_in(page, counter.url)
    done = counter.submit(STICKER, material="vinyle-noir", title="à vérifier")
    waiting = counter.submit(STICKER, material="vinyle-noir", hold="true", title="en attente")
    card = page.locator("article.machine", has=page.get_by_role("heading", name="Plotter"))
    expect(card).to_contain_text("Vinyle échenillé ?", timeout=LIVE_S)
    return [
        "/",
        "/jobs/new",
        f"/jobs/{done['id']}",
        f"/jobs/{waiting['id']}",
        "/machines/plotter",
        "/quotes",
        "/lock",
    ]


def _visit(page: Any, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    if path == "/jobs/new":
        _understood(page)


def _leave(page: Any, path: str) -> None:
    """The lock page locks the tablet: unlock it, as the facilitator would."""
    if path == "/lock":
        page.get_by_label("Code").fill(PIN)
        page.get_by_role("button", name="Déverrouiller").click()
        page.wait_for_load_state()


def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    browser: Any, counter: Counter
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found: dict[str, list[str]] = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(locale="fr-FR", color_scheme=scheme)
        page = context.new_page()
        paths = _every_page(page, counter) if scheme == "light" else []
        if scheme == "dark":
            sign_in(page, counter.url)
            paths = ["/", "/jobs/new", "/machines/plotter"]
        for path in [*paths, "/login-as-member"]:
            if path == "/login-as-member":
                member = browser.new_context(locale="fr-FR", color_scheme=scheme)
                target = member.new_page()
                sign_in(target, counter.url, "momo")
                target.goto(f"{counter.url}/")
            else:
                target = page
                _visit(target, counter.url, path)
            assert target.url.startswith(counter.url)
            bad = serious_violations(axe, target)
            if bad:
                found[f"{scheme} {path}"] = bad
            if path == "/login-as-member":
                target.context.close()
            else:
                _leave(target, path)
        context.close()
    # The sign-in page, signed out.
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{counter.url}/login")
    bad = serious_violations(axe, page)
    if bad:
        found["/login"] = bad
    context.close()
    assert found == {}


def test_every_control_is_at_least_48_px_at_three_sizes(browser: Any, counter: Counter) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    paths = _every_page(page, counter)
    small: dict[str, list[str]] = {}
    for name, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        for path in paths:
            _visit(page, counter.url, path)
            # Open the menus and confirmations too: their buttons are tapped as well.
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            found = page.evaluate(SMALL_CONTROLS_JS)
            if found:
                small[f"{name} {path}"] = found
            _leave(page, path)
    page.goto(f"{counter.url}/login")
    context.close()
    assert small == {}


def test_queue_moves_on_the_board(page: Any, counter: Counter) -> None:
    expect = _expect()
    first = counter.submit(STICKER, material="vinyle-noir", hold="true", title="premier")
    second = counter.submit(STICKER, material="vinyle-noir", hold="true", title="second")
    sign_in(page, counter.url)
    page.evaluate("window.__sameDocument = true")
    rows = page.locator("li.row")
    expect(rows.first).to_contain_text("premier")
    rows.nth(1).get_by_role("button", name="Monter").click()
    expect(rows.first).to_contain_text("second")
    row = page.locator("li.row", has_text="premier")
    row.get_by_text("Annuler", exact=True).click()
    row.get_by_role("button", name="Oui, annuler « premier »").click()
    expect(page.get_by_role("heading", name="File d'attente (1)")).to_be_visible()
    page.locator("li.row", has_text="second").get_by_role("button", name="Libérer").click()
    card = page.locator("article.machine", has=page.get_by_role("heading", name="Plotter"))
    expect(card).to_contain_text("second", timeout=LIVE_S)
    states = {j["id"]: j["state"] for j in counter.jobs()}
    assert states[first["id"]] == "cancelled"
    assert states[second["id"]] != "held"
    assert page.evaluate("window.__sameDocument") is True
