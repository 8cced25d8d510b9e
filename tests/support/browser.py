"""Debian's Chromium driven by Playwright, and the real service for it to talk to.

Never ``playwright install``: it downloads a browser, and there is no internet here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from fabqueue.clock import FakeClock, utcnow
from fabqueue.db import make_engine, make_session_factory
from fabqueue.models import Job
from fabqueue.settings import Settings
from tests.support.factories import make_user
from tests.support.live import ClockHand, live_server
from tests.support.service import Service
from tests.support.web import PASSWORD, add_person, counter_profiles

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"portrait": (768, 1024), "landscape": (1280, 800), "phone": (390, 844)}

SMALL_CONTROLS_JS = """
() => {
  const out = [];
  for (const el of document.querySelectorAll(
      'a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
    if (r.width < 48 || r.height < 48) {
      out.push(`${el.tagName.toLowerCase()} "${(el.innerText || el.name || el.id).trim()}"`
               + ` ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
  }
  return out;
}
"""


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium package is needed (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Counter:
    """A café's service running as ``make run`` runs it, with people who sign in."""

    def __init__(self, tmp: Path, db_file: Path, *, cutter_speed: float = 1.5) -> None:
        self.db_url = f"sqlite:///{db_file}"
        profiles = counter_profiles(tmp / "profiles", cutter_speed=cutter_speed)
        env = {
            "FABQUEUE_DB_URL": self.db_url,
            "FABQUEUE_DATA_DIR": str(tmp / "data"),
            "FABQUEUE_PROFILES_DIR": str(profiles),
            "FABQUEUE_NODE": "counter",
            "FABQUEUE_DISPATCH_POLL_S": "0.2",
            "FABQUEUE_PROGRESS_WRITE_INTERVAL_S": "0.3",
        }
        self.service = Service(env, tmp / "service.log")
        self.url = self.service.url
        engine = make_engine(self.db_url)
        sessions = make_session_factory(engine, None)
        add_person(sessions, "camille", "facilitator")
        add_person(sessions, "momo", "member")
        _uid, self.token = make_user(sessions, "script", "facilitator")
        engine.dispose()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def submit(self, path: Path, **form: str) -> dict[str, Any]:
        with path.open("rb") as fh:
            r = self.api("POST", "/jobs", files={"file": (path.name, fh)}, data=form)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def jobs(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.api("GET", "/jobs").json()["data"]
        return data


def sign_in(page: Any, base: str, name: str = "camille", *, english: bool = False) -> None:
    page.goto(f"{base}/")
    page.get_by_label("Name" if english else "Nom").fill(name)
    page.get_by_label("Password" if english else "Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Sign in" if english else "Se connecter").click()
    page.wait_for_load_state()


class ServedCounter:
    """The counter served from this process (uvicorn in a thread) on a ``FakeClock``:
    the simulated machines move only when the test moves time."""

    def __init__(self, url: str, app: Any, hand: ClockHand) -> None:
        self.url = url
        self.ctx = app.state.ctx
        self.hand = hand
        add_person(self.ctx.sessions, "camille", "facilitator")
        add_person(self.ctx.sessions, "momo", "member")
        _uid, self.token = make_user(self.ctx.sessions, "script", "facilitator")

    def advance(self, seconds: float) -> None:
        self.hand.advance(seconds)

    def submit(self, path: Path, **form: str) -> dict[str, Any]:
        with path.open("rb") as fh:
            r = httpx.post(
                f"{self.url}/api/v1/jobs",
                headers={"Authorization": f"Bearer {self.token}"},
                files={"file": (path.name, fh)},
                data=form,
                timeout=60,
            )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def jobs(self) -> list[Job]:
        with self.ctx.read_sessions() as session:
            return list(session.exec(select(Job).order_by(col(Job.id))))


@contextmanager
def served_counter(settings: Settings) -> Iterator[ServedCounter]:
    """``settings`` with the café's profiles; the clock starts now and stands still."""
    from fabqueue.app import create_app

    hand = ClockHand(FakeClock(start=utcnow()))
    app = create_app(settings, clock=hand.clock, on_started=hand.started)
    with live_server(app) as url:
        yield ServedCounter(url, app, hand)


GUIDE_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
UPDATE_GUIDE_ENV = "FABQUEUE_UPDATE_GUIDE_IMAGES"
"""Set to 1 (``make guide-images``) to write the guides' pictures into docs/img; a plain
test run takes the same pictures into a scratch folder, so ``make test`` leaves the
working tree as it found it."""


SHOTS: dict[str, list[str]] = {}
"""The pictures each guide got in this test session, in the order taken."""


def guide_images(guide: str) -> list[str]:
    """The pictures ``docs/<guide>`` shows, in order."""
    import re

    text = (GUIDE_IMAGES.parent / guide).read_text(encoding="utf-8")
    return list(dict.fromkeys(re.findall(r"img/([\w.-]+\.png)", text)))


def guide_shot(page: Any, guide: str, name: str, *, full_page: bool = False) -> Path:
    """Take one of ``docs/<guide>``'s pictures, as the page shows it now. The guide must
    show it: a step the test takes and the guide forgot fails here."""
    import os
    import tempfile

    text = (GUIDE_IMAGES.parent / guide).read_text(encoding="utf-8")
    assert f"img/{name}" in text, f"docs/{guide} does not show img/{name}"
    if os.environ.get(UPDATE_GUIDE_ENV) == "1":
        folder = GUIDE_IMAGES
    else:
        folder = Path(tempfile.gettempdir()) / "fabqueue-guide-img"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 0
    taken = SHOTS.setdefault(guide, [])
    if name not in taken:
        taken.append(name)
    return path


def serious_violations(axe: Any, page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each
    (rule, impact, first element)."""
    result = axe.run(page)
    assert result.response["testEngine"]["name"] == "axe-core"
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
