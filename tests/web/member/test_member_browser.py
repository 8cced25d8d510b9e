"""A member's day in Debian's Chromium, against the app served in this process on a
clock the test moves: refused with an expired authorisation, authorised again, books
Thursday 14:00–15:00, sends a job that starts first at 14:00 while a staff job waits.
Then axe-core and finger-sized controls on every member page, in French and English.
The story's screenshots are docs/guide-membre.md's pictures (``make guide-images`` writes
them into docs/img/, so they stay true)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabqueue.settings import Settings
from tests.support.bookings import NOW, paris
from tests.support.browser import (
    SHOTS,
    SMALL_CONTROLS_JS,
    VIEWPORTS,
    chromium,
    guide_images,
    guide_shot,
    serious_violations,
    sign_in,
)
from tests.support.factories import tiny_gcode
from tests.support.live import live_server
from tests.support.members import LiveCafe

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_MS = 20_000
THURSDAY = "jeudi 5 mars"
WIDER_THAN_SCREEN_JS = "() => document.documentElement.scrollWidth > window.innerWidth + 1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def cafe(settings: Settings, tmp_path: Path) -> Iterator[LiveCafe]:
    cafe = LiveCafe(settings.model_copy(update={"dispatch_poll_s": 0.1}), tmp_path)
    with live_server(cafe.app) as url:
        cafe.url = url
        yield cafe


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _shot(page: Any, name: str) -> None:
    guide_shot(page, "guide-membre.md", name, full_page=True)


def _book_thursday(page: Any, cafe: LiveCafe) -> None:
    page.goto(f"{cafe.url}/member/book?machine=printer")
    day = page.locator("section.day", has=page.get_by_role("heading", name=THURSDAY))
    day.get_by_role("link", name=re.compile(r"14:00 – 19:00 · libre")).click()
    page.get_by_label("À partir de").select_option(label="14:00")
    page.get_by_label("Pour combien de temps").select_option(label="1 h 00")
    page.get_by_role("button", name="Réserver").click()


def test_a_members_day(browser: Any, cafe: LiveCafe, tmp_path: Path) -> None:
    expect = _expect()
    cafe.grant("mia", "printer", at=paris(2025, 1, 6, 10), expires_at=paris(2026, 2, 1, 10))
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, cafe.url, "mia")
    assert page.url == f"{cafe.url}/member"
    expect(page.get_by_role("heading", name="Mes habilitations")).to_be_visible()
    expect(page.locator("li.right", has_text="Test printer")).to_contain_text(
        "votre habilitation « Test printer » a expiré le 1 février 2026"
    )
    _shot(page, "membre-habilitations.png")

    # 1. Refused, with the rule's reason, next to the form.
    _book_thursday(page, cafe)
    expect(page.get_by_role("alert")).to_have_text(
        "Réservation refusée : Votre habilitation « Test printer » a expiré le 1 février 2026."
    )
    _shot(page, "membre-refus.png")

    # 2. Trained again (the facilitator's validation is the admin pages'; here the service).
    cafe.grant("mia", "printer")
    _book_thursday(page, cafe)
    expect(page.get_by_role("status")).to_contain_text("C'est réservé")
    expect(page.locator("li.row").first).to_contain_text("jeu. 5 mars 2026, 14:00 – 15:00")
    _shot(page, "membre-reservations.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{cafe.url}/member/book?machine=printer&day=2026-03-05")
    expect(page.get_by_role("heading", name=THURSDAY)).to_be_visible()
    expect(page.get_by_role("heading", name="vendredi 6 mars")).to_be_hidden()
    expect(page.locator("li.slot.mine")).to_have_text("14:00 – 15:00 · votre réservation")
    _shot(page, "membre-semaine-telephone.png")
    page.set_viewport_size({"width": 1280, "height": 800})

    # 3. Thursday 13:30: a staff job of 40 min would run into her booking; it waits.
    cafe.clock.set(paris(2026, 3, 5, 13, 30))
    staff_job = cafe.submit(tiny_gcode(tmp_path, "support.gcode", seconds=2400), machine="printer")
    page.goto(f"{cafe.url}/member/jobs/new")
    page.locator("#file").set_input_files(
        str(tiny_gcode(tmp_path, "porte-cle.gcode", seconds=1200))
    )
    expect(page.get_by_role("heading", name="Ce que fabqueue a compris")).to_be_visible()
    _shot(page, "membre-nouveau-travail.png")
    page.get_by_role("button", name="Mettre en file").click()
    expect(page.locator("h1")).to_contain_text("porte-cle")
    expect(page.locator("h1 .badge")).to_contain_text("en file")
    expect(page.locator("#job")).to_contain_text("Prochaine : jeu. 5 mars 2026, 14:00")
    job_id = int(page.url.rsplit("/", 1)[1])

    # 4. 14:00: her booking starts, her job goes first — the page follows it live.
    cafe.clock.set(paris(2026, 3, 5, 14))
    expect(page.locator("h1 .badge")).to_contain_text("en cours", timeout=LIVE_MS)
    expect(page.locator("#started")).to_have_text("jeu. 5 mars 2026, 14:00")
    expect(page.locator("#job")).to_contain_text("Votre réservation est en cours")
    assert cafe.job(job_id)["started_at"].startswith("2026-03-05T13:00")  # 14:00 in Paris
    assert cafe.job(staff_job["id"])["state"] == "queued"
    page.goto(f"{cafe.url}/member/jobs")
    line = page.locator("section", has=page.get_by_role("heading", name=re.compile("La file")))
    expect(line).to_contain_text("Travail d'une autre personne")
    expect(line).not_to_contain_text("support")
    _shot(page, "membre-travaux.png")
    context.close()
    # Every picture docs/guide-membre.md shows was taken from the pages on this day.
    assert sorted(SHOTS["guide-membre.md"]) == sorted(guide_images("guide-membre.md"))


def _member_pages(cafe: LiveCafe, tmp_path: Path) -> list[str]:
    """Every member page, full: a booking, a training session, a job of hers."""
    cafe.grant("mia", "printer", expires_at=paris(2026, 12, 31, 12))
    booking = cafe.desk.book(
        cafe.ids["mia"], "printer", paris(2026, 3, 5, 14), paris(2026, 3, 5, 15)
    )
    training = cafe.api(
        "POST", "/trainings", json={"name": "Découpe vinyle", "machines": ["plotter"]}
    ).json()
    r = cafe.api(
        "POST",
        f"/trainings/{training['id']}/sessions",
        json={
            "starts_at": "2026-03-10T18:00:00+01:00",
            "ends_at": "2026-03-10T20:00:00+01:00",
            "places": 6,
        },
    )
    assert r.status_code == 201, r.text
    with cafe.ctx.sessions() as s:
        from fabqueue.services import jobs as job_service

        mia = cafe.desk.user(s, cafe.ids["mia"])
        s.expunge(mia)
    gcode = tiny_gcode(tmp_path, "clip.gcode")
    with gcode.open("rb") as fh:
        job = job_service.submit_job(
            sessions=cafe.ctx.sessions,
            read_sessions=cafe.ctx.read_sessions,
            store=cafe.ctx.store,
            profiles=cafe.ctx.profiles,
            workers=cafe.ctx.pool,
            owner=mia,
            stream=fh,
            request=job_service.SubmitRequest(filename="clip.gcode", machine="printer"),
            upload_limit=cafe.ctx.settings.upload_limit_bytes,
            now=NOW,
            catalog=cafe.ctx.machines,
        )
    start = paris(2026, 3, 3, 14).isoformat().replace("+", "%2B").replace(":", "%3A")
    return [
        "/member",
        "/member/book?machine=printer",
        f"/member/book/new?machine=printer&start={start}",
        "/member/bookings",
        f"/member/bookings/{booking.id}/move",
        "/member/jobs",
        "/member/jobs/new",
        f"/member/jobs/{job.id}",
    ]


def _visit(page: Any, url: str, tmp_path: Path) -> None:
    page.goto(url)
    if url.endswith("/member/jobs/new"):
        page.locator("#file").set_input_files(str(tiny_gcode(tmp_path, "axe.gcode")))
        page.locator("#understood h2").wait_for()


def test_every_member_page_passes_axe_and_has_finger_sized_controls(
    browser: Any, cafe: LiveCafe, tmp_path: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    paths = _member_pages(cafe, tmp_path)
    violations: dict[str, list[str]] = {}
    small: dict[str, list[str]] = {}
    for locale, scheme in (("fr-FR", "light"), ("en-GB", "dark")):
        context = browser.new_context(locale=locale, color_scheme=scheme)
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, cafe.url, "mia", english=locale.startswith("en"))
        for path in paths:
            _visit(page, f"{cafe.url}{path}", tmp_path)
            assert page.locator("html").get_attribute("lang") == locale[:2]
            bad = serious_violations(axe, page)
            if bad:
                violations[f"{locale} {scheme} {path}"] = bad
        if locale == "fr-FR":
            for name, (width, height) in VIEWPORTS.items():
                page.set_viewport_size({"width": width, "height": height})
                for path in paths:
                    _visit(page, f"{cafe.url}{path}", tmp_path)
                    page.evaluate(
                        "document.querySelectorAll('details').forEach(d => d.open = true)"
                    )
                    found = page.evaluate(SMALL_CONTROLS_JS)
                    if page.evaluate(WIDER_THAN_SCREEN_JS):
                        found.append("the page is wider than the screen")
                    if found:
                        small[f"{name} {path}"] = found
        context.close()
    assert violations == {}
    assert small == {}
