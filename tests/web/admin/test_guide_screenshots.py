"""The screenshots of docs/guide-animateur.md, taken from the real service with a
simulated cutter by driving the pages as a facilitator and an admin would: the guide's
pictures are what the pages show today, and each step is checked on the way."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fabqueue.db import make_engine, make_session_factory
from tests.support.browser import (
    GUIDE_IMAGES,
    SHOTS,
    Counter,
    chromium,
    guide_images,
    guide_shot,
    sign_in,
)
from tests.support.web import STICKER, add_person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_MS = 30_000
"""The sim cutter's run plus a loaded machine's slack."""


@pytest.fixture
def counter(tmp_path: Path, sqlite_template: Path) -> Iterator[Counter]:
    db = tmp_path / "fabqueue.db"
    shutil.copy(sqlite_template, db)
    c = Counter(tmp_path, db)
    engine = make_engine(c.db_url)
    add_person(make_session_factory(engine, None), "ines", "admin")
    engine.dispose()
    c.service.start()
    yield c
    c.service.stop()


def _shot(page: Any, name: str) -> None:
    guide_shot(page, "guide-animateur.md", f"{name}.png")


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _quote_request(counter: Counter) -> None:
    r = counter.api(
        "POST", "/clients", json={"name": "Boulangerie Céleste", "contact_name": "Mme Martin"}
    )
    assert r.status_code == 201, r.text
    r = counter.api("POST", "/quotes", json={"title": "Vitrine", "organisation_id": r.json()["id"]})
    assert r.status_code == 201, r.text


def _counter_day(page: Any, counter: Counter) -> None:
    expect = _expect()
    page.goto(f"{counter.url}/login")
    _shot(page, "01-connexion")
    sign_in(page, counter.url)
    expect(page.get_by_role("heading", name="File d'attente (0)")).to_be_visible()
    _shot(page, "02-tableau")

    page.get_by_role("link", name="Nouveau travail").first.click()
    page.locator("#file").set_input_files(str(STICKER))
    page.locator("#material").select_option("vinyle-noir")
    expect(page.get_by_role("heading", name="Ce que fabqueue a compris")).to_be_visible(
        timeout=LIVE_MS
    )
    page.get_by_label("Nom du client").fill("Mme Ferrand")
    _shot(page, "03-nouveau-travail")
    page.get_by_role("button", name="Mettre en file").click()
    expect(page.get_by_role("heading", name=re.compile("gecko_silhouette"))).to_be_visible(
        timeout=LIVE_MS
    )

    page.goto(f"{counter.url}/")
    card = page.locator("article.machine", has=page.get_by_role("heading", name="Plotter"))
    expect(card).to_contain_text("Vinyle échenillé ?", timeout=LIVE_MS)
    _shot(page, "04-a-verifier")
    card.get_by_role("button", name="Bonne").click()

    counter.submit(STICKER, material="vinyle-noir", title="badge suivant")
    expect(card.get_by_text("Arrêt d'urgence")).to_be_visible(timeout=LIVE_MS)
    card.get_by_text("Arrêt d'urgence").click()
    expect(card.get_by_role("button", name=re.compile("Oui, arrêter"))).to_be_visible()
    _shot(page, "05-arret-urgence")

    _quote_request(counter)
    page.get_by_role("link", name="Devis").click()
    expect(page.get_by_role("heading", name=re.compile("Devis"))).to_be_visible()
    _shot(page, "06-devis")


def _trainings(page: Any, counter: Counter) -> None:
    expect = _expect()
    page.get_by_role("link", name="Gestion").click()
    page.get_by_role("link", name="Formations").click()
    page.get_by_label("Nom affiché aux membres").fill("Découpe vinyle")
    page.get_by_label("Elle ouvre l'accès à").select_option(["plotter"])
    page.get_by_role("button", name="Créer la formation").click()
    # A session that has begun today, so its attendance can be validated now.
    today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    page.get_by_label("Jour", exact=True).fill(today)
    page.get_by_label("De", exact=True).fill("00:00")
    page.get_by_label("À", exact=True).fill("23:59")
    page.get_by_label("Places", exact=True).fill("6")
    _shot(page, "07-formations")
    page.get_by_role("button", name="Planifier la session").click()
    page.get_by_label("Membre").select_option(label="momo")
    page.get_by_role("button", name="Inscrire").click()
    page.get_by_role("button", name="Présent·e : valider momo").click()
    expect(page.get_by_text("présent·e — habilité·e")).to_be_visible()
    _shot(page, "08-session")


def _people(page: Any, counter: Counter) -> None:
    expect = _expect()
    page.goto(f"{counter.url}/admin/people")
    _shot(page, "09-personnes")
    page.get_by_label("Nom").fill("Mia")
    page.get_by_role("button", name="Créer").click()
    expect(page.get_by_role("heading", name="Mot de passe de Mia")).to_be_visible()
    _shot(page, "10-mot-de-passe")
    page.goto(f"{counter.url}/admin/cafe")
    _shot(page, "11-cafe")


def test_the_guide_screenshots(tmp_path: Path, counter: Counter) -> None:
    with chromium() as browser:
        context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15_000)
        _counter_day(page, counter)
        _trainings(page, counter)
        context.close()
        admin = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
        page = admin.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, counter.url, "ines")
        _people(page, counter)
        admin.close()
    # Every picture the guide shows was taken from the pages, in the guide's order.
    assert SHOTS["guide-animateur.md"] == guide_images("guide-animateur.md")
    assert all((GUIDE_IMAGES / name).is_file() for name in guide_images("guide-animateur.md"))
