"""The shopkeeper's side in a real browser (Debian's Chromium via Playwright) against
the app served in-process (its clock is one the test can move): the public request,
the devis sent from the quote desk, « bon pour accord », the jobs on the counter board;
refusal and expiry; the form's abuse limits; axe-core, 48 px controls, both languages."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fabqueue.app import create_app
from fabqueue.context import AppContext
from fabqueue.settings import Settings
from tests.support.browser import (
    SMALL_CONTROLS_JS,
    VIEWPORTS,
    chromium,
    serious_violations,
    sign_in,
)
from tests.support.factories import make_user
from tests.support.live import live_server
from tests.support.service import free_port
from tests.support.shopkeeper import OffsetClock, client_person, shop_profiles
from tests.support.web import STICKER, add_person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_MS = 30_000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


@dataclass
class Shop:
    url: str
    ctx: AppContext
    clock: OffsetClock
    token: str

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=60, **kwargs
        )

    def sent_quote(self, org: str = "Fleurs Rosa") -> tuple[int, str]:
        """A devis for ``org`` with the gecko sticker, sent: (its id, its link's token)."""
        body = {"name": org, "address": "2 rue des Lilas\n69003 Lyon", "email": "r@f.example"}
        org_id = self.api("POST", "/clients", json=body).json()["id"]
        quote = self.api(
            "POST", "/quotes", json={"title": "Autocollants", "organisation_id": org_id}
        )
        quote_id = quote.json()["id"]
        with STICKER.open("rb") as fh:
            r = self.api(
                "POST",
                f"/quotes/{quote_id}/designs",
                data={"quantity": "2", "material": "vinyle-noir"},
                files={"file": (STICKER.name, fh)},
            )
        assert r.status_code == 201, r.text
        sent = self.api("POST", f"/quotes/{quote_id}/send")
        assert sent.status_code == 200, sent.text
        return quote_id, sent.json()["accept_token"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def shop(tmp_path: Path, sqlite_template: Path) -> Iterator[Shop]:
    db = tmp_path / "fabqueue.db"
    shutil.copy(sqlite_template, db)
    port = free_port()
    settings = Settings(
        port=port,  # the links sent to shopkeepers fall back on the served address
        db_url=f"sqlite:///{db}",
        data_dir=tmp_path / "data",
        profiles_dir=shop_profiles(tmp_path / "profiles"),
        node="shop",
        dispatch_poll_s=0.2,
        progress_write_interval_s=0.3,
    )
    clock = OffsetClock()
    app = create_app(settings, clock=clock)
    with live_server(app, port=port) as url:
        ctx: AppContext = app.state.ctx
        add_person(ctx.sessions, "camille", "facilitator")
        _uid, token = make_user(ctx.sessions, "script", "facilitator")
        yield Shop(url, ctx, clock, token)


def _context(browser: Any, size: str = "phone", locale: str = "fr-FR") -> Any:
    width, height = VIEWPORTS[size]
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    context.set_default_timeout(LIVE_MS)
    return context


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _fill_request(page: Any, base: str, n: int = 0, *, with_logo: bool = False) -> None:
    page.goto(f"{base}/demande-de-devis")
    page.get_by_label("Commerce ou structure").fill(f"Boulangerie Céleste {n or ''}".strip())
    page.get_by_label("SIRET (facultatif)").fill("81234567600017" if n == 0 else "")
    page.get_by_label("Adresse postale").fill("4 place du Marché\n69003 Lyon")
    page.get_by_label("Votre nom", exact=True).fill("Céleste Martin")
    page.get_by_label("E-mail", exact=True).fill(f"celeste{n}@boulangerie.example")
    page.get_by_label("Que souhaitez-vous faire réaliser ?").select_option("stickers")
    page.get_by_label("Quantité", exact=True).fill("2")
    if with_logo:
        page.locator("#files").set_input_files(str(STICKER))
    page.locator("#consent").check()


def _send(page: Any) -> None:
    page.get_by_role("button", name="Envoyer ma demande").click()
    page.wait_for_load_state()


def test_request_quote_sign_and_the_jobs_reach_the_board(browser: Any, shop: Shop) -> None:
    expect = _expect()
    shopper = _context(browser, "phone")
    desk = _context(browser, "landscape")
    try:
        p = shopper.new_page()
        _fill_request(p, shop.url, with_logo=True)
        _send(p)
        expect(p.get_by_role("heading", name="Merci, votre demande est envoyée")).to_be_visible()

        s = desk.new_page()
        sign_in(s, shop.url)
        s.goto(f"{shop.url}/quotes")
        s.get_by_role("link", name=re.compile("Autocollants — 2 ex.")).click()
        expect(
            s.get_by_role("heading", name="Demande reçue par le formulaire public")
        ).to_be_visible()
        s.get_by_role("button", name="Chiffrer cette demande").click()
        expect(s.get_by_text("Autocollant 66,1 × 33,4 mm, vinyle noir")).to_be_visible()
        quote_page = s.url
        s.get_by_role("button", name="Envoyer le devis").click()
        link = s.locator("#quote-link").inner_text()
        assert link.startswith(f"{shop.url}/devis/"), link
        expect(s.locator(".qr svg")).to_be_visible()

        p.goto(link)
        expect(p.get_by_role("heading", name=re.compile(r"Devis DEV-\d{4}-0001"))).to_be_visible()
        expect(p.get_by_text(re.compile("valable jusqu’au"))).to_be_visible()
        assert (
            p.get_by_role("link", name="Télécharger le PDF").get_attribute("href").endswith("/pdf")
        )
        p.get_by_label("Nom du signataire").fill("Céleste Martin")
        p.locator("#agree").check()
        p.get_by_role("button", name="Accepter le devis").click()
        expect(p.get_by_text(re.compile("Vous avez accepté ce devis le"))).to_be_visible()

        s.goto(quote_page)  # not reload(): the page shown is the answer to the send POST
        s.get_by_role("button", name="Convertir en travaux").click()
        expect(s.get_by_text("converti en travaux").first).to_be_visible()
        s.goto(f"{shop.url}/")
        board = s.locator("main")
        expect(board).to_contain_text(re.compile(r"DEV-\d{4}-0001 · Autocollant"), timeout=LIVE_MS)
    finally:
        shopper.close()
        desk.close()


def test_a_declined_and_an_expired_devis(browser: Any, shop: Shop) -> None:
    expect = _expect()
    _first, declined = shop.sent_quote("Fleurs Rosa")
    _second, expiring = shop.sent_quote("Librairie Page")
    shopper = _context(browser, "portrait")
    try:
        p = shopper.new_page()
        p.goto(f"{shop.url}/devis/{declined}")
        p.get_by_text("Refuser", exact=True).click()
        p.get_by_label("Pourquoi ? (facultatif, cela nous aide)").fill("Trop cher")
        p.get_by_role("button", name="Refuser le devis").click()
        expect(
            p.get_by_role("heading", name=re.compile("Vous avez refusé ce devis"))
        ).to_be_visible()
        p.get_by_role("link", name="Demander un nouveau devis").click()
        expect(p.get_by_label("Commerce ou structure")).to_have_value("Fleurs Rosa")

        shop.clock.jump(days=31)
        p.goto(f"{shop.url}/devis/{expiring}")
        expect(p.get_by_role("heading", name=re.compile("Ce devis a expiré le"))).to_be_visible()
        assert p.get_by_role("button", name="Accepter le devis").count() == 0
    finally:
        shopper.close()


def test_the_form_refuses_a_disguised_file_and_a_sixth_request(browser: Any, shop: Shop) -> None:
    expect = _expect()
    shopper = _context(browser, "phone")
    try:
        p = shopper.new_page()
        _fill_request(p, shop.url)
        p.locator("#files").set_input_files(
            {"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": PNG}
        )
        _send(p)
        expect(p.get_by_text(re.compile("logo.svg n’est pas un vrai fichier SVG"))).to_be_visible()
        for n in range(1, 6):
            _fill_request(p, shop.url, n)
            _send(p)
            expect(
                p.get_by_role("heading", name="Merci, votre demande est envoyée")
            ).to_be_visible()
        _fill_request(p, shop.url, 6)
        _send(p)
        expect(p.get_by_role("alert").first).to_contain_text(
            "Vous avez envoyé plusieurs demandes en peu de temps"
        )
        quotes = shop.api("GET", "/quotes").json()
        assert quotes["count"] == 5
    finally:
        shopper.close()


def _pages(browser: Any, shop: Shop) -> tuple[dict[str, str], dict[str, str]]:
    """The new pages, filled: (public paths, a client's paths)."""
    quote_id, token = shop.sent_quote("Fleurs Rosa")
    _declined_id, declined = shop.sent_quote("Librairie Page")
    r = httpx.post(f"{shop.url}/api/v1/quotes/link/{declined}/refuse", json={"reason": "non"})
    assert r.status_code == 200, r.text
    with shop.ctx.read_sessions() as session:
        from fabqueue.models import Quote

        quote = session.get(Quote, quote_id)
        assert quote is not None
        org_id = quote.organisation_id
    client_person_live(shop, org_id)
    public = {
        "form": "/demande-de-devis",
        "form with problems": "/demande-de-devis#send-empty",
        "thanks": "/demande-de-devis/merci",
        "devis": f"/devis/{token}",
        "declined devis": f"/devis/{declined}",
        "dead link": "/devis/plus-valable",
    }
    client = {"client": "/client", "client devis": f"/client/quotes/{quote_id}"}
    return public, client


def client_person_live(shop: Shop, org_id: int) -> None:
    class _Api:  # client_person wants the API's context only
        ctx = shop.ctx

    client_person(_Api(), org_id)  # type: ignore[arg-type]


def _visit(page: Any, base: str, path: str) -> None:
    page.goto(f"{base}{path.split('#')[0]}")
    if path.endswith("#send-empty"):
        page.get_by_role("button").filter(
            has_text=re.compile("Envoyer ma demande|Send my request")
        ).click()
        page.wait_for_load_state()


@pytest.mark.timeout(600)
def test_axe_on_the_new_pages_in_both_languages(browser: Any, shop: Shop) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    public, client = _pages(browser, shop)
    problems: dict[str, list[str]] = {}
    for locale in ("fr-FR", "en-GB"):
        for scheme in ("light", "dark"):
            context = browser.new_context(locale=locale, color_scheme=scheme)
            page = context.new_page()
            for name, path in public.items():
                _visit(page, shop.url, path)
                assert page.locator("html").get_attribute("lang") == locale[:2]
                if found := serious_violations(axe, page):
                    problems[f"{locale} {scheme} {name}"] = found
            sign_in(page, shop.url, "celeste-web", english=locale == "en-GB")
            for name, path in client.items():
                _visit(page, shop.url, path)
                assert page.locator("html").get_attribute("lang") == locale[:2]
                if found := serious_violations(axe, page):
                    problems[f"{locale} {scheme} {name}"] = found
            context.close()
    assert problems == {}


@pytest.mark.timeout(600)
def test_every_control_is_at_least_48_px_on_the_new_pages(browser: Any, shop: Shop) -> None:
    public, client = _pages(browser, shop)
    small: dict[str, list[str]] = {}
    for size, (width, height) in VIEWPORTS.items():
        context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": height})
        page = context.new_page()
        for name, path in public.items():
            _visit(page, shop.url, path)
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            if found := page.evaluate(SMALL_CONTROLS_JS):
                small[f"{size} {name}"] = found
        sign_in(page, shop.url, "celeste-web")
        for name, path in client.items():
            _visit(page, shop.url, path)
            if found := page.evaluate(SMALL_CONTROLS_JS):
                small[f"{size} {name}"] = found
        context.close()
    assert small == {}


@pytest.mark.timeout(600)
def test_the_quote_desk_shows_the_link_and_its_qr_code(browser: Any, shop: Shop) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    quote_id, _token = shop.sent_quote()
    problems: dict[str, list[str]] = {}
    for size, (width, height) in VIEWPORTS.items():
        context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, shop.url)
        page.goto(f"{shop.url}/quotes/{quote_id}")
        page.get_by_role("button", name="Afficher un nouveau lien et son QR code").click()
        _expect()(page.locator(".qr svg")).to_be_visible()
        assert page.locator("#quote-link").inner_text().startswith(f"{shop.url}/devis/")
        if found := serious_violations(axe, page):
            problems[f"{size} axe"] = found
        if found := page.evaluate(SMALL_CONTROLS_JS):
            problems[f"{size} small"] = found
        context.close()
    assert problems == {}
