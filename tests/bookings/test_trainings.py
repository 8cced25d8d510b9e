"""Trainings, sessions and authorisations: places, validation, expiry, the "unused for N
months" rule, revocation with a reason, and nothing ever deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fabqueue.models.trainings import SessionCreate, TrainingCreate
from fabqueue.services import trainings
from fabqueue.services.errors import Conflict, Forbidden, Invalid
from fabqueue.services.trainings import add_months, machine_ref, usage_problem
from tests.support.bookings import NOW, PARIS, Cafe, paris


@pytest.mark.parametrize(
    ("at", "months", "expected"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 3, 2, tzinfo=UTC), 12, datetime(2027, 3, 2, tzinfo=UTC)),
        (datetime(2026, 11, 15, tzinfo=UTC), 3, datetime(2027, 2, 15, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2025, 2, 28, tzinfo=UTC)),
    ],
)
def test_add_months(at: datetime, months: int, expected: datetime) -> None:
    assert add_months(at, months) == expected


def _problem(c: Cafe, member: int, machine: str, at: datetime) -> str | None:
    with c.api.ctx.sessions() as s:
        return usage_problem(s, c.desk.user(s, member), machine_ref(s, machine), at, PARIS)


def test_session_places_enrolment_and_validation(cafe: Cafe) -> None:
    with cafe.api.ctx.sessions() as s:
        staff = cafe.desk.user(s, cafe.staff)
        mia = cafe.desk.user(s, cafe.mia)
        t = trainings.create_training(
            s,
            TrainingCreate(name="Impression 3D", machines=["printer"], validity_months=6),
            staff,
            NOW,
        )
        with pytest.raises(Forbidden):
            trainings.create_training(s, TrainingCreate(name="X", kinds=["embroidery"]), mia, NOW)
        with pytest.raises(Invalid):
            trainings.create_training(s, TrainingCreate(name="Y"), staff, NOW)
        assert t.id is not None
        ts = trainings.create_session(
            s,
            t.id,
            SessionCreate(starts_at=paris(2026, 3, 4, 10), ends_at=paris(2026, 3, 4, 12), places=1),
            staff,
            NOW,
        )
        assert ts.id is not None and ts.facilitator_id == cafe.staff
        trainings.enrol(s, ts.id, cafe.mia, mia, NOW)  # she enrols herself
        with pytest.raises(Conflict, match="déjà inscrit"):
            trainings.enrol(s, ts.id, cafe.mia, mia, NOW)
        with pytest.raises(Conflict, match="complète"):
            trainings.enrol(s, ts.id, cafe.max, staff, NOW)
        with pytest.raises(Forbidden):  # a member does not enrol someone else
            trainings.enrol(s, ts.id, cafe.max, mia, NOW)
        with pytest.raises(Conflict, match="not started"):
            trainings.validate(s, ts.id, [cafe.mia], staff, NOW)
        with pytest.raises(Invalid, match="not enrolled"):
            trainings.validate(s, ts.id, [cafe.max], staff, paris(2026, 3, 4, 12))
        (auth,) = trainings.validate(s, ts.id, [cafe.mia], staff, paris(2026, 3, 4, 12))
        assert (auth.machine, auth.label, auth.granted_by) == (
            "printer",
            "Impression 3D",
            cafe.staff,
        )
        assert auth.expires_at == datetime(2026, 9, 4, 11, tzinfo=UTC)  # 6 months on, in UTC
        # Validating twice grants nothing more.
        assert trainings.validate(s, ts.id, [cafe.mia], staff, paris(2026, 3, 4, 13)) == []
    assert _problem(cafe, cafe.mia, "printer", paris(2026, 3, 5, 14)) is None
    assert _problem(cafe, cafe.mia, "printer", paris(2026, 9, 5, 14)) == (
        "votre habilitation « Impression 3D » a expiré le 4 septembre 2026"
    )


def test_unused_authorisation_lapses_and_a_booking_keeps_it(cafe: Cafe) -> None:
    late = paris(2026, 5, 10, 14)
    assert _problem(cafe, cafe.max, "printer", late) is None  # no "unused" rule on his
    auth_id = cafe.desk.grant(cafe.mia, "printer", cafe.staff, at=NOW, unused_months=2)
    assert _problem(cafe, cafe.mia, "printer", paris(2026, 5, 1, 14)) is None
    assert _problem(cafe, cafe.mia, "printer", late) == (
        "votre habilitation « Test printer » a expiré le 2 mai 2026, "
        "faute d'utilisation pendant 2 mois"
    )
    # A booking on the machine counts as use: the two months start again from it.
    cafe.desk.book(cafe.mia, "printer", paris(2026, 3, 28, 10), paris(2026, 3, 28, 11))
    assert _problem(cafe, cafe.mia, "printer", late) is None
    assert _problem(cafe, cafe.mia, "printer", paris(2026, 5, 29, 10)) is not None
    with cafe.api.ctx.sessions() as s:  # lapsed, not revoked: the record is untouched
        assert trainings.authorisations(s, cafe.mia)[0].id == auth_id


def test_revocation_keeps_the_record(cafe: Cafe) -> None:
    api = cafe.api
    staff = api.headers("anim")
    r = api.client.post(
        f"/api/v1/users/{cafe.mia}/authorisations/{cafe.mia_auth}/revoke",
        headers=staff,
        json={"reason": "consignes de sécurité non respectées"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is False
    assert r.json()["why_not"].startswith("votre habilitation « Découpe vinyle » a été retirée")
    again = api.client.post(
        f"/api/v1/users/{cafe.mia}/authorisations/{cafe.mia_auth}/revoke",
        headers=staff,
        json={"reason": "encore"},
    )
    assert again.status_code == 409
    wrong_user = api.client.post(
        f"/api/v1/users/{cafe.max}/authorisations/{cafe.mia_auth}/revoke",
        headers=staff,
        json={"reason": "x"},
    )
    assert wrong_user.status_code == 404
    by_member = api.client.post(
        f"/api/v1/users/{cafe.max}/authorisations",
        headers=api.headers("mia"),
        json={"machine": "printer"},
    )
    assert by_member.status_code == 403
    listed: list[dict[str, Any]] = api.client.get(
        f"/api/v1/users/{cafe.mia}/authorisations", headers=api.headers("mia")
    ).json()
    assert [(a["id"], a["revoked_at"] is not None) for a in listed] == [(cafe.mia_auth, True)]
    assert (
        api.client.get(
            f"/api/v1/users/{cafe.max}/authorisations", headers=api.headers("mia")
        ).status_code
        == 403
    )
    # Staff are authorised on everything, with or without a record.
    assert _problem(cafe, cafe.staff, "printer", NOW) is None


def test_training_api_lists_sessions_with_enrolments(cafe: Cafe) -> None:
    api = cafe.api
    staff = api.headers("anim")
    t = api.client.post(
        "/api/v1/trainings",
        headers=staff,
        json={"name": "Brodeuse", "kinds": ["embroidery"], "unused_months": 6},
    )
    assert t.status_code == 201, t.text
    dup = api.client.post(
        "/api/v1/trainings", headers=staff, json={"name": "Brodeuse", "kinds": ["embroidery"]}
    )
    assert dup.status_code == 409
    bad = api.client.post(
        "/api/v1/trainings", headers=staff, json={"name": "Z", "kinds": ["laser"]}
    )
    assert bad.status_code == 422
    tid = t.json()["id"]
    ts = api.client.post(
        f"/api/v1/trainings/{tid}/sessions",
        headers=staff,
        json={
            "starts_at": "2026-03-04T10:00:00+01:00",
            "ends_at": "2026-03-04T12:00:00+01:00",
            "places": 3,
        },
    ).json()
    r = api.client.post(
        f"/api/v1/trainings/sessions/{ts['id']}/enrolments", headers=api.headers("mia"), json={}
    )
    assert r.status_code == 201 and r.json()["member_id"] == cafe.mia
    sessions = api.client.get(
        f"/api/v1/trainings/{tid}/sessions", headers=api.headers("max")
    ).json()
    assert [(x["places"], [e["member_id"] for e in x["enrolled"]]) for x in sessions] == [
        (3, [cafe.mia])
    ]
    assert [x["name"] for x in api.client.get("/api/v1/trainings", headers=staff).json()] == [
        "Brodeuse"
    ]
