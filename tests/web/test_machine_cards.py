"""The counter's machine cards: the emergency stop (one tap opens the question, the second
stops) and today's bookings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.models import Booking, Job, MachineEvent, User
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.waiting import wait_for
from tests.support.web import STICKER, counter_profiles, csrf_of, idem_of, text_of


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    # A slow cutter: the cut lasts about a minute, long enough to stop it mid-way.
    return counter_profiles(tmp_path / "profiles", cutter_speed=0.2)


def _form(client: TestClient, path: str) -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def _job(api: Api) -> Job:
    with api.ctx.read_sessions() as session:
        found = session.exec(select(Job)).one()
        session.expunge(found)
        return found


def test_an_emergency_stop_from_the_machine_card_interrupts_the_job(
    staff: TestClient, web: Api
) -> None:
    sticker: dict[str, Any] = {
        "data": {"material": "vinyle-noir", "copies": "1", **_form(staff, "/jobs/new")},
        "files": {"file": (STICKER.name, STICKER.read_bytes(), "image/svg+xml")},
    }
    staff.post("/jobs/new", **sticker)
    wait_for(lambda: _job(web).state == JobState.running, timeout=30, what="the cut starts")
    board = text_of(staff.get("/").text)
    assert "Arrêt d'urgence" in board and "Oui, arrêter" in board

    r = staff.post("/machines/plotter/emergency-stop", data=_form(staff, "/machines/plotter"))
    assert r.status_code == 200, r.text
    job = _job(web)
    assert job.state == JobState.interrupted
    with web.ctx.read_sessions() as session:
        camille = session.exec(select(User).where(User.name == "camille")).one()
        stops = session.exec(
            select(MachineEvent).where(MachineEvent.action == "emergency_stop")
        ).all()
    assert [e.actor for e in stops] == [f"user:{camille.id}"]
    page = text_of(staff.get("/machines/plotter").text)
    assert "Oui, arrêter" not in page, "no stop button once nothing runs"


def test_an_emergency_stop_needs_its_csrf_token(staff: TestClient, web: Api) -> None:
    r = staff.post("/machines/plotter/emergency-stop", data={"idem": "x"})
    assert r.status_code in (400, 403)
    with web.ctx.read_sessions() as session:
        assert session.exec(select(MachineEvent)).all() == []


def test_the_board_shows_todays_bookings_with_the_members_name(staff: TestClient, web: Api) -> None:
    now = web.ctx.clock.now()
    with web.ctx.sessions() as session:
        momo = session.exec(select(User).where(User.name == "momo")).one()
        assert momo.id is not None
        session.add(
            Booking(
                machine="plotter",
                member_id=momo.id,
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(minutes=25),
                created_at=now,
                created_by=momo.id,
            )
        )
        session.commit()
    paris = ZoneInfo("Europe/Paris")
    start = (now - timedelta(minutes=5)).astimezone(paris).strftime("%H:%M")
    end = (now + timedelta(minutes=25)).astimezone(paris).strftime("%H:%M")
    for page in ("/", "/machines/plotter"):
        assert f"Réservé {start}–{end} · momo" in text_of(staff.get(page).text), page
