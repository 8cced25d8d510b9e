"""The issue's story, end to end on a simulated printer and the injected clock: a member
whose authorisation expired is refused; a facilitator re-trains her; she books; during
her booking her job jumps the queue while a queued job that would overlap waits; her job
outlasts the booking, is not stopped, and the next member is warned on the event stream."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fabqueue.events import Message
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.api import submit
from tests.support.bookings import NOW, Desk, SetClock, cafe_profiles, paris
from tests.support.factories import tiny_gcode
from tests.support.waiting import wait_for


def job(api: Api, job_id: int) -> dict[str, Any]:
    return api.client.get(f"/api/v1/jobs/{job_id}", headers=api.headers("anim")).json()


def test_retrained_member_books_and_her_job_jumps_the_queue(
    make_api: Callable[..., Api], settings: Settings, tmp_path: Path
) -> None:
    clock = SetClock(NOW)
    root = cafe_profiles(tmp_path / "cafe", member_jobs="during_booking")
    api = make_api(settings.model_copy(update={"profiles_dir": root}), clock=clock)
    seen: list[Message] = []
    api.client.portal.call(lambda: api.ctx.bus.add_listener(seen.append))  # type: ignore[union-attr]
    staff, mia, max_ = (
        api.headers(n, r)
        for n, r in (("anim", "facilitator"), ("mia", "member"), ("max", "member"))
    )
    ids = api.user_ids
    desk = Desk(api.ctx.sessions, api.ctx.profiles)
    desk.grant(
        ids["mia"],
        "printer",
        ids["anim"],
        at=paris(2025, 1, 6, 10),
        expires_at=paris(2026, 2, 1, 10),
    )
    desk.grant(ids["max"], "printer", ids["anim"], at=NOW)
    slot = {
        "machine": "printer",
        "starts_at": "2026-03-07T14:00:00+01:00",
        "ends_at": "2026-03-07T15:00:00+01:00",
    }

    # 1. Refused: the authorisation expired, for bookings and for jobs alike.
    r = api.client.post("/api/v1/bookings", headers=mia, json=slot)
    assert r.status_code == 403
    assert r.json()["detail"] == "votre habilitation « Test printer » a expiré le 1 février 2026"
    r = submit(api, tiny_gcode(tmp_path, "early.gcode"), "mia", "member", machine="printer")
    assert r.status_code == 403 and "a expiré le 1 février 2026" in r.json()["detail"]

    # 2. Re-trained: a session, enrolment by the facilitator, validation after it.
    t = api.client.post(
        "/api/v1/trainings",
        headers=staff,
        json={"name": "Impression 3D", "kinds": ["fdm_printer"], "validity_months": 12},
    ).json()
    ts = api.client.post(
        f"/api/v1/trainings/{t['id']}/sessions",
        headers=staff,
        json={
            "starts_at": "2026-03-02T10:00:00+01:00",
            "ends_at": "2026-03-02T12:00:00+01:00",
            "places": 4,
        },
    ).json()
    r = api.client.post(
        f"/api/v1/trainings/sessions/{ts['id']}/enrolments",
        headers=staff,
        json={"member_id": ids["mia"]},
    )
    assert r.status_code == 201, r.text
    clock.set(paris(2026, 3, 2, 12, 5))
    r = api.client.post(
        f"/api/v1/trainings/sessions/{ts['id']}/validate",
        headers=staff,
        json={"member_ids": [ids["mia"]]},
    )
    assert r.status_code == 200, r.text
    (auth,) = r.json()
    assert auth["valid"] and auth["kind"] == "fdm_printer" and auth["label"] == "Impression 3D"
    assert auth["expires_at"].startswith("2027-03-02")

    # 3. She books; Max books the hour after.
    r = api.client.post("/api/v1/bookings", headers=mia, json=slot)
    assert r.status_code == 201, r.text
    booking = r.json()
    r = api.client.post(
        "/api/v1/bookings",
        headers=max_,
        json={
            **slot,
            "starts_at": "2026-03-07T15:00:00+01:00",
            "ends_at": "2026-03-07T16:00:00+01:00",
        },
    )
    assert r.status_code == 201, r.text
    following = r.json()

    # 4. At 13:30 a walk-in job of 40 min would run into her booking: it waits. Her own
    #    job, sent early, waits for her booking (member_jobs = "during_booking").
    clock.set(paris(2026, 3, 7, 13, 30))
    walk_in = submit(
        api, tiny_gcode(tmp_path, "walkin.gcode", seconds=2400), machine="printer"
    ).json()
    hers = submit(
        api, tiny_gcode(tmp_path, "hers.gcode", seconds=2700), "mia", "member", machine="printer"
    ).json()
    assert hers["state"] == "queued"

    # 5. Her booking starts: her job (newer; 45 min, so it ends before Max's booking) is
    #    taken first.
    clock.set(paris(2026, 3, 7, 14, 5))
    started = wait_for(
        lambda: (j := job(api, hers["id"]))["state"] == "running" and j, what="her job running"
    )
    assert started["started_at"].startswith("2026-03-07T13:05")  # 14:05 in Paris
    assert job(api, walk_in["id"])["state"] == "queued"

    # 6. The machine is slower than its estimate (the simulated one stands still on the
    #    clock): the booking ends with her job still running: it is not stopped; the booking is
    #    flagged and Max, whose booking follows, is told.
    clock.set(paris(2026, 3, 7, 15, 1))
    flagged = wait_for(
        lambda: (
            (b := api.client.get(f"/api/v1/bookings/{booking['id']}", headers=staff).json())[
                "overrun_job_id"
            ]
            and b
        ),
        what="the booking flagged",
    )
    assert flagged["overrun_job_id"] == hers["id"]
    warning = wait_for(lambda: next((m for m in seen if m.topic == "booking:overrun"), None))
    assert warning.payload["next_booking_id"] == following["id"]
    assert warning.payload["next_member_id"] == ids["max"]
    assert "n'est pas interrompu" in warning.payload["message"]
    assert job(api, hers["id"])["state"] == "running"
    assert job(api, walk_in["id"])["state"] == "queued"
    events = api.client.get(f"/api/v1/bookings/{booking['id']}/events", headers=mia).json()
    assert [e["action"] for e in events] == ["created", "overrun"]


def test_a_short_job_runs_before_a_booking_and_a_long_one_waits(
    make_api: Callable[..., Api], settings: Settings, tmp_path: Path
) -> None:
    """member_jobs = "queue": a member's job needs no booking of hers, but still never
    runs into someone else's."""
    clock = SetClock(NOW)
    root = cafe_profiles(tmp_path / "cafe", member_jobs="queue")
    api = make_api(settings.model_copy(update={"profiles_dir": root}), clock=clock)
    staff = api.headers("anim", "facilitator")
    ids = api.user_ids
    api.headers("mia", "member")
    api.headers("max", "member")
    desk = Desk(api.ctx.sessions, api.ctx.profiles)
    for who in ("mia", "max"):
        desk.grant(ids[who], "printer", ids["anim"], at=NOW)
    api.client.post("/api/v1/machines/printer/stop", headers=staff)
    r = api.client.post(
        "/api/v1/bookings",
        headers=api.headers("max"),
        json={
            "machine": "printer",
            "starts_at": "2026-03-07T14:00:00+01:00",
            "ends_at": "2026-03-07T16:00:00+01:00",
        },
    )
    assert r.status_code == 201, r.text
    clock.set(paris(2026, 3, 7, 13, 30))
    long_one = submit(api, tiny_gcode(tmp_path, "long.gcode", seconds=3600), machine="printer")
    short = submit(
        api, tiny_gcode(tmp_path, "short.gcode", seconds=1200), "mia", "member", machine="printer"
    )
    assert long_one.status_code == short.status_code == 201
    api.client.post("/api/v1/machines/printer/start", headers=staff)
    wait_for(lambda: job(api, short.json()["id"])["state"] == "running", what="the short job")
    assert job(api, long_one.json()["id"])["state"] == "queued"
