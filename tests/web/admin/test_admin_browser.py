"""The admin pages in Debian's Chromium, against the app served in-process on a clock
the test moves: an admin creates a member, a facilitator plans a session, enrols them
and validates their attendance once it has started, and the authorisation appears.
Then axe-core and finger-sized controls on every admin page, in both languages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fabqueue.app import create_app
from fabqueue.settings import Settings
from tests.support.admin import START, HandClock
from tests.support.browser import (
    SMALL_CONTROLS_JS,
    VIEWPORTS,
    chromium,
    serious_violations,
    sign_in,
)
from tests.support.live import live_server
from tests.support.web import add_person

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Cafe:
    url: str
    clock: HandClock
    ctx: Any
    ids: dict[str, int]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def cafe(settings: Settings) -> Iterator[Cafe]:
    clock = HandClock(START)
    app = create_app(settings.model_copy(update={"start_dispatcher": False}), clock=clock)
    with live_server(app) as url:
        ctx = app.state.ctx
        ids = {
            name: add_person(ctx.sessions, name, role)
            for name, role in (("ines", "admin"), ("camille", "facilitator"), ("momo", "member"))
        }
        yield Cafe(url, clock, ctx, ids)


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _page(browser: Any, *, lang: str = "fr-FR", size: tuple[int, int] = (1280, 800)) -> Any:
    context = browser.new_context(locale=lang, viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Nom").fill(name)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def test_admin_creates_a_member_whom_a_facilitator_trains(browser: Any, cafe: Cafe) -> None:
    expect = _expect()
    admin = _page(browser)
    sign_in(admin, cafe.url, "ines")
    admin.get_by_role("link", name="Gestion").click()
    admin.get_by_role("link", name="Personnes").click()
    admin.get_by_label("Nom").fill("Mia")
    admin.get_by_label("Rôle").select_option("member")
    admin.get_by_role("button", name="Créer").click()
    expect(admin.get_by_role("heading", name="Mot de passe de Mia")).to_be_visible()
    password = admin.locator("#password code").inner_text()

    staff = _page(browser, size=(768, 1024))
    sign_in(staff, cafe.url, "camille")
    staff.goto(f"{cafe.url}/admin/trainings")
    staff.get_by_label("Nom affiché aux membres").fill("Découpe vinyle")
    staff.get_by_label("Elle ouvre l'accès à").select_option(["plotter"])
    staff.get_by_role("button", name="Créer la formation").click()
    staff.get_by_label("Jour", exact=True).fill("2026-03-03")
    staff.get_by_label("De", exact=True).fill("14:00")
    staff.get_by_label("À", exact=True).fill("16:00")
    staff.get_by_label("Places", exact=True).fill("4")
    staff.get_by_role("button", name="Planifier la session").click()
    expect(
        staff.get_by_role("heading", name="Découpe vinyle — mar. 3 mars 2026, 14:00")
    ).to_be_visible()
    staff.get_by_label("Membre").select_option(label="Mia")
    staff.get_by_role("button", name="Inscrire").click()
    expect(staff.get_by_text("à valider une fois la session commencée")).to_be_visible()

    cafe.clock.advance(days=1, hours=4, minutes=15)  # Tuesday 14:45 in Paris
    staff.reload()
    staff.get_by_role("button", name="Présent·e : valider Mia").click()
    expect(staff.get_by_text("présent·e — habilité·e")).to_be_visible()

    admin.goto(f"{cafe.url}/admin/people")
    admin.get_by_role("link", name="Mia").click()
    expect(admin.locator("#auths + ol")).to_contain_text("Découpe vinyle")
    expect(admin.locator("#auths + ol")).to_contain_text("valable jusqu’au 3 mars 2028")

    mia = _page(browser, size=(390, 844))
    _sign_in(mia, cafe.url, "Mia", password)
    assert "/login" not in mia.url
    for p in (admin, staff, mia):
        p.context.close()


def _every_admin_page(page: Any, cafe: Cafe) -> list[str]:
    """Sign in as the admin with something on each page, and list the pages."""
    from fabqueue.db import session_scope
    from fabqueue.models import User
    from fabqueue.models.trainings import SessionCreate, TrainingCreate
    from fabqueue.services import trainings

    with session_scope(cafe.ctx.sessions) as session:
        by = session.get(User, cafe.ids["camille"])
        assert by is not None
        t = trainings.create_training(
            session, TrainingCreate(name="Découpe vinyle", machines=["plotter"]), by, START
        )
        assert t.id is not None
        ts = trainings.create_session(
            session,
            t.id,
            SessionCreate(starts_at=START, ends_at=START.replace(hour=11), places=3),
            by,
            START,
        )
        assert ts.id is not None
        trainings.enrol(session, ts.id, cafe.ids["momo"], by, START)
    sign_in(page, cafe.url, "ines")
    return [
        "/admin",
        "/admin/people",
        f"/admin/people/{cafe.ids['momo']}",
        "/admin/trainings",
        f"/admin/trainings/sessions/{ts.id}",
        "/admin/cafe",
        "/admin/profiles",
    ]


def test_axe_finds_nothing_serious_on_the_admin_pages(browser: Any, cafe: Cafe) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found: dict[str, list[str]] = {}
    paths: list[str] = []
    for lang in ("fr-FR", "en-GB"):
        for scheme in ("light", "dark"):
            context = browser.new_context(locale=lang, color_scheme=scheme)
            page = context.new_page()
            if not paths:
                paths = _every_admin_page(page, cafe)
            else:
                sign_in(page, cafe.url, "ines", english=lang.startswith("en"))
            for path in paths:
                page.goto(f"{cafe.url}{path}")
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                bad = serious_violations(axe, page)
                if bad:
                    found[f"{lang} {scheme} {path}"] = bad
            context.close()
    assert found == {}


def test_every_admin_control_is_at_least_48_px_at_three_sizes(browser: Any, cafe: Cafe) -> None:
    small: dict[str, list[str]] = {}
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    paths = _every_admin_page(page, cafe)
    for lang in ("fr", "en"):
        if lang == "en":
            context.close()
            context = browser.new_context(locale="en-GB")
            page = context.new_page()
            sign_in(page, cafe.url, "ines", english=True)
        for name, (width, height) in VIEWPORTS.items():
            page.set_viewport_size({"width": width, "height": height})
            for path in paths:
                page.goto(f"{cafe.url}{path}")
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                found = page.evaluate(SMALL_CONTROLS_JS)
                if found:
                    small[f"{lang} {name} {path}"] = found
    context.close()
    assert small == {}
