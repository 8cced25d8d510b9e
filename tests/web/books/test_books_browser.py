"""The money pages in a real browser (Debian's Chromium via Playwright), served by
uvicorn from the test's app: a facilitator invoices a converted quote, records a partial
payment then the rest, credits one line; every invoice and report page at tablet size
passes axe-core and has finger-sized controls at three sizes, in French and English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api
from tests.support.booking_invoices import TUESDAY, book, charge, member_job
from tests.support.browser import (
    SMALL_CONTROLS_JS,
    VIEWPORTS,
    chromium,
    serious_violations,
    sign_in,
)
from tests.support.invoices import accepted_quote, convert, succeed
from tests.support.live import live_server
from tests.support.web import add_person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def served(qapi: Api, tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The app over real HTTP (the TestClient already ran its lifespan), with a quote of
    two benchies and a design fee, accepted, turned into jobs, both made; and a member's
    booking and job made, the café charging both (so every form of « Faire une facture »
    is shown)."""
    add_person(qapi.ctx.sessions, "camille", "facilitator")
    momo = add_person(qapi.ctx.sessions, "momo", "member")
    charge(qapi, tmp_path / "qprofiles", 'hourly_rate = "4.00"\nbooking_hourly_rate = "3.00"')
    book(qapi, momo)
    member_job(qapi, momo, TUESDAY + timedelta(hours=3), 30)
    q = accepted_quote(qapi, copies=2, extra=(("Conception du modèle", "1", "15.00"),))
    succeed(qapi, *convert(qapi, q["id"]))
    with live_server(qapi.client.app, lifespan="off") as url:
        yield url, q


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _invoice_the_quote(page: Any, url: str, number: str) -> str:
    """The facilitator's path, by taps; returns the invoice page's path."""
    expect = _expect()
    sign_in(page, url)
    page.get_by_role("link", name="Factures", exact=True).click()
    page.get_by_role("link", name="Faire une facture").click()
    page.get_by_role("link", name=re.compile(number)).click()
    page.get_by_role("button", name="Préparer la facture", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Brouillon de facture")
    page.get_by_role("button", name="Émettre la facture").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("FAC-2026-0001")
    return str(page.url).removeprefix(url)


def _euros(text: str) -> float:
    return float(re.sub(r"[^\d,]", "", text).replace(",", "."))


def test_a_facilitator_invoices_is_paid_twice_and_credits_a_line(
    browser: Any, served: tuple[str, dict[str, Any]]
) -> None:
    url, q = served
    expect = _expect()
    context = browser.new_context(locale="fr-FR", viewport=TABLET)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _invoice_the_quote(page, url, q["number"])
        due = _euros(page.locator("#balance").inner_text())
        part = f"{due / 2:.2f}".replace(".", ",")
        page.get_by_label("Montant (€)").fill(part)
        page.get_by_label("Réglé par").select_option("cheque")
        page.get_by_label(re.compile("^Référence")).fill("CHQ 0042")
        page.get_by_role("button", name="Enregistrer le règlement").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("partiellement réglée")
        left = _euros(page.locator("#balance").inner_text())
        assert abs(left - (due - float(part.replace(",", ".")))) < 0.005
        # The amount offered is what is left: record the rest as it is.
        page.get_by_label("Réglé par").select_option("virement")
        page.get_by_role("button", name="Enregistrer le règlement").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("réglée")
        expect(page.locator("#balance")).to_have_text(re.compile(r"^0,00\s€$"))
        page.get_by_role("checkbox", name=re.compile("Conception du modèle")).check()
        page.get_by_label("Motif (imprimé sur l'avoir)").fill("Conception offerte")
        page.get_by_role("button", name="Créditer les lignes cochées").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("AV-2026-0001")
        expect(page.locator("#refund-due")).to_have_text(re.compile(r"^18,00\s€$"))
    finally:
        context.close()


def _books_pages(browser: Any, url: str, number: str, quote_id: int) -> list[str]:
    """Every money page, full: an invoice issued and paid, its credit note owing a
    refund (so the payment, credit and refund forms are all shown somewhere)."""
    context = browser.new_context(locale="fr-FR", viewport=TABLET)
    page = context.new_page()
    invoice = _invoice_the_quote(page, url, number)
    page.get_by_role("button", name="Enregistrer le règlement").click()
    page.get_by_role("checkbox", name=re.compile("Conception du modèle")).check()
    page.get_by_label("Motif (imprimé sur l'avoir)").fill("Conception offerte")
    page.get_by_role("button", name="Créditer les lignes cochées").click()
    _expect()(page.get_by_role("heading", level=1)).to_contain_text("AV-2026-0001")
    note = str(page.url).removeprefix(url)
    context.close()
    return [
        note,
        "/invoices",
        "/invoices?state=issued&overdue=1",
        "/invoices/new",
        f"/invoices/new/quote/{quote_id}",
        invoice,
        "/books",
        "/reports/activity?year=2026",
        "/reports/material?year=2026&quarter=1",
        "/reports/energy?year=2026&month=3",
        "/reports/accuracy?start=2026-01-01&end=2026-06-30&scope=network",
    ]


def test_axe_finds_nothing_serious_on_the_money_pages_in_both_languages(
    browser: Any, served: tuple[str, dict[str, Any]]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    url, q = served
    paths = _books_pages(browser, url, q["number"], q["id"])
    axe = Axe()
    found: dict[str, list[str]] = {}
    for lang, scheme in (("fr-FR", "light"), ("fr-FR", "dark"), ("en-GB", "light")):
        context = browser.new_context(locale=lang, color_scheme=scheme, viewport=TABLET)
        page = context.new_page()
        sign_in(page, url, english=lang == "en-GB")
        for path in paths:
            page.goto(f"{url}{path}")
            assert page.locator("html").get_attribute("lang") == lang[:2]
            bad = serious_violations(axe, page)
            if bad:
                found[f"{lang} {scheme} {path}"] = bad
        context.close()
    assert found == {}


def test_every_control_is_at_least_48_px_at_three_sizes(
    browser: Any, served: tuple[str, dict[str, Any]]
) -> None:
    url, q = served
    paths = _books_pages(browser, url, q["number"], q["id"])
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    sign_in(page, url)
    page.goto(f"{url}/invoices/new")
    for name in ("Facturer les réservations de momo", "Facturer le temps machine de momo"):
        _expect()(page.get_by_role("button", name=name)).to_be_visible()
    small: dict[str, list[str]] = {}
    for name, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        for path in paths:
            page.goto(f"{url}{path}")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            found = page.evaluate(SMALL_CONTROLS_JS)
            if found:
                small[f"{name} {path}"] = found
    context.close()
    assert small == {}
