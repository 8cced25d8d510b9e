"""« Travaux » (/jobs) through the app: filters, search, pages, the queue's moves from
the list (CSRF, idempotency), the live block, members kept out; and the API's ``q=``."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from fabqueue.models import Job
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.job_rows import T0, add_job
from tests.support.web import csrf_of, idem_of, sign_in, text_of

HX = {"HX-Request": "true", "HX-Target": "jobs"}
AWAY = "brodeuse-annexe"


def _uid(web: Api, name: str) -> int:
    from sqlmodel import select

    from fabqueue.models import User

    with web.ctx.read_sessions() as s:
        user = s.exec(select(User).where(User.name == name)).one()
        assert user.id is not None
        return user.id


def _job(web: Api, state: JobState = JobState.held, minute: int = 0, **fields: object) -> int:
    """Held by default, and a queued one pinned to a machine of no node here: the app's
    dispatcher (the café's plotter) must not take the test's jobs."""
    owner = fields.pop("owner", None) or _uid(web, "camille")
    if state == JobState.queued:
        fields.setdefault("target_machine", AWAY)
    return add_job(web.ctx.sessions, owner, state, at=T0 + timedelta(minutes=minute), **fields)


def _state(web: Api, job_id: int) -> Job:
    with web.ctx.read_sessions() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/jobs/(\d+)">', html)]


def test_the_page_lists_every_job_newest_first_with_what_the_board_shows(
    staff: TestClient, web: Api
) -> None:
    queued = _job(web, JobState.queued, minute=1, customer_name="Mme Dupont")
    done = _job(web, JobState.succeeded, minute=2, owner=_uid(web, "momo"), machine="plotter")
    r = staff.get("/jobs")
    assert r.status_code == 200
    assert _row_ids(r.text) == [done, queued]
    page = text_of(r.text)
    assert "Travaux" in page and "Tous 2" in page and "En file 1" in page
    assert "Terminés 1" in page and "À vérifier 0" in page and "Échoués / interrompus 0" in page
    # The same badge as the board: its word and icon; owner, customer, machine, material,
    # estimate, price (waiting jobs only, as on the board), when.
    row = page.split("sticker.svg")[2]
    assert f"⋯ en file · camille · pour Mme Dupont · {AWAY} · Vinyle noir · 6 min" in row
    assert re.search(r"\d+,\d\d € HT · déposé le lun\. 7 déc\. 2026, 10:01", row), row[:200]
    finished = page.split("sticker.svg")[1]
    assert "✓ terminé · momo" in finished and "fini le lun. 7 déc. 2026, 10:08" in finished
    assert "€" not in finished.split("fini le")[0]


def test_each_toggle_filters_and_keeps_the_search(staff: TestClient, web: Api) -> None:
    held = _job(web, JobState.held, minute=1, customer_name="Dupont")
    urgent = _job(web, JobState.queued, minute=2, priority=3, customer_name="Dupont")
    _job(web, JobState.awaiting_operator, minute=3, customer_name="Dupont", machine=AWAY)
    interrupted = _job(web, JobState.interrupted, minute=4, customer_name="Martin")
    waiting = staff.get("/jobs?state=waiting")
    assert _row_ids(waiting.text) == [urgent, held, interrupted], "in the board's order"
    assert "Dans l'ordre où les machines les prendront" in text_of(waiting.text)
    failed = staff.get("/jobs?state=failed")
    assert _row_ids(failed.text) == [interrupted]
    assert "Reprendre" in text_of(failed.text) and "Relancer" in text_of(failed.text)
    searched = staff.get("/jobs?state=waiting&q=dupont")
    assert _row_ids(searched.text) == [urgent, held]
    assert 'href="/jobs?state=to_check&amp;q=dupont"' in searched.text
    assert 'href="/jobs?q=dupont"' in searched.text, "« Tous » keeps the words"
    assert 'aria-current="page">En file' in searched.text
    bogus = staff.get("/jobs?state=bogus")
    assert bogus.status_code == 200 and len(_row_ids(bogus.text)) == 4, "a bad link: every job"
    assert 'aria-current="page">Tous' in bogus.text


def test_search_by_customer_phone_email_or_owner_and_an_empty_result_says_what_next(
    staff: TestClient, web: Api
) -> None:
    customer = {"customer_name": "Mme Hélène Dupont", "customer_contact": "06 12 34 56 78"}
    dupont = _job(web, JobState.succeeded, **customer)
    mail = _job(web, minute=1, customer_contact="garcon@exemple.fr")
    mine = _job(web, minute=2, owner=_uid(web, "momo"), file="porte-clés.gcode")
    assert _row_ids(staff.get("/jobs?q=HELENE").text) == [dupont]
    assert _row_ids(staff.get("/jobs", params={"q": "0612345678"}).text) == [dupont]
    assert _row_ids(staff.get("/jobs", params={"q": "GARCON@exemple"}).text) == [mail]
    assert _row_ids(staff.get("/jobs", params={"q": "momo"}).text) == [mine]
    assert _row_ids(staff.get("/jobs", params={"q": "porte-cles"}).text) == [mine]
    none = staff.get("/jobs", params={"state": "waiting", "q": "hélène"})
    text = text_of(none.text)
    assert "Aucun travail ne correspond à « hélène » ici" in text
    assert "Chercher dans tous les états" in text and "Effacer la recherche" in text
    # The words typed come back in the box, escaped.
    odd = staff.get("/jobs", params={"q": '<b>"x'})
    assert 'value="&lt;b&gt;&#34;x"' in odd.text and "<b>" not in odd.text.split("<main")[1]


def test_empty_states_say_what_to_do_next(staff: TestClient, web: Api) -> None:
    assert "Aucun travail pour l'instant — déposez un fichier." in text_of(staff.get("/jobs").text)
    waiting = text_of(staff.get("/jobs?state=waiting").text)
    assert "Aucun travail en file — déposez un fichier. Nouveau travail" in waiting
    _job(web)
    done = text_of(staff.get("/jobs?state=done").text)
    assert "Aucun travail ici pour l'instant. Voir tous les travaux" in done


def test_pages_of_fifty_follow_the_keyset(staff: TestClient, web: Api) -> None:
    made = [_job(web, JobState.succeeded, minute=i) for i in range(60)]
    first = staff.get("/jobs?state=done")
    assert _row_ids(first.text) == made[::-1][:50]
    older = re.search(
        r'href="(/jobs\?state=done&amp;after=\d+)" rel="next">Plus anciens',
        first.text,
    )
    assert older, "« Plus anciens »"
    second = staff.get(older.group(1).replace("&amp;", "&"))
    assert _row_ids(second.text) == made[::-1][50:]
    assert 'rel="next"' not in second.text and "Retour au début" in text_of(second.text)
    queue = [_job(web, minute=100 + i) for i in range(55)]
    page = staff.get("/jobs?state=waiting")
    follow = re.search(r'href="([^"]+)" rel="next">Suivants', page.text)
    assert follow and _row_ids(page.text) == queue[:50]
    assert _row_ids(staff.get(follow.group(1).replace("&amp;", "&")).text) == queue[50:]


def test_queue_moves_from_the_list_come_back_to_it(staff: TestClient, web: Api) -> None:
    first = _job(web, JobState.held, minute=1, title="premier")
    second = _job(web, JobState.held, minute=2, title="second")
    page = staff.get("/jobs?state=waiting")
    assert 'name="next" value="/jobs?state=waiting"' in page.text
    form = {"csrf": csrf_of(page.text), "idem": idem_of(page.text), "next": "/jobs?state=waiting"}
    r = staff.post(f"/jobs/{second}/do/up", data=form, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<nav class="toggles"'), "the live block alone"
    assert "<html" not in r.text
    assert _row_ids(r.text) == [second, first]
    # The same key again (a double tap): done once.
    again = staff.post(f"/jobs/{second}/do/up", data=form, headers=HX)
    assert again.status_code == 200 and _state(web, second).priority == 1
    key = idem_of(r.text)
    cancel = {**form, "idem": key}
    done = staff.post(f"/jobs/{first}/do/cancel", data=cancel, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/jobs?state=waiting"
    assert _state(web, first).state == JobState.cancelled
    assert "Oui, annuler « second »" in r.text, "cancel asks once more"


def test_a_move_without_its_csrf_token_does_nothing(staff: TestClient, web: Api) -> None:
    job = _job(web)
    page = staff.get("/jobs")
    for csrf in (None, "not-the-token"):
        data = {"idem": idem_of(page.text), "next": "/jobs"}
        if csrf:
            data["csrf"] = csrf
        r = staff.post(f"/jobs/{job}/do/release", data=data)
        assert r.status_code == 403 and "Formulaire expiré" in r.text
    assert _state(web, job).state == JobState.held


def test_the_live_block_refetches_itself_with_the_same_filters(staff: TestClient, web: Api) -> None:
    _job(web, customer_name="Dupont")
    page = staff.get("/jobs?state=waiting&q=dupont")
    assert 'hx-get="/jobs?state=waiting&amp;q=dupont&amp;bg=1"' in page.text
    assert 'hx-trigger="sse:changed delay:100ms, fq:refresh from:body"' in page.text
    block = staff.get("/jobs?state=waiting&q=dupont&bg=1", headers=HX)
    assert block.text.lstrip().startswith('<nav class="toggles"')
    assert 'id="q"' not in block.text, "the search box stays out of the refreshed block"


def test_members_get_the_403_page_and_no_link(web: Api) -> None:
    sign_in(web.client, "momo")
    r = web.client.get("/jobs")
    assert r.status_code == 403 and "Page réservée à l'équipe" in text_of(r.text)
    assert 'href="/jobs"' not in web.client.get("/member").text


def test_the_header_and_the_boards_overflow_lead_to_the_list(staff: TestClient, web: Api) -> None:
    for i in range(32):
        _job(web, JobState.held, minute=i)
    board = staff.get("/")
    assert '<a class="button" href="/jobs">Travaux</a>' in board.text
    assert re.search(
        r'<a href="/jobs\?state=waiting">et 2 autres travaux en attente après ceux-ci</a>',
        board.text,
    ), text_of(board.text)[-400:]
    assert 'aria-current="page">Travaux' in staff.get("/jobs").text


def test_english(staff: TestClient, web: Api) -> None:
    _job(web)
    page = text_of(staff.get("/jobs", headers={"Accept-Language": "en"}).text)
    assert "In the queue 1" in page and "Failed or interrupted 0" in page
    assert "Find a job" in page and "sent Mon 7 Dec 2026, 10:00" in page


def test_the_api_finds_jobs_by_the_same_words(web: Api) -> None:
    dupont = _job(web, customer_name="Mme Dupont")
    _job(web, minute=1)
    headers = web.headers()
    found = web.client.get("/api/v1/jobs", params={"q": "dupont", "limit": 1}, headers=headers)
    assert found.status_code == 200
    body = found.json()
    assert [j["id"] for j in body["data"]] == [dupont] and body["count"] == 1
    every = web.client.get("/api/v1/jobs", params={"limit": 1}, headers=headers).json()
    assert every["count"] == 2 and every["next"] == f"/api/v1/jobs?limit=1&before={dupont + 1}"
