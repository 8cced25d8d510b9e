"""The notices and the staff's e-mails page in Debian's Chromium (Playwright): axe-core
finds nothing serious, every control is finger-sized at three sizes, « Renvoyer » and
« Tout marquer comme lu » work."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fabqueue.app import create_app
from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Role, User
from fabqueue.notify import inbox
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.support.browser import (
    SMALL_CONTROLS_JS,
    VIEWPORTS,
    chromium,
    serious_violations,
    sign_in,
)
from tests.support.jobs import run_job
from tests.support.live import live_server
from tests.support.notify import T0, mail_settings, make_sender, new_job
from tests.support.quotes import SetClock
from tests.support.smtp import free_port
from tests.support.web import add_person
from tests.support.workers import InlineWorkers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STAFF_PAGES = ["/notifications"]
MEMBER_PAGES = ["/", "/account/emails"]


@dataclass(frozen=True)
class Cafe:
    url: str
    unsubscribe: str
    """Léa's unsubscribe link, as her e-mails carry it."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def cafe(settings: Settings, sessions: SessionFactory, clock: SetClock) -> Iterator[Cafe]:
    """A café whose mail server is away: Léa's two e-mails failed."""
    add_person(sessions, "camille", "facilitator")
    lea = add_person(sessions, "lea", "member")
    with sessions() as s:
        user = s.get(User, lea)
        assert user is not None and user.role == Role.member
        pref = inbox.set_choices(
            s, user, email="lea@exemple.fr", off_all=False, off_kinds=[], at=T0
        )

    for title, to in (("Support de téléphone", JobState.succeeded), ("Engrenage", JobState.failed)):
        job = new_job(sessions, lea, title=title)
        with session_scope(sessions) as s:
            run_job(s, job, to, machine="printer", at=T0)
    down = mail_settings(
        settings,
        None,
        mail_host="127.0.0.1",
        mail_port=free_port(),
        mail_max_tries=1,
        mail_from="atelier@cafe-port.example",
    )
    make_sender(down, sessions, clock).run_once()
    app = create_app(
        down.model_copy(update={"start_dispatcher": False}), clock=clock, workers=InlineWorkers()
    )
    with live_server(app) as url:
        yield Cafe(url, f"/unsubscribe/{pref.token}?kind=job_ready")


def _signed_in(browser: Any, url: str, name: str, **context: Any) -> Any:
    page = browser.new_context(locale="fr-FR", **context).new_page()
    page.set_default_timeout(15_000)
    sign_in(page, url, name)
    return page


def _open_notices(page: Any) -> None:
    page.locator("#notices summary").click()
    page.locator("#notices[open]").wait_for()


def test_axe_finds_nothing_serious_on_the_notices_and_emails_pages(
    browser: Any, cafe: Cafe
) -> None:
    url = cafe.url
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    found: dict[str, list[str]] = {}
    for scheme in ("light", "dark"):
        staff = _signed_in(browser, url, "camille", color_scheme=scheme)
        for path in STAFF_PAGES:
            staff.goto(url + path)
            if bad := serious_violations(axe, staff):
                found[f"{scheme} {path}"] = bad
        member = _signed_in(browser, url, "lea", color_scheme=scheme)
        for path in MEMBER_PAGES:
            member.goto(url + path)
            if path == "/":
                _open_notices(member)
            if bad := serious_violations(axe, member):
                found[f"{scheme} {path}"] = bad
        staff.context.close()
        member.context.close()
        visitor = browser.new_context(locale="fr-FR", color_scheme=scheme).new_page()
        for path in [cafe.unsubscribe]:
            visitor.goto(url + path)
            if bad := serious_violations(axe, visitor):
                found[f"{scheme} {path}"] = bad
        visitor.context.close()
    assert found == {}


def test_every_control_is_finger_sized_at_three_sizes(browser: Any, cafe: Cafe) -> None:
    url = cafe.url
    small: dict[str, list[str]] = {}
    staff = _signed_in(browser, url, "camille")
    member = _signed_in(browser, url, "lea")
    visitor = browser.new_context(locale="fr-FR").new_page()
    for name, (width, height) in VIEWPORTS.items():
        for page, paths in (
            (staff, STAFF_PAGES),
            (member, MEMBER_PAGES),
            (visitor, [cafe.unsubscribe]),
        ):
            page.set_viewport_size({"width": width, "height": height})
            for path in paths:
                page.goto(url + path)
                if path == "/":
                    _open_notices(page)
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                if found := page.evaluate(SMALL_CONTROLS_JS):
                    small[f"{name} {path}"] = found
    assert small == {}


def test_staff_send_a_failed_email_again_and_a_member_reads_their_notices(
    browser: Any, cafe: Cafe
) -> None:
    url = cafe.url
    from playwright.sync_api import expect

    staff = _signed_in(browser, url, "camille")
    staff.goto(url + "/notifications")
    expect(staff.get_by_role("heading", name="E-mails non envoyés (2)")).to_be_visible()
    row = staff.locator("li.row", has_text="« Engrenage » a échoué")
    expect(row).to_contain_text("Échec")
    row.get_by_role("button", name="Renvoyer").click()
    expect(staff.locator("li.row", has_text="« Engrenage » a échoué")).to_contain_text("En attente")
    expect(staff.get_by_role("button", name="Renvoyer")).to_have_count(1)

    member = _signed_in(browser, url, "lea")
    notices = member.locator("#notices")
    expect(notices.locator("summary")).to_contain_text("2")
    _open_notices(member)
    expect(notices).to_contain_text("Votre travail « Support de téléphone » est prêt à récupérer")
    member.get_by_role("button", name="Tout marquer comme lu").click()
    expect(member.get_by_role("button", name="Tout marquer comme lu")).to_have_count(0)
    expect(member.locator("#notices summary")).not_to_contain_text("2")
