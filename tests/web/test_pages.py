"""The pages through the app (no browser): sign-in, guards, forms, the counter's moves."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.models import Job, MachineRecord, User
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.factories import REPO
from tests.support.waiting import wait_for
from tests.support.web import PIN, STICKER, csrf_of, idem_of, sign_in, text_of


def _jobs(api: Api) -> list[Job]:
    with api.ctx.read_sessions() as session:
        return list(session.exec(select(Job).order_by(Job.id)))  # type: ignore[arg-type]


def _form(client: TestClient, path: str = "/jobs/new") -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def _sticker(**fields: str) -> dict[str, Any]:
    return {
        "data": {"material": "vinyle-noir", "copies": "1", **fields},
        "files": {"file": (STICKER.name, STICKER.read_bytes(), "image/svg+xml")},
    }


def _price_ht(html: str) -> Decimal:
    found = re.search(r"([\d  ]+,\d\d) € HT", text_of(html))
    assert found, text_of(html)[:800]
    return Decimal(found.group(1).replace(" ", "").replace(",", "."))


def test_front_page_asks_to_sign_in_first(web: Api) -> None:
    r = web.client.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2F"
    login = web.client.get("/login")
    assert "Se connecter" in login.text and 'lang="fr"' in login.text


def test_sign_in_shows_the_board_in_french_or_english(web: Api) -> None:
    sign_in(web.client, "camille")
    board = text_of(web.client.get("/").text)
    assert "File d'attente (0)" in board and "Plotter" in board
    assert "Aucun travail en file" in board
    english = text_of(web.client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"}).text)
    assert "Job queue (0)" in english and "No job in the queue" in english


def test_the_session_cookie_is_signed_httponly_lax_and_secure_over_https(web: Api) -> None:
    cookie = web.client.get("/login").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = TestClient(web.client.app, base_url="https://cafe.example")
    assert "Secure" in https.get("/login").headers["set-cookie"]
    # A cookie someone edited is not a session.
    web.client.cookies.set("fq_session", "eyJ1IjoxfQ.forged.sig")
    assert web.client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_passwords_and_pins_are_argon2id(web: Api) -> None:
    with web.ctx.read_sessions() as session:
        user = session.exec(select(User).where(User.name == "camille")).one()
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert user.pin_hash is not None and user.pin_hash.startswith("$argon2id$")


def test_wrong_passwords_are_refused_then_the_name_is_rate_limited(web: Api) -> None:
    csrf = csrf_of(web.client.get("/login").text)
    for _ in range(5):
        r = web.client.post("/login", data={"name": "camille", "password": "nope", "csrf": csrf})
        assert r.status_code == 401
        assert "Nom ou mot de passe incorrect" in r.text
    # Even the right password waits now: guessing costs the guesser, not the server.
    r = web.client.post(
        "/login", data={"name": "camille", "password": "comptoir-2026-tilleuls", "csrf": csrf}
    )
    assert r.status_code == 401 and "Trop de tentatives" in r.text
    # Another person is not locked out by camille's limit.
    sign_in(web.client, "momo")


def test_one_address_trying_many_names_is_rate_limited(web: Api) -> None:
    csrf = csrf_of(web.client.get("/login").text)
    for i in range(20):
        web.client.post("/login", data={"name": f"guess{i}", "password": "x", "csrf": csrf})
    r = web.client.post(
        "/login", data={"name": "camille", "password": "comptoir-2026-tilleuls", "csrf": csrf}
    )
    assert r.status_code == 401 and "Trop de tentatives" in r.text


def test_a_form_without_its_csrf_token_does_nothing(staff: TestClient, web: Api) -> None:
    sticker = _sticker(idem="k-1")
    r = staff.post("/jobs/new", **sticker)
    assert r.status_code == 403 and "Formulaire expiré" in r.text
    r = staff.post("/jobs/new", **_sticker(idem="k-2", csrf="not-the-token"))
    assert r.status_code == 403
    assert _jobs(web) == []


def test_a_member_gets_the_403_page_on_staff_pages(web: Api) -> None:
    sign_in(web.client, "momo")
    for path in ("/", "/jobs/new", "/machines/plotter"):
        r = web.client.get(path)
        assert r.status_code == 403, path
        words = text_of(r.text)
        assert "Page réservée à l'équipe" in words and "Traceback" not in words


def test_bearer_tokens_still_work_and_the_api_ignores_the_cookie(
    staff: TestClient, web: Api
) -> None:
    assert staff.get("/api/v1/jobs").status_code == 401
    assert staff.get("/api/v1/jobs", headers=web.headers()).status_code == 200


def test_understanding_a_sticker_shows_size_and_price_and_resizing_changes_them(
    staff: TestClient, web: Api
) -> None:
    form = _form(staff)
    hx = {"HX-Request": "true", "HX-Target": "understood"}
    natural = staff.post("/jobs/new/understand", headers=hx, **_sticker(csrf=form["csrf"]))
    assert natural.status_code == 200
    assert "<html" not in natural.text, "htmx gets the block only"
    assert "Ce que fabqueue a compris" in natural.text and "data:image/svg+xml" in natural.text
    bigger = staff.post(
        "/jobs/new/understand", headers=hx, **_sticker(csrf=form["csrf"], width_mm="80")
    )
    assert "80,0 × " in text_of(bigger.text)
    assert _price_ht(bigger.text) > _price_ht(natural.text)
    assert _jobs(web) == [], "understanding a file queues nothing"


def test_queueing_a_resized_sticker_for_a_walk_in_customer(staff: TestClient, web: Api) -> None:
    form = _form(staff)
    r = staff.post(
        "/jobs/new",
        follow_redirects=False,
        **_sticker(
            **form, width_mm="80", hold="1", customer_name="Mme Ferrand", customer_contact="06 12"
        ),
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    (job,) = _jobs(web)
    assert job.state == JobState.held
    bounds = job.analysis["bounds"]
    assert bounds["max_x"] - bounds["min_x"] == pytest.approx(80.0, abs=0.1)
    assert job.customer_name == "Mme Ferrand" and job.customer_contact == "06 12"
    page = text_of(staff.get(r.headers["location"]).text)
    assert "Mme Ferrand" in page and "en attente" in page and "camille" in page


def test_a_double_tap_makes_one_job(staff: TestClient, web: Api) -> None:
    form = _form(staff)
    answers: list[int] = []

    def tap() -> None:
        r = staff.post("/jobs/new", follow_redirects=False, **_sticker(**form, hold="1"))
        answers.append(r.status_code)

    taps = [threading.Thread(target=tap) for _ in range(3)]
    for t in taps:
        t.start()
    for t in taps:
        t.join()
    assert answers == [303, 303, 303]
    assert len(_jobs(web)) == 1
    # A fresh page has a fresh key: the next job is a new one.
    staff.post("/jobs/new", **_sticker(**_form(staff), hold="1"))
    assert len(_jobs(web)) == 2


def test_queue_moves_from_the_board(staff: TestClient, web: Api) -> None:
    for _ in range(2):
        staff.post("/jobs/new", **_sticker(**_form(staff), hold="1"))
    first, second = _jobs(web)
    hx = {"HX-Request": "true", "HX-Target": "board"}

    def act(job: Job, action: str) -> str:
        r = staff.post(
            f"/jobs/{job.id}/do/{action}", data={**_form(staff, "/"), "next": "/"}, headers=hx
        )
        assert r.status_code == 200, r.text
        return r.text

    board = act(second, "up")
    assert board.lstrip().startswith('<section class="machines"'), "the board's block alone"
    assert "<html" not in board and 'id="board"' not in board
    titles = re.findall(r'<a href="/jobs/(\d+)">', board.split('id="queue-title"')[1])
    assert titles[:2] == [str(second.id), str(first.id)]
    act(second, "down")
    act(first, "cancel")
    with web.ctx.read_sessions() as session:
        assert session.get(Job, first.id).state == JobState.cancelled  # type: ignore[union-attr]
        assert session.get(Job, second.id).priority == 0  # type: ignore[union-attr]
    r = staff.post(f"/jobs/{first.id}/do/release", data=_form(staff, "/"))
    assert r.status_code == 409 and "Cela n'a pas fonctionné" in text_of(r.text)


def test_good_outcome_from_the_board_finishes_the_job_and_the_next_starts(
    staff: TestClient, web: Api
) -> None:
    for _ in range(2):
        staff.post("/jobs/new", **_sticker(**_form(staff)))
    first, second = _jobs(web)

    def state(job: Job) -> JobState:
        with web.ctx.read_sessions() as session:
            found = session.get(Job, job.id)
            assert found is not None
            return found.state

    wait_for(lambda: state(first) == JobState.awaiting_operator, timeout=30, what="first cut")
    board = text_of(staff.get("/").text)
    assert "Vinyle échenillé ?" in board and "Bonne" in board and "À refaire" in board
    r = staff.post("/machines/plotter/outcome", data={**_form(staff, "/"), "outcome": "good"})
    assert r.status_code == 200
    assert state(first) == JobState.succeeded
    wait_for(lambda: state(second) != JobState.queued, timeout=10, what="second job starts")


def test_machine_page_loads_material_and_goes_out_of_service_with_a_reason(
    staff: TestClient, web: Api
) -> None:
    page = staff.get("/machines/plotter")
    assert page.status_code == 200 and "Matière chargée" in page.text
    staff.post(
        "/machines/plotter/material",
        data={**_form(staff, "/machines/plotter"), "material": "vinyle-noir"},
    )
    refused = staff.post(
        "/machines/plotter/service", data={**_form(staff, "/machines/plotter"), "in_service": "0"}
    )
    assert refused.status_code == 422, "a reason is needed"
    staff.post(
        "/machines/plotter/service",
        data={**_form(staff, "/machines/plotter"), "in_service": "0", "reason": "lame cassée"},
    )
    with web.ctx.read_sessions() as session:
        record = session.get(MachineRecord, "plotter")
        assert record is not None
        assert record.loaded_material == "vinyle-noir"
        assert record.runner_state.value == "stopped" and record.service_note == "lame cassée"
    assert "lame cassée" in staff.get("/").text
    staff.post(
        "/machines/plotter/service", data={**_form(staff, "/machines/plotter"), "in_service": "1"}
    )
    with web.ctx.read_sessions() as session:
        record = session.get(MachineRecord, "plotter")
        assert record is not None and record.runner_state.value == "accepting"
        assert record.service_note is None


def test_the_tablet_locks_after_inactivity_and_the_pin_unlocks_it(
    staff: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fabqueue.web.page as page_module

    real = page_module.wall_clock
    monkeypatch.setattr(page_module, "wall_clock", lambda: real() + 11 * 60)
    r = staff.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/lock")
    # htmx refreshes are sent elsewhere by a header, not swapped into a card.
    hx = staff.get("/?bg=1", headers={"HX-Request": "true"}, follow_redirects=False)
    assert hx.headers.get("HX-Redirect", "").startswith("/lock")
    lock = staff.get("/lock")
    assert "Tablette verrouillée" in lock.text
    csrf = csrf_of(lock.text)
    wrong = staff.post("/lock", data={"pin": "0000", "csrf": csrf})
    assert wrong.status_code == 401 and "Code incorrect" in wrong.text
    monkeypatch.setattr(page_module, "wall_clock", real)
    ok = staff.post("/lock", data={"pin": PIN, "csrf": csrf, "next": "/"}, follow_redirects=False)
    assert ok.status_code == 303, text_of(ok.text)[-400:]
    assert ok.headers["location"] == "/"
    assert staff.get("/", follow_redirects=False).status_code == 200


def test_sign_out_ends_the_session(staff: TestClient) -> None:
    csrf = csrf_of(staff.get("/").text)
    staff.post("/logout", data={"csrf": csrf})
    assert staff.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_static_files_have_their_hash_in_the_url_and_a_long_cache(staff: TestClient) -> None:
    html = staff.get("/").text
    urls = re.findall(r'(?:href|src)="(/static/[0-9a-f]{12}/[^"]+)"', html)
    assert any(u.endswith("css/app.css") for u in urls)
    assert any(u.endswith("htmx.min.js") for u in urls)
    for url in urls:
        r = staff.get(url)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = staff.get("/static/000000000000/css/app.css")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    assert staff.get("/static/000000000000/../../fabqueue/app.py").status_code == 404


def test_the_api_docs_need_no_internet(web: Api) -> None:
    docs = web.client.get("/docs").text
    assert "cdn." not in docs and "/static/" in docs
    assert "swagger-ui-bundle.js" in docs


def test_user_passwd_sets_a_password_from_the_command_line(sqlite_url: str) -> None:
    env = {"FABQUEUE_DB_URL": sqlite_url}
    run = [sys.executable, "-m", "fabqueue", "user"]
    subprocess.run(
        [*run, "add", "Alix", "--role", "admin"],
        env=_path() | env,
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    short = subprocess.run(
        [*run, "passwd", "Alix", "--stdin"],
        input="court\n",
        text=True,
        env=_path() | env,
        capture_output=True,
        cwd=REPO,
    )
    assert short.returncode == 2 and "at least 10" in short.stderr
    ok = subprocess.run(
        [*run, "passwd", "Alix", "--stdin"],
        input="un mot de passe long\n",
        text=True,
        env=_path() | env,
        capture_output=True,
        cwd=REPO,
    )
    assert ok.returncode == 0, ok.stderr

    from fabqueue.db import make_engine, make_session_factory
    from fabqueue.services.accounts import authenticate

    engine = make_engine(sqlite_url)
    with make_session_factory(engine, None)() as session:
        assert authenticate(session, "Alix", "un mot de passe long") is not None
        assert authenticate(session, "Alix", "court") is None
    engine.dispose()


def _path() -> dict[str, str]:
    """The environment the tests run in (PATH…); the test's own settings go over it
    (make exports FABQUEUE_DB_URL for the service it runs)."""
    import os

    return dict(os.environ)


def test_problems_are_said_in_french_with_the_fix_to_try(staff: TestClient, web: Api) -> None:
    form = _form(staff)
    hx = {"HX-Request": "true", "HX-Target": "understood"}
    text_svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="80mm" height="20mm" '
        b'viewBox="0 0 80 20"><text x="2" y="15">BOULANGERIE</text></svg>'
    )
    r = staff.post(
        "/jobs/new/understand",
        headers=hx,
        data={"csrf": form["csrf"], "material": "vinyle-noir"},
        files={"file": ("enseigne.svg", text_svg, "image/svg+xml")},
    )
    words = text_of(r.text)
    assert "Le dessin contient du texte" in words and "BOULANGERIE" in words
    assert "Objet en chemin" in words
    wide = staff.post(
        "/jobs/new/understand",
        headers=hx,
        **_sticker(csrf=form["csrf"], width_mm="1500"),
    )
    words = text_of(wide.text)
    assert "de plus que le rouleau de 610 mm" in words and "largeur plus petite" in words
    english = staff.post(
        "/jobs/new/understand",
        headers={**hx, "Accept-Language": "en"},
        **_sticker(csrf=form["csrf"], width_mm="1500"),
    )
    assert "more than the 610 mm roll: ask for a smaller width" in text_of(english.text)
    assert _jobs(web) == []
