"""A café with opening hours and a booking policy, members, and helpers to book."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fabqueue.clock import FakeClock
from fabqueue.db import SessionFactory
from fabqueue.models import Booking, User
from fabqueue.models.bookings import BookingCreate
from fabqueue.profiles import ProfileSet
from fabqueue.services import bookings, trainings
from tests.conftest import Api
from tests.support.factories import sim_printer, write_profiles

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS).astimezone(UTC)
"""Monday 2 March 2026, 09:00 in Paris: the café opens Tuesday afternoon."""

SITE = """
schema_version = 1
name = "Café test"
legal_form = "Association loi 1901"
address = ["1 rue du Test", "69003 Lyon"]
siret = "81234567600017"
vat_regime = "association_exempt"
timezone = "Europe/Paris"

[booking]
slot_minutes = 30
min_minutes = 30
max_minutes = 240
days_ahead = 28
max_hours_per_week = 6
last_minute_minutes = 60
change_hours = 24
member_jobs = "{member_jobs}"

[booking.hours]
tuesday = ["14:00-19:00"]
wednesday = ["10:00-12:30", "14:00-19:00"]
thursday = ["14:00-19:00"]
friday = ["14:00-19:00"]
saturday = ["00:00-24:00"]
sunday = ["00:00-24:00"]

[[booking.closures]]
start = 2026-03-06
end = 2026-03-06
reason = "assemblée générale"

[privacy]
file_retention_days = 30
"""

PLOTTER = """
name = "Découpe vinyle"
kind = "vinyl_cutter"
[driver]
type = "sim"
speed = 3600.0
tick_s = 0.05
default_duration_s = 300
[cutter]
roll_width_mm = 610
[booking.hours]
tuesday = ["14:00-19:00"]
wednesday = ["14:00-18:00"]
thursday = ["14:00-19:00"]
friday = ["14:00-19:00"]
saturday = ["00:00-24:00"]
sunday = ["00:00-24:00"]
"""


def cafe_profiles(
    root: Path, *, member_jobs: str = "during_booking", printer_speed: float = 3600.0
) -> Path:
    """A printer and a plotter (« Découpe vinyle », closed Wednesday morning)."""
    write_profiles(
        root,
        {
            "printer": sim_printer(speed=printer_speed),
            "plotter": PLOTTER,
        },
    )
    (root / "site.toml").write_text(textwrap.dedent(SITE.format(member_jobs=member_jobs)))
    return root


def paris(*args: int) -> datetime:
    """A Paris wall-clock time, as UTC."""
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)  # type: ignore[misc]


class Desk:
    """Calls the booking services the way the API does, one session each."""

    def __init__(self, sessions: SessionFactory, profiles: ProfileSet) -> None:
        self.sessions = sessions
        self.profiles = profiles

    def user(self, session: Any, user_id: int) -> User:
        user = session.get(User, user_id)
        assert user is not None
        return user

    def book(
        self,
        who: int,
        machine: str,
        start: datetime,
        end: datetime,
        *,
        now: datetime = NOW,
        by: int | None = None,
    ) -> Booking:
        with self.sessions() as s:
            return bookings.create(
                s,
                self.profiles,
                BookingCreate(machine=machine, starts_at=start, ends_at=end, member_id=who),
                self.user(s, by or who),
                now,
            )

    def grant(self, member: int, machine: str, staff: int, **kw: Any) -> int:
        with self.sessions() as s:
            auth = trainings.grant(
                s, member_id=member, machine=machine, by=self.user(s, staff), **kw
            )
            assert auth.id is not None
            return auth.id


class SetClock(FakeClock):
    """A fake clock a test moves straight to a time: what runs on it (the sim machines'
    progress) stands still, which keeps a started job running for as long as needed."""

    def set(self, at: datetime) -> None:
        self._elapsed = (at - self._start).total_seconds()


def authorise(api: Any, name: str, machine: str) -> None:
    """Make ``name`` a member authorised on ``machine`` (a slug or a kind), through the API."""
    api.token(name, "member")
    r = api.client.post(
        f"/api/v1/users/{api.user_ids[name]}/authorisations",
        headers=api.headers(),
        json={"machine": machine},
    )
    assert r.status_code == 201, r.text


@dataclass
class Cafe:
    api: Api
    desk: Desk
    clock: FakeClock
    staff: int
    mia: int
    """A member, authorised on the plotter (grant at NOW, no expiry)."""
    max: int
    """Another member, authorised on the plotter and the printer."""
    mia_auth: int
