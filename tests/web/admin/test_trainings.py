"""Trainings through the pages: a facilitator creates a training and a session, enrols
a member, validates attendance (the authorisation appears, granted by them); the list
of authorisations about to expire; and who may not."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.db import session_scope
from fabqueue.models import Authorisation, Enrolment, TrainingSession, User
from fabqueue.services import trainings
from tests.conftest import Api
from tests.support.admin import START, form_keys
from tests.support.quotes import SetClock
from tests.support.web import csrf_of, sign_in, text_of


def _staff(desk: Api) -> TestClient:
    sign_in(desk.client, "camille")
    return desk.client


def _training(client: TestClient, name: str = "Découpe vinyle", *unlocks: str) -> None:
    data = {
        **form_keys(client, "/admin/trainings"),
        "name": name,
        "unlocks": list(unlocks or ("plotter",)),
        "validity_months": "12",
    }
    r = client.post("/admin/trainings", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text


def _session(client: TestClient, *, day: str = "2026-03-04", start: str = "14:00") -> int:
    html = client.get("/admin/trainings").text
    training_id = re.search(r'name="training_id">\s*<option value="(\d+)"', html)
    assert training_id
    data = {
        **form_keys(client, "/admin/trainings"),
        "training_id": training_id.group(1),
        "day": day,
        "start": start,
        "end": "16:00",
        "places": "2",
    }
    r = client.post("/admin/trainings/sessions", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def _enrol(client: TestClient, session_id: int, member_id: int) -> int:
    path = f"/admin/trainings/sessions/{session_id}"
    r = client.post(f"{path}/enrol", data={**form_keys(client, path), "member_id": str(member_id)})
    return r.status_code


def test_a_facilitator_trains_a_member_from_session_to_authorisation(
    desk: Api, clock: SetClock
) -> None:
    client = _staff(desk)
    _training(client)
    sid = _session(client)
    with desk.ctx.read_sessions() as session:
        ts = session.get(TrainingSession, sid)
        assert ts is not None
        # 14:00 in Paris (UTC+1 in March before the change) is 13:00 UTC.
        assert ts.starts_at.hour == 13 and ts.places == 2
    momo = desk.user_ids["momo"]
    assert _enrol(client, sid, momo) == 200
    path = f"/admin/trainings/sessions/{sid}"
    page = text_of(client.get(path).text)
    assert "momo" in page and "à valider une fois la session commencée" in page

    early = client.post(
        f"{path}/validate", data={**form_keys(client, path), "member_id": str(momo)}
    )
    assert early.status_code == 409
    assert "La présence se valide une fois la session commencée" in text_of(early.text)

    clock.advance(days=2, hours=4)  # Wednesday 14:30 in Paris
    r = client.post(
        f"{path}/validate",
        data={**form_keys(client, path), "member_id": str(momo)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "présent·e — habilité·e" in text_of(client.get(path).text)
    with desk.ctx.read_sessions() as session:
        (auth,) = session.exec(select(Authorisation).where(Authorisation.member_id == momo)).all()
        assert auth.granted_by == desk.user_ids["camille"] and auth.machine == "plotter"
        enrolment = session.exec(select(Enrolment).where(Enrolment.member_id == momo)).one()
        assert enrolment.validated_by == desk.user_ids["camille"]

    sign_in(client, "ines")
    person = text_of(client.get(f"/admin/people/{momo}").text)
    assert "Découpe vinyle" in person and "valable jusqu’au 4 mars 2027" in person


def test_a_full_session_refuses_one_more(desk: Api) -> None:
    client = _staff(desk)
    _training(client)
    sid = _session(client)
    with session_scope(desk.ctx.sessions) as session:
        for name in ("léa", "noé"):
            session.add(User(name=name, role="member", created_at=START))
    with desk.ctx.read_sessions() as session:
        ids = [u.id for u in session.exec(select(User).where(User.role == "member"))]
    assert _enrol(client, sid, ids[0]) == 200
    assert _enrol(client, sid, ids[1]) == 200
    html = client.get(f"/admin/trainings/sessions/{sid}").text
    assert "La session est complète" in text_of(html)
    path = f"/admin/trainings/sessions/{sid}"
    r = client.post(f"{path}/enrol", data={"csrf": csrf_of(html), "member_id": str(ids[2])})
    assert r.status_code == 409 and "complète" in text_of(r.text)


def test_bad_training_forms_say_why_in_french(desk: Api) -> None:
    client = _staff(desk)
    r = client.post(
        "/admin/trainings", data={**form_keys(client, "/admin/trainings"), "name": "Brodeuse"}
    )
    assert r.status_code == 422
    assert "Choisissez au moins une machine" in text_of(r.text)
    _training(client)
    r = client.post(
        "/admin/trainings",
        data={
            **form_keys(client, "/admin/trainings"),
            "name": "Découpe vinyle",
            "unlocks": "kind:vinyl_cutter",
        },
    )
    assert r.status_code == 409 and "Une formation « Découpe vinyle » existe déjà" in text_of(
        r.text
    )
    r = client.post(
        "/admin/trainings",
        data={
            **form_keys(client, "/admin/trainings"),
            "name": "X",
            "unlocks": "plotter",
            "validity_months": "douze",
        },
    )
    assert r.status_code == 422 and "nombre entier" in text_of(r.text)


def test_a_session_that_ends_before_it_starts_is_refused(desk: Api) -> None:
    client = _staff(desk)
    _training(client)
    html = client.get("/admin/trainings").text
    tid = re.search(r'name="training_id">\s*<option value="(\d+)"', html)
    assert tid
    form = {"training_id": tid.group(1), "day": "2026-03-04"}
    keys = form_keys(client, "/admin/trainings")
    r = client.post(
        "/admin/trainings/sessions", data={**keys, **form, "start": "16:00", "end": "14:00"}
    )
    assert r.status_code == 422 and "La fin est avant le début" in text_of(r.text)
    keys = form_keys(client, "/admin/trainings")
    r = client.post(
        "/admin/trainings/sessions", data={**keys, **form, "start": "midi", "end": "14:00"}
    )
    assert r.status_code == 422 and "Indiquez une date et une heure" in text_of(r.text)
    with desk.ctx.read_sessions() as session:
        assert session.exec(select(TrainingSession)).first() is None


def test_authorisations_expiring_within_30_days_are_listed(desk: Api) -> None:
    camille = desk.user_ids["camille"]
    with session_scope(desk.ctx.sessions) as session:
        by = session.get(User, camille)
        assert by is not None
        for days in (20, 40):
            trainings.grant(
                session,
                member_id=desk.user_ids["momo"],
                machine="plotter",
                by=by,
                at=START,
                expires_at=START + timedelta(days=days),
            )
    page = text_of(_staff(desk).get("/admin/trainings").text)
    section = page.split("Habilitations qui expirent dans les 30 jours")[1]
    assert "momo" in section and "expire le 22 mars 2026" in section
    assert "11 avr. 2026" not in section and "11 avril 2026" not in section


def test_a_member_gets_the_403_page_on_the_training_pages(desk: Api) -> None:
    sign_in(desk.client, "camille")
    _training(desk.client)
    sid = _session(desk.client)
    sign_in(desk.client, "momo")
    for path in ("/admin", "/admin/trainings", f"/admin/trainings/sessions/{sid}"):
        r = desk.client.get(path)
        assert r.status_code == 403 and "Réservé aux administrateurs" not in r.text, path
    csrf = csrf_of(desk.client.get("/login").text)
    r = desk.client.post(
        f"/admin/trainings/sessions/{sid}/enrol",
        data={"csrf": csrf, "member_id": str(desk.user_ids["momo"])},
    )
    assert r.status_code == 403
    with desk.ctx.read_sessions() as session:
        assert session.exec(select(Enrolment)).first() is None


def test_everyone_enrolled_is_validated_at_once(desk: Api, clock: SetClock) -> None:
    client = _staff(desk)
    _training(client)
    sid = _session(client)
    with session_scope(desk.ctx.sessions) as session:
        session.add(User(name="léa", role="member", created_at=START))
    with desk.ctx.read_sessions() as session:
        ids = [u.id for u in session.exec(select(User).where(User.role == "member"))]
    for uid in ids:
        assert _enrol(client, sid, uid) == 200
    path = f"/admin/trainings/sessions/{sid}"
    assert "tout valider" not in client.get(path).text
    clock.advance(days=2, hours=4)
    assert "tout valider" in client.get(path).text
    r = client.post(f"{path}/validate", data=form_keys(client, path), follow_redirects=False)
    assert r.status_code == 303
    with desk.ctx.read_sessions() as session:
        granted = session.exec(select(Authorisation)).all()
        assert sorted(a.member_id for a in granted) == sorted(ids)
