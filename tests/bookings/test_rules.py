"""Every booking rule, one row each: what is refused, with which rule and which words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.models import BookingEvent
from fabqueue.models.bookings import BlockCreate
from fabqueue.services import bookings
from fabqueue.services.booking_rules import Refused
from fabqueue.services.errors import Conflict
from tests.support.bookings import NOW, Cafe, paris

Setup = Callable[[Cafe], Any]


def nothing(_: Cafe) -> None:
    return None


def max_books_tuesday(c: Cafe) -> None:
    c.desk.book(c.max, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 15))


def block_thursday(c: Cafe) -> None:
    with c.api.ctx.sessions() as s:
        bookings.block(
            s,
            BlockCreate(
                machine="plotter",
                starts_at=paris(2026, 3, 5, 14),
                ends_at=paris(2026, 3, 5, 16),
                reason="changement de lame",
            ),
            c.desk.user(s, c.staff),
            NOW,
        )


def mia_books_six_hours(c: Cafe) -> None:
    c.desk.book(c.mia, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 18))
    c.desk.book(c.mia, "plotter", paris(2026, 3, 5, 14), paris(2026, 3, 5, 16))


def expired_authorisation(c: Cafe) -> None:
    with c.api.ctx.sessions() as s:
        from fabqueue.services import trainings

        trainings.revoke(s, c.mia_auth, "remplacée", c.desk.user(s, c.staff), NOW)
    c.desk.grant(c.mia, "plotter", c.staff, at=NOW, expires_at=paris(2026, 3, 3, 12))


def revoked(c: Cafe) -> None:
    with c.api.ctx.sessions() as s:
        from fabqueue.services import trainings

        trainings.revoke(s, c.mia_auth, "lame cassée deux fois", c.desk.user(s, c.staff), NOW)


# (name, setup, who, machine, start, end, now, rule, words, status)
CASES: list[tuple[str, Setup, str, str, Any, Any, Any, str | None, str, int]] = [
    ("accepted", nothing, "mia", "plotter", (3, 3, 14), (3, 3, 15), NOW, None, "", 0),
    (
        "off the slot grid",
        nothing,
        "mia",
        "plotter",
        (3, 3, 14, 10),
        (3, 3, 15, 10),
        NOW,
        "shape",
        "par pas de 30 min",
        422,
    ),
    (
        "ends before it starts",
        nothing,
        "mia",
        "plotter",
        (3, 3, 15),
        (3, 3, 14),
        NOW,
        "shape",
        "la fin de la réservation doit venir après son début",
        422,
    ),
    (
        "too long",
        nothing,
        "mia",
        "plotter",
        (3, 3, 14),
        (3, 3, 18, 30),
        NOW,
        "shape",
        "une réservation dure au plus 4 h",
        422,
    ),
    (
        "no authorisation on this machine",
        nothing,
        "mia",
        "printer",
        (3, 3, 14),
        (3, 3, 15),
        NOW,
        "authorisation",
        "vous n'avez pas d'habilitation pour « Test printer »",
        403,
    ),
    (
        "authorisation expired before the booking",
        expired_authorisation,
        "mia",
        "plotter",
        (3, 3, 14),
        (3, 3, 15),
        NOW,
        "authorisation",
        "votre habilitation « Découpe vinyle » a expiré le 3 mars 2026",
        403,
    ),
    (
        "authorisation revoked",
        revoked,
        "mia",
        "plotter",
        (3, 3, 14),
        (3, 3, 15),
        NOW,
        "authorisation",
        "votre habilitation « Découpe vinyle » a été retirée le 2 mars 2026 "
        "(lame cassée deux fois)",
        403,
    ),
    (
        "last minute",
        nothing,
        "mia",
        "plotter",
        (3, 3, 14),
        (3, 3, 15),
        paris(2026, 3, 3, 13, 30),
        "window",
        "on réserve au plus tard 1 h avant le début du créneau",
        422,
    ),
    (
        "already past",
        nothing,
        "mia",
        "plotter",
        (3, 3, 14),
        (3, 3, 15),
        paris(2026, 3, 3, 16),
        "window",
        "ce créneau est déjà passé",
        422,
    ),
    (
        "too far ahead",
        nothing,
        "mia",
        "plotter",
        (3, 31, 14),
        (3, 31, 15),
        NOW,
        "window",
        "on réserve au plus 28 jours à l'avance",
        422,
    ),
    (
        "café closed on Mondays",
        nothing,
        "mia",
        "plotter",
        (3, 2, 14),
        (3, 2, 15),
        NOW,
        "hours",
        "n'est pas disponible le 2 mars 2026 de 14:00 à 15:00",
        422,
    ),
    (
        "machine's own hours are narrower",
        nothing,
        "mia",
        "plotter",
        (3, 4, 10),
        (3, 4, 11),
        NOW,
        "hours",
        "en dehors des heures d'ouverture",
        422,
    ),
    (
        "runs past closing time",
        nothing,
        "mia",
        "plotter",
        (3, 3, 18),
        (3, 3, 19, 30),
        NOW,
        "hours",
        "en dehors des heures d'ouverture",
        422,
    ),
    (
        "closure",
        nothing,
        "mia",
        "plotter",
        (3, 6, 14),
        (3, 6, 15),
        NOW,
        "hours",
        "le café est fermé le 6 mars 2026 de 14:00 à 15:00 (assemblée générale)",
        422,
    ),
    (
        "blocked by staff",
        block_thursday,
        "mia",
        "plotter",
        (3, 5, 15),
        (3, 5, 17),
        NOW,
        "blocked",
        "réservée par l'équipe le 5 mars 2026 de 14:00 à 16:00 (changement de lame)",
        409,
    ),
    (
        "machine already booked",
        max_books_tuesday,
        "mia",
        "plotter",
        (3, 3, 14, 30),
        (3, 3, 15, 30),
        NOW,
        "machine_overlap",
        "« Découpe vinyle » est déjà réservée le 3 mars 2026 de 14:00 à 15:00",
        409,
    ),
    (
        "touching bookings do not overlap",
        max_books_tuesday,
        "mia",
        "plotter",
        (3, 3, 15),
        (3, 3, 16),
        NOW,
        None,
        "",
        0,
    ),
    (
        "member already booked elsewhere",
        max_books_tuesday,
        "max",
        "printer",
        (3, 3, 14, 30),
        (3, 3, 15, 30),
        NOW,
        "member_overlap",
        "vous avez déjà une réservation le 3 mars 2026 de 14:00 à 15:00",
        409,
    ),
    (
        "weekly limit",
        mia_books_six_hours,
        "mia",
        "plotter",
        (3, 7, 10),
        (3, 7, 10, 30),
        NOW,
        "weekly_limit",
        "vous pouvez réserver 6 h par semaine ; il vous en reste 0 min",
        422,
    ),
    (
        "weekly limit counts the week of the booking",
        mia_books_six_hours,
        "mia",
        "plotter",
        (3, 10, 14),
        (3, 10, 16),
        NOW,
        None,
        "",
        0,
    ),
]


@pytest.mark.parametrize(
    ("name", "setup", "who", "machine", "start", "end", "now", "rule", "words", "status"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_rule(
    cafe: Cafe,
    name: str,
    setup: Setup,
    who: str,
    machine: str,
    start: tuple[int, ...],
    end: tuple[int, ...],
    now: Any,
    rule: str | None,
    words: str,
    status: int,
) -> None:
    setup(cafe)
    member = cafe.mia if who == "mia" else cafe.max
    s, e = paris(2026, *start), paris(2026, *end)
    if rule is None:
        b = cafe.desk.book(member, machine, s, e, now=now)
        assert (b.starts_at, b.ends_at, b.member_id) == (s, e, member)
        return
    with pytest.raises(Refused) as err:
        cafe.desk.book(member, machine, s, e, now=now)
    assert err.value.extra["rule"] == rule
    assert words in err.value.message
    assert err.value.status_code == status


def test_staff_are_held_to_hours_not_to_limits(cafe: Cafe) -> None:
    # Five hours, one hour before start, for a member: staff may.
    b = cafe.desk.book(
        cafe.mia,
        "plotter",
        paris(2026, 3, 7, 9),
        paris(2026, 3, 7, 14),
        now=paris(2026, 3, 7, 8),
        by=cafe.staff,
    )
    assert b.created_by == cafe.staff and b.member_id == cafe.mia
    # A member walks in at 15:20: staff book the slot under way, not one already over.
    under_way = cafe.desk.book(
        cafe.max,
        "plotter",
        paris(2026, 3, 7, 15),
        paris(2026, 3, 7, 16),
        now=paris(2026, 3, 7, 15, 20),
        by=cafe.staff,
    )
    assert under_way.starts_at == paris(2026, 3, 7, 15)
    with pytest.raises(Refused, match="au plus 24 h ; pour plus, l'équipe bloque la machine"):
        cafe.desk.book(
            cafe.max,
            "plotter",
            paris(2026, 3, 7, 16),
            paris(2026, 3, 8, 16, 30),
            by=cafe.staff,
        )
    with pytest.raises(Refused, match="ce créneau est déjà passé"):
        cafe.desk.book(
            cafe.max,
            "plotter",
            paris(2026, 3, 7, 16),
            paris(2026, 3, 7, 17),
            now=paris(2026, 3, 7, 17),
            by=cafe.staff,
        )
    with pytest.raises(Refused) as err:
        cafe.desk.book(
            cafe.mia, "plotter", paris(2026, 3, 2, 14), paris(2026, 3, 2, 15), by=cafe.staff
        )
    assert err.value.extra["rule"] == "hours"


def test_a_member_cannot_book_for_someone_else(cafe: Cafe) -> None:
    with pytest.raises(Exception, match="seule l'équipe"):
        cafe.desk.book(
            cafe.max, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 15), by=cafe.mia
        )


def _act(c: Cafe, fn: Callable[..., Any], *args: Any) -> Any:
    with c.api.ctx.sessions() as s:
        return fn(s, *args)


def test_move_and_cancel_keep_history_and_deadlines(cafe: Cafe) -> None:
    b = cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 5, 14), paris(2026, 3, 5, 15))
    profiles = cafe.api.ctx.profiles

    def move(by: int, now: Any, start: Any, end: Any) -> Any:
        return _act(
            cafe,
            lambda s: bookings.move(s, profiles, b.id, start, end, cafe.desk.user(s, by), now),
        )

    moved = move(cafe.mia, NOW, paris(2026, 3, 5, 16), paris(2026, 3, 5, 17))
    assert moved.starts_at == paris(2026, 3, 5, 16)
    # Less than 24 h before: the member may not, staff may.
    late = paris(2026, 3, 4, 18)
    with pytest.raises(Refused) as err:
        move(cafe.mia, late, paris(2026, 3, 5, 17), paris(2026, 3, 5, 18))
    assert err.value.extra["rule"] == "change_deadline"
    assert "jusqu'à 24 h avant son début" in err.value.message
    with pytest.raises(Refused):
        _act(
            cafe,
            lambda s: bookings.cancel(s, profiles, b.id, cafe.desk.user(s, cafe.mia), late),
        )
    move(cafe.staff, late, paris(2026, 3, 5, 17), paris(2026, 3, 5, 18))
    cancelled = _act(
        cafe,
        lambda s: bookings.cancel(s, profiles, b.id, cafe.desk.user(s, cafe.staff), late, "panne"),
    )
    assert cancelled.cancelled_at == late and cancelled.cancelled_by == cafe.staff
    with pytest.raises(Conflict):
        _act(
            cafe,
            lambda s: bookings.cancel(s, profiles, b.id, cafe.desk.user(s, cafe.staff), late),
        )
    with cafe.api.ctx.sessions() as s:
        events = bookings.history(s, b.id, cafe.desk.user(s, cafe.staff))
        assert [(e.action.value, e.actor) for e in events] == [
            ("created", f"user:{cafe.mia}"),
            ("moved", f"user:{cafe.mia}"),
            ("moved", f"user:{cafe.staff}"),
            ("cancelled", f"user:{cafe.staff}"),
        ]
        assert events[1].reason == "était le 5 mars 2026 de 14:00 à 15:00"
        assert events[3].reason == "panne"
    # The freed slot can be booked again, by someone else.
    again = cafe.desk.book(cafe.max, "plotter", paris(2026, 3, 5, 17), paris(2026, 3, 5, 18))
    assert again.id != b.id
    with cafe.api.ctx.sessions() as s:
        assert s.get(type(b), b.id) is not None  # never deleted
        assert len(list(s.exec(select(BookingEvent)))) == 5


def test_moving_into_own_slot_does_not_collide_with_itself(cafe: Cafe) -> None:
    b = cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 5, 14), paris(2026, 3, 5, 16))
    profiles = cafe.api.ctx.profiles
    moved = _act(
        cafe,
        lambda s: bookings.move(
            s,
            profiles,
            b.id,
            paris(2026, 3, 5, 15),
            paris(2026, 3, 5, 17),
            cafe.desk.user(s, cafe.mia),
            NOW,
        ),
    )
    assert moved.ends_at == paris(2026, 3, 5, 17)


def test_no_show_is_staff_only_and_after_the_start(cafe: Cafe) -> None:
    b = cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 5, 14), paris(2026, 3, 5, 15))
    with pytest.raises(Exception, match="réservé à l'équipe"):
        _act(cafe, lambda s: bookings.no_show(s, b.id, cafe.desk.user(s, cafe.mia), NOW))
    with pytest.raises(Conflict):
        _act(cafe, lambda s: bookings.no_show(s, b.id, cafe.desk.user(s, cafe.staff), NOW))
    after = paris(2026, 3, 5, 14, 20)
    done = _act(cafe, lambda s: bookings.no_show(s, b.id, cafe.desk.user(s, cafe.staff), after))
    assert done.no_show_at == after


def test_refusals_over_the_api_are_4xx_in_french(cafe: Cafe) -> None:
    api = cafe.api
    h = api.headers("mia", "member")
    r = api.client.post(
        "/api/v1/bookings",
        headers=h,
        json={
            "machine": "printer",
            "starts_at": "2026-03-03T14:00:00+01:00",
            "ends_at": "2026-03-03T15:00:00+01:00",
        },
    )
    assert r.status_code == 403
    assert r.json() == {
        "detail": "vous n'avez pas d'habilitation pour « Test printer » : "
        "inscrivez-vous à une formation",
        "rule": "authorisation",
    }
    ok = api.client.post(
        "/api/v1/bookings",
        headers=h,
        json={
            "machine": "plotter",
            "starts_at": "2026-03-03T14:00:00+01:00",
            "ends_at": "2026-03-03T15:00:00+01:00",
        },
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["starts_local"] == "2026-03-03T14:00:00+01:00"
    naive = api.client.post(
        "/api/v1/bookings",
        headers=h,
        json={"machine": "plotter", "starts_at": "2026-03-03T16:00", "ends_at": "2026-03-03T17:00"},
    )
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    unknown = api.client.post(
        "/api/v1/bookings",
        headers=h,
        json={"machine": "nope", "starts_at": "2026-03-03T16:00Z", "ends_at": "2026-03-03T17:00Z"},
    )
    assert unknown.status_code == 404


def test_members_see_busy_ranges_not_who(cafe: Cafe) -> None:
    api = cafe.api
    mine = cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 15))
    cafe.desk.book(cafe.max, "plotter", paris(2026, 3, 3, 15), paris(2026, 3, 3, 16))
    h = api.headers("mia", "member")
    own = api.client.get("/api/v1/bookings", headers=h).json()
    assert [b["id"] for b in own] == [mine.id]
    busy = api.client.get("/api/v1/bookings", headers=h, params={"machine": "plotter"}).json()
    assert [(b["mine"], b["member_id"]) for b in busy] == [(True, cafe.mia), (False, None)]
    assert (
        api.client.get("/api/v1/bookings", headers=h, params={"member": cafe.max}).status_code
        == 403
    )
    staff = api.client.get("/api/v1/bookings", headers=api.headers("anim")).json()
    assert {b["member_id"] for b in staff} == {cafe.mia, cafe.max}
    other = api.client.get(f"/api/v1/bookings/{busy[1]['id']}", headers=h)
    assert other.status_code == 403


def test_block_refuses_over_bookings(cafe: Cafe) -> None:
    cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 15))
    r = cafe.api.client.post(
        "/api/v1/blocked-times",
        headers=cafe.api.headers("anim"),
        json={
            "machine": "plotter",
            "starts_at": "2026-03-03T13:00:00+01:00",
            "ends_at": "2026-03-03T18:00:00+01:00",
            "reason": "atelier",
        },
    )
    assert r.status_code == 409 and len(r.json()["bookings"]) == 1
    member = cafe.api.client.post(
        "/api/v1/blocked-times",
        headers=cafe.api.headers("mia", "member"),
        json={
            "machine": "plotter",
            "starts_at": "2026-03-04T13:00:00+01:00",
            "ends_at": "2026-03-04T18:00:00+01:00",
            "reason": "moi",
        },
    )
    assert member.status_code == 403
    staff = cafe.api.headers("anim")
    ok = cafe.api.client.post(
        "/api/v1/blocked-times",
        headers=staff,
        json={
            "machine": "plotter",
            "starts_at": "2026-03-04T14:00:00+01:00",
            "ends_at": "2026-03-04T16:00:00+01:00",
            "reason": "atelier",
        },
    )
    assert ok.status_code == 201, ok.text
    listed = cafe.api.client.get(
        "/api/v1/blocked-times", headers=cafe.api.headers("mia"), params={"machine": "plotter"}
    ).json()
    assert [(b["id"], b["reason"]) for b in listed] == [(ok.json()["id"], "atelier")]
    gone = cafe.api.client.post(f"/api/v1/blocked-times/{ok.json()['id']}/cancel", headers=staff)
    assert gone.json()["cancelled_at"] is not None
    assert cafe.api.client.get("/api/v1/blocked-times", headers=staff).json() == []
