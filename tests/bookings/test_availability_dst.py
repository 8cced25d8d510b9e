"""Free ranges with their reasons, and bookings across both clock changes of 2026
(29 March: 02:00 -> 03:00; 25 October: 03:00 -> 02:00), stored in UTC, shown in Paris time,
and read back from the iCalendar feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from fabqueue.db import SessionFactory
from fabqueue.models.bookings import BlockCreate
from fabqueue.profiles import ProfileSet
from fabqueue.services import bookings
from fabqueue.services.availability import busy_ranges
from fabqueue.services.booking_rules import Refused
from fabqueue.services.hours import Calendar
from tests.support.bookings import NOW, PARIS, Cafe, Desk, paris
from tests.support.factories import make_user


def segments(cafe: Cafe, who: str, machine: str, start: str, end: str, **params: Any) -> Any:
    r = cafe.api.client.get(
        "/api/v1/availability",
        headers=cafe.api.headers(who),
        params={"machine": machine, "from": start, "to": end, **params},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_free_ranges_say_why_the_rest_is_not(cafe: Cafe) -> None:
    cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 15))
    cafe.desk.book(cafe.max, "plotter", paris(2026, 3, 3, 15), paris(2026, 3, 3, 16))
    with cafe.api.ctx.sessions() as s:
        bookings.block(
            s,
            BlockCreate(
                machine="plotter",
                starts_at=paris(2026, 3, 3, 17),
                ends_at=paris(2026, 3, 3, 18),
                reason="atelier flocage",
            ),
            cafe.desk.user(s, cafe.staff),
            NOW,
        )
    got = segments(cafe, "mia", "plotter", "2026-03-03T00:00:00+01:00", "2026-03-04T00:00:00+01:00")
    assert got["timezone"] == "Europe/Paris" and got["authorised"] is True
    rows = [
        (s["starts_local"][11:16], s["ends_local"][11:16], s["status"], s["reason"], s["mine"])
        for s in got["segments"]
    ]
    assert rows == [
        ("00:00", "14:00", "closed", "fermé", False),
        ("14:00", "15:00", "booked", "votre réservation", True),
        ("15:00", "16:00", "booked", "déjà réservé", False),
        ("16:00", "17:00", "free", None, False),
        ("17:00", "18:00", "blocked", "atelier flocage", False),
        ("18:00", "19:00", "free", None, False),
        ("19:00", "00:00", "closed", "fermé", False),
    ]


def test_window_closure_and_authorisation_in_availability(cafe: Cafe) -> None:
    # Friday is the general assembly; the booking window ends on 30 March 09:00.
    fri = segments(cafe, "mia", "plotter", "2026-03-06T13:00:00+01:00", "2026-03-06T15:00:00+01:00")
    assert [(s["status"], s["reason"]) for s in fri["segments"]] == [
        ("closed", "assemblée générale")
    ]
    far = segments(cafe, "mia", "plotter", "2026-03-30T08:00:00+02:00", "2026-03-30T10:00:00+02:00")
    assert [(s["status"], s["reason"], s["ends_local"][11:16]) for s in far["segments"]] == [
        ("closed", "fermé", "10:00")  # Monday: closed beats beyond the window
    ]
    sat = segments(cafe, "mia", "plotter", "2026-03-28T08:00:00+01:00", "2026-03-28T10:00:00+01:00")
    assert [s["status"] for s in sat["segments"]] == ["free"]
    soon = segments(
        cafe, "mia", "plotter", "2026-03-03T13:00:00+01:00", "2026-03-03T15:00:00+01:00"
    )
    assert [s["status"] for s in soon["segments"]] == ["closed", "free"]
    printer = segments(
        cafe, "mia", "printer", "2026-03-03T14:00:00+01:00", "2026-03-03T15:00:00+01:00"
    )
    assert printer["authorised"] is False
    assert "pas d'habilitation" in printer["why_not"]
    # Staff may ask for a member; a member may not ask for another.
    as_staff = segments(
        cafe,
        "anim",
        "plotter",
        "2026-03-03T14:00:00+01:00",
        "2026-03-03T15:00:00+01:00",
        member=cafe.max,
    )
    assert as_staff["member_id"] == cafe.max
    r = cafe.api.client.get(
        "/api/v1/availability",
        headers=cafe.api.headers("mia"),
        params={
            "machine": "plotter",
            "from": "2026-03-03T14:00Z",
            "to": "2026-03-03T15:00Z",
            "member": cafe.max,
        },
    )
    assert r.status_code == 403
    bad = cafe.api.client.get(
        "/api/v1/availability",
        headers=cafe.api.headers("mia"),
        params={"machine": "plotter", "from": "2026-03-03T15:00Z", "to": "2026-03-03T14:00Z"},
    )
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("day", "hours"),
    [((2026, 3, 29), 23), ((2026, 10, 25), 25), ((2026, 3, 28), 24)],
    ids=["spring forward", "fall back", "ordinary Saturday"],
)
def test_a_local_day_has_its_real_length(cafe: Cafe, day: tuple[int, int, int], hours: int) -> None:
    cal = bookings.calendar_for(cafe.api.ctx.profiles, "printer")
    start = paris(*day, 0)
    end = (datetime(*day, tzinfo=PARIS) + timedelta(days=1)).replace(tzinfo=None)
    end_utc = end.replace(tzinfo=PARIS).astimezone(UTC)
    ranges = cal.open_ranges(start, end_utc)
    assert ranges == [(start, end_utc)]
    assert end_utc - start == timedelta(hours=hours)
    assert isinstance(cal, Calendar)


# (now, local start, local end, real length or the refusal)
DST_CASES = [
    ("spring: 23:00-03:00 is 3 h", (3, 2, 9), (3, 28, 23), (3, 29, 3), timedelta(hours=3)),
    ("spring: 00:00-04:30 is 3 h 30", (3, 2, 9), (3, 29, 0), (3, 29, 4, 30), timedelta(hours=3.5)),
    ("autumn: 00:00-03:00 is 4 h", (10, 19, 9), (10, 25, 0), (10, 25, 3), timedelta(hours=4)),
    (
        "autumn: 23:00-03:00 is 5 h, over the 4 h limit",
        (10, 19, 9),
        (10, 24, 23),
        (10, 25, 3),
        "une réservation dure au plus 4 h",
    ),
]


@pytest.mark.parametrize(
    ("name", "now", "start", "end", "outcome"), DST_CASES, ids=[c[0] for c in DST_CASES]
)
def test_bookings_across_a_clock_change(
    cafe: Cafe, name: str, now: Any, start: Any, end: Any, outcome: Any
) -> None:
    s, e, at = paris(2026, *start), paris(2026, *end), paris(2026, *now)
    if isinstance(outcome, str):
        with pytest.raises(Refused, match=outcome):
            cafe.desk.book(cafe.max, "printer", s, e, now=at)
        return
    b = cafe.desk.book(cafe.max, "printer", s, e, now=at)
    assert b.ends_at - b.starts_at == outcome
    # Stored in UTC, shown in Paris time with the offset of each side of the change.
    cafe.clock._start = at  # the API's clock says "now" for the window
    shown = cafe.api.client.get(f"/api/v1/bookings/{b.id}", headers=cafe.api.headers("max")).json()
    assert shown["starts_local"] == datetime(2026, *start, tzinfo=PARIS).isoformat()
    assert shown["ends_local"] == datetime(2026, *end, tzinfo=PARIS).isoformat()
    assert shown["starts_local"][-6:] != shown["ends_local"][-6:]  # one offset each side


def _feed(cafe: Cafe, who: str, **body: Any) -> str:
    r = cafe.api.client.post("/api/v1/calendars", headers=cafe.api.headers(who), json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["url"])


def _events(cafe: Cafe, url: str) -> list[Any]:
    r = cafe.api.client.get(url)  # no token header: the address is the secret
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.content)
    assert cal["version"] == "2.0" and "VTIMEZONE" in r.text
    return sorted(cal.walk("VEVENT"), key=lambda e: e["dtstart"].dt)


def test_ical_feeds_parse_back_across_the_spring_change(cafe: Cafe) -> None:
    spring = cafe.desk.book(cafe.max, "printer", paris(2026, 3, 28, 23), paris(2026, 3, 29, 3))
    cafe.desk.book(cafe.mia, "plotter", paris(2026, 3, 3, 14), paris(2026, 3, 3, 15))
    mine = _events(cafe, _feed(cafe, "max", member_id=cafe.max))
    assert [str(e["summary"]) for e in mine] == ["Réservation printer"]
    ev = mine[0]
    start, end = ev["dtstart"].dt, ev["dtend"].dt
    assert str(start.tzinfo) == "Europe/Paris"
    assert (start.hour, end.hour) == (23, 3)
    # Same tzinfo on both sides: Python subtracts wall clocks; real time is in UTC.
    assert end - start == timedelta(hours=4)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=3)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (spring.starts_at, spring.ends_at)
    assert str(ev["uid"]) == f"booking-{spring.id}@fabqueue"

    machine_url = _feed(cafe, "mia", machine="plotter")
    busy = _events(cafe, machine_url)
    assert [str(e["summary"]) for e in busy] == ["Réservé"]  # never who
    assert "mia" not in cafe.api.client.get(machine_url).text


def test_ical_feed_across_the_autumn_change_and_revocation(cafe: Cafe) -> None:
    cafe.clock._start = paris(2026, 10, 19, 9)
    b = cafe.desk.book(
        cafe.max,
        "printer",
        paris(2026, 10, 25, 0),
        paris(2026, 10, 25, 3),
        now=paris(2026, 10, 19, 9),
    )
    r = cafe.api.client.post(
        "/api/v1/calendars", headers=cafe.api.headers("max"), json={"member_id": cafe.max}
    )
    url, feed_id = r.json()["url"], r.json()["id"]
    (ev,) = _events(cafe, url)
    start, end = ev["dtstart"].dt, ev["dtend"].dt
    assert (start.hour, end.hour) == (0, 3)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=4)
    assert start.utcoffset() == timedelta(hours=2) and end.utcoffset() == timedelta(hours=1)
    assert end.astimezone(UTC) == b.ends_at
    # Someone else's feed: members may not; revoking ends the feed.
    other = cafe.api.client.post(
        "/api/v1/calendars", headers=cafe.api.headers("mia"), json={"member_id": cafe.max}
    )
    assert other.status_code == 403
    gone = cafe.api.client.post(
        f"/api/v1/calendars/{feed_id}/revoke", headers=cafe.api.headers("max")
    )
    assert gone.status_code == 204
    assert cafe.api.client.get(url).status_code == 404


def test_busy_ranges_read_back_in_utc_on_both_databases(
    db: tuple[SessionFactory, ProfileSet],
) -> None:
    sessions, profiles = db
    uid, _ = make_user(sessions, "ana", "facilitator")
    desk = Desk(sessions, profiles)
    b = desk.book(uid, "printer", paris(2026, 3, 28, 23), paris(2026, 3, 29, 3))
    with sessions() as s:
        (busy,) = busy_ranges(s, "printer", paris(2026, 3, 28, 0), paris(2026, 3, 30, 0))
    assert busy.range == (b.starts_at, b.ends_at)
    assert busy.range[0].tzinfo is not None and busy.owner_id == uid
