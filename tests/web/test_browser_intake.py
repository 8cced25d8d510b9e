"""The new-job page in Debian's Chromium with files as people bring them: a photographed
logo traced (the threshold moved, the preview following) and queued, a model sliced
and priced, a flex job's mirror and weeding border, the job page's Bonne / À refaire;
axe-core and finger-sized controls on these states, in French and English.

The app is served from the test's process on a ``FakeClock``: the cutter finishes
only when the test moves time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabqueue.services.analysis import CHOICES_KEY
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
from tests.support.intake import LOGO, binary_stl, box_triangles, filled, logo_pdf, render_png
from tests.support.waiting import wait_for
from tests.support.web import STICKER, intake_profiles

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLOW_MS = 60_000
"""Slicing and tracing run in the worker pool, as separate programs: seconds on a
loaded machine."""

WORDS = {
    "fr": {
        "understood": "Ce que fabqueue a compris",
        "photo": "Prendre une photo",
        "queue": "Mettre en file",
        "hold": "Mettre en attente",
        "good": "Bonne",
        "made": "Fait à partir de",
    },
    "en": {
        "understood": "What fabqueue understood",
        "photo": "Take a photo",
        "queue": "Queue",
        "hold": "Hold",
        "good": "Good",
        "made": "Made from",
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    return intake_profiles(tmp_path / "served-profiles")


@pytest.fixture
def served(settings: Settings) -> Iterator[ServedCounter]:
    with served_counter(settings) as c:
        yield c


def _page(browser: Any, lang: str = "fr", size: tuple[int, int] = (1280, 800)) -> Any:
    context = browser.new_context(
        locale="fr-FR" if lang == "fr" else "en-GB",
        viewport={"width": size[0], "height": size[1]},
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def logo_png(tmp_path: Path) -> Path:
    pdf = logo_pdf(tmp_path / "logo.pdf", filled(LOGO, tmp_path / "filled.svg"), width_mm=100)
    return render_png(pdf, tmp_path / "logo", 600)


@pytest.fixture
def cube(tmp_path: Path) -> Path:
    return binary_stl(tmp_path / "cube.stl", box_triangles(20, 20, 12))


def _understood(page: Any, lang: str = "fr") -> None:
    heading = page.get_by_role("heading", name=WORDS[lang]["understood"])
    _expect()(heading).to_be_visible(timeout=SLOW_MS)


@pytest.mark.usefixtures("tool_potrace")
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_photographed_logo_is_traced_as_the_threshold_moves_and_queued(
    browser: Any, served: ServedCounter, logo_png: Path, lang: str
) -> None:
    expect = _expect()
    page = _page(browser, lang)
    sign_in(page, served.url, english=lang == "en")
    page.goto(f"{served.url}/jobs/new")
    camera = page.locator("#photo")
    assert camera.get_attribute("capture") == "environment"
    assert "image/jpeg" in (camera.get_attribute("accept") or "")
    expect(page.get_by_text(WORDS[lang]["photo"])).to_be_visible()
    page.locator("#material").select_option("vinyle-noir")
    camera.set_input_files(str(logo_png))
    _understood(page, lang)
    preview = page.locator("#trace-preview img")
    first = preview.get_attribute("src")
    price = page.locator("#price").inner_text()
    # The slider as a finger moves it: input events, then the change when let go.
    page.locator("#threshold").fill("30")
    expect(preview).not_to_have_attribute("src", first or "", timeout=SLOW_MS)
    expect(page.locator("#made-from")).to_contain_text("30", timeout=SLOW_MS)
    assert page.locator("#price").inner_text() != "" and price != ""
    page.get_by_role("button", name=WORDS[lang]["hold"], exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("logo"))).to_be_visible(timeout=SLOW_MS)
    (job,) = served.jobs()
    assert job.file_type == "svg" and job.state == JobState.held
    made = job.analysis["details"]["made_from"]
    assert made["traced"] is True and made["threshold"] == 30
    page.context.close()


@pytest.mark.usefixtures("tool_prusa_slicer")
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_model_is_sliced_priced_and_queued(
    browser: Any, served: ServedCounter, cube: Path, lang: str
) -> None:
    expect = _expect()
    page = _page(browser, lang, (768, 1024))
    sign_in(page, served.url, english=lang == "en")
    page.goto(f"{served.url}/jobs/new")
    page.locator("#material").select_option("pla-noir")
    page.locator("#file").set_input_files(str(cube))
    _understood(page, lang)
    expect(page.locator("#made-from")).to_contain_text("PrusaSlicer")
    expect(page.locator("#filament")).to_contain_text("g")
    normal = page.locator("#price").inner_text()
    assert re.search(r"\d[,.]\d\d", normal)
    page.locator("#preset").select_option("fin")
    expect(page.locator("#made-from")).to_contain_text("fin", timeout=SLOW_MS)
    expect(page.locator("#price")).not_to_have_text(normal, timeout=SLOW_MS)
    page.get_by_role("button", name=WORDS[lang]["hold"], exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("cube"))).to_be_visible(timeout=SLOW_MS)
    (job,) = served.jobs()
    assert job.file_type == "gcode" and job.analysis["details"]["made_from"]["preset"] == "fin"
    page.context.close()


def test_flex_is_mirrored_by_default_the_choice_is_kept_and_the_job_page_asks_the_outcome(
    browser: Any, served: ServedCounter
) -> None:
    expect = _expect()
    page = _page(browser)
    sign_in(page, served.url)
    page.goto(f"{served.url}/jobs/new")
    page.locator("#material").select_option("flex-blanc")
    page.locator("#file").set_input_files(str(STICKER))
    _understood(page)
    mirror = page.get_by_role("checkbox", name=re.compile("Miroir"))
    border = page.get_by_role("checkbox", name=re.compile("Cadre d’échenillage"))
    expect(mirror).to_be_checked()
    area = page.locator("#vinyl").inner_text()
    border.set_checked(not border.is_checked())
    expect(page.locator("#vinyl")).not_to_have_text(area, timeout=SLOW_MS)
    wanted_border = page.get_by_role("checkbox", name=re.compile("Cadre d’échenillage"))
    bordered = wanted_border.is_checked()
    page.get_by_role("checkbox", name=re.compile("Miroir")).uncheck()
    expect(page.get_by_role("checkbox", name=re.compile("Miroir"))).not_to_be_checked()
    page.get_by_role("button", name="Mettre en file", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("gecko"))).to_be_visible(timeout=SLOW_MS)
    (job,) = served.jobs()
    assert job.analysis["details"][CHOICES_KEY] == {"mirror": False, "weeding_border": bordered}

    wait_for(
        lambda: served.advance(0.5) or served.jobs()[0].state == JobState.awaiting_operator,
        timeout=60,
        what="the cut to end",
    )
    # The job page follows the event stream: the question arrives without a reload.
    expect(page.get_by_text("Vinyle échenillé ?")).to_be_visible(timeout=SLOW_MS)
    page.get_by_role("button", name="Bonne").click()
    expect(page.get_by_text("Vinyle échenillé ?")).to_be_hidden(timeout=SLOW_MS)
    assert served.jobs()[0].state == JobState.succeeded
    page.context.close()


@pytest.mark.usefixtures("tool_potrace", "tool_prusa_slicer")
def test_the_new_states_pass_axe_and_every_control_is_finger_sized(
    browser: Any, served: ServedCounter, logo_png: Path, cube: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    bad: dict[str, list[str]] = {}
    small: dict[str, list[str]] = {}
    for lang in ("fr", "en"):
        page = _page(browser, lang)
        sign_in(page, served.url, english=lang == "en")
        for name, upload in (("photo", logo_png), ("file", cube), ("file", STICKER)):
            page.goto(f"{served.url}/jobs/new")
            page.locator(f"#{name}").set_input_files(str(upload))
            _understood(page, lang)
            where = f"{lang} {upload.name}"
            found = serious_violations(axe, page)
            if found:
                bad[where] = found
            for size, (width, height) in VIEWPORTS.items():
                page.set_viewport_size({"width": width, "height": height})
                tiny = page.evaluate(SMALL_CONTROLS_JS)
                if tiny:
                    small[f"{where} {size}"] = tiny
            page.set_viewport_size({"width": 1280, "height": 800})
        page.context.close()
    assert bad == {}
    assert small == {}
