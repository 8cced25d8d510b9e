"""A generated year of café activity (fixed seed) and the figures it must give.

Rows are written straight into the tables (bulk inserts: the benchmark writes 50,000
jobs), the way the services leave them: claims by ``machine:<slug>``, the operator's
« bad » judgement as a requeue event, bookings with their cancellations and no-shows.
While generating, a :class:`Ledger` counts what each row adds, by plain arithmetic
on the generated numbers, independently of ``fabqueue.reports``.
"""

from __future__ import annotations

import random
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlmodel import col, select

from fabqueue.db import SessionFactory, make_engine, make_session_factory, session_scope
from fabqueue.models import (
    Authorisation,
    Booking,
    Enrolment,
    Job,
    JobEvent,
    Organisation,
    Quote,
    StoredFile,
    Training,
    TrainingSession,
    User,
)
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.reports import figures, period, service
from fabqueue.reports.service import Report
from tests.support.factories import sim_printer, write_profiles

PARIS = ZoneInfo("Europe/Paris")
YEAR = 2026
NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
SHA = "a" * 64

SITE = """
schema_version = 1
name = "Café des Pentes"
legal_form = "Association loi 1901"
address = ["12 rue des Tisserands", "69001 Lyon"]
siret = "81234567600017"
vat_regime = "association_exempt"
timezone = "Europe/Paris"

[booking.hours]
tuesday = ["14:00-18:00"]
wednesday = ["14:00-18:00"]
thursday = ["14:00-18:00"]
friday = ["14:00-18:00"]
saturday = ["14:00-18:00"]
"""
OPEN_HOURS_2026 = 261 * 4
"""2026 starts and ends on a Thursday: 52 weeks × 5 open days + 1 Thursday, 4 h each."""

PLOTTER = """
name = "Découpe vinyle"
kind = "vinyl_cutter"
power_running_w = 40.0
[driver]
type = "sim"
speed = 3600.0
default_duration_s = 300
[cutter]
roll_width_mm = 610
"""

BRODEUSE = """
name = "Brodeuse"
kind = "embroidery"
power_running_w = 90.0
[driver]
type = "sim"
speed = 3600.0
default_duration_s = 1200
[embroidery]
native_format = "pes"
format_version = "1"
needles = 1
hoops = [{ name = "100", width_mm = 100, height_mm = 100 }]
"""

MACHINES = {
    "printer": "fdm_printer",
    "printer2": "fdm_printer",
    "plotter": "vinyl_cutter",
    "brodeuse": "embroidery",
}
POWER = {"printer": (250.0, 110.0), "plotter": (0.0, 40.0), "brodeuse": (0.0, 90.0)}
"""printer2 has no power figures: left out of the energy estimate."""
MATERIAL = {"fdm_printer": "pla-noir", "vinyl_cutter": "vinyle-noir", "embroidery": "fil"}


def write_cafe(root: Path) -> Path:
    write_profiles(
        root,
        {
            "printer": sim_printer(top="power_heatup_w = 250.0\npower_running_w = 110.0"),
            "printer2": sim_printer(),
            "plotter": PLOTTER,
            "brodeuse": BRODEUSE,
        },
    )
    (root / "site.toml").write_text(textwrap.dedent(SITE))
    return root


@dataclass
class Ledger:
    """What the report of YEAR must say, counted while generating."""

    by_machine: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_month: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    members: set[int] = field(default_factory=set)
    clients: set[int] = field(default_factory=set)
    organisations: set[int] = field(default_factory=set)
    walk_ins: int = 0
    bookings: Counter[str] = field(default_factory=Counter)
    quotes: Counter[str] = field(default_factory=Counter)
    quotes_ht: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    sessions: int = 0
    trained: set[int] = field(default_factory=set)
    authorisations: int = 0
    material: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """quantity → used, wasted (in the analysis' units: g, mm², m), integers."""
    wh: Counter[str] = field(default_factory=Counter)
    """machine → watt-hours × 3600 (watt-seconds), integers."""


def _in_year(at: datetime) -> bool:
    local = at.astimezone(PARIS)
    return local.year == YEAR


def _month(at: datetime) -> str:
    local = at.astimezone(PARIS)
    return f"{local.year}-{local.month:02d}"


@dataclass
class Generator:
    rng: random.Random
    ledger: Ledger
    users: dict[str, list[int]]
    jobs: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    next_job: int = 1
    padding: dict[str, Any] = field(default_factory=dict)
    """Extra analysis details, as big as a real G-code analysis's (benchmark)."""

    def instant(self, *, margin_days: int = 20) -> datetime:
        """A time in YEAR, or up to ``margin_days`` either side (to test the edges)."""
        start = datetime(YEAR, 1, 1, tzinfo=PARIS) - timedelta(days=margin_days)
        span = (365 + 2 * margin_days) * 86400
        return (start + timedelta(seconds=self.rng.randrange(span))).astimezone(UTC)

    def analysis(self, kind: str) -> tuple[dict[str, Any], dict[str, int]]:
        """An analysis and its quantities (integers, so the ledger's sums are exact)."""
        r = self.rng
        duration = r.randrange(600, 7200)
        if kind == "fdm_printer":
            q = {"filament_g": r.randrange(5, 200), "heatup_s": 120, "purge_g": 0}
            details: dict[str, Any] = {"heatup_s": 120}
            if r.random() < 0.5:
                q["purge_g"] = 1
                details["purge_g"] = 1
            return {
                "duration_s": duration,
                "material": {"filament_g": q["filament_g"]},
                "details": details,
            }, {**q, "duration_s": duration}
        if kind == "vinyl_cutter":
            area = r.randrange(10_000, 400_000)
            design = area - r.randrange(1_000, 9_000)
            return {
                "duration_s": duration,
                "material": {"vinyl_area_mm2": area},
                "details": {"design_area_mm2": design},
            }, {"vinyl_mm2": area, "offcut_mm2": area - design, "duration_s": duration}
        thread = r.randrange(20, 400)
        return {"duration_s": duration, "material": {"thread_m": thread}}, {
            "thread_m": thread,
            "duration_s": duration,
        }

    def add_job(self) -> None:
        r = self.rng
        jid = self.next_job
        self.next_job += 1
        machine = r.choice(sorted(MACHINES))
        kind = MACHINES[machine]
        analysis, q = self.analysis(kind)
        if self.padding:
            analysis["details"] = {**self.padding, **analysis.get("details", {})}
        owner = r.choice(self.users["member"] + self.users["client"])
        closed = self.instant()
        roll = r.random()
        state = "succeeded" if roll < 0.75 else "failed" if roll < 0.88 else "cancelled"
        actual = None
        progress = None
        ran_on: str | None = machine
        if state == "succeeded":
            actual = q["duration_s"] + r.randrange(-120, 600)
        elif state == "failed":
            progress = r.choice([0.25, 0.5, 0.75])
        elif r.random() < 0.5:
            ran_on = None  # cancelled before any machine took it
        started = closed - timedelta(seconds=q["duration_s"] + 900)
        self.jobs.append(
            {
                "id": jid,
                "kind": kind,
                "machine": ran_on,
                "target_machine": None,
                "material": MATERIAL[kind],
                "copies": 1,
                "priority": 0,
                "owner_id": owner,
                "title": f"job {jid}",
                "file_sha256": SHA,
                "file_name": "f",
                "file_type": "gcode",
                "file_size": 1,
                "analysis": analysis,
                "state": state,
                "cancel_requested": False,
                "pause_requested": False,
                "progress": progress,
                "checkpoint": {},
                "attempt": 1,
                "outcome": "good" if state == "succeeded" else None,
                "actual_duration_s": actual,
                "created_at": started - timedelta(hours=1),
                "updated_at": closed,
                "started_at": started if ran_on else None,
                "finished_at": None if state == "cancelled" else closed,
                # The run's figures, as ``states.transition`` writes them when it ends.
                **figures.columns(analysis, 1),
            }
        )
        redo_machine = None
        if state != "cancelled" and r.random() < 0.1:
            redo_machine = r.choice([m for m, k in MACHINES.items() if k == kind])
            first = started - timedelta(days=2)
            self.event(jid, None, "starting", first, f"machine:{redo_machine}")
            self.event(
                jid,
                "awaiting_operator",
                "queued",
                first + timedelta(hours=3),
                "user:1",
                "operator: bad, runs again",
            )
            self.count_redo(redo_machine, kind, q, first + timedelta(hours=3))
        if ran_on:
            self.event(jid, "queued", "starting", started, f"machine:{ran_on}")
        self.event(jid, "running", state, closed, "system")
        self.count_job(machine if ran_on else None, kind, state, q, closed, owner, actual, progress)

    def event(
        self,
        job: int,
        src: str | None,
        dst: str,
        at: datetime,
        actor: str,
        reason: str | None = None,
    ) -> None:
        self.events.append(
            {
                "job_id": job,
                "from_state": src,
                "to_state": dst,
                "at": at,
                "actor": actor,
                "reason": reason,
            }
        )

    def count_redo(self, machine: str, kind: str, q: dict[str, int], at: datetime) -> None:
        if not _in_year(at):
            return
        led = self.ledger
        led.by_machine[machine]["redone"] += 1
        led.by_month[_month(at)]["redone"] += 1
        self.count_material(kind, q, "redone", 1.0)
        self.count_energy(machine, q, q["duration_s"])

    def count_job(
        self,
        machine: str | None,
        kind: str,
        state: str,
        q: dict[str, int],
        closed: datetime,
        owner: int,
        actual: int | None,
        progress: float | None,
    ) -> None:
        if not _in_year(closed):
            return
        led = self.ledger
        if machine is not None:
            led.by_machine[machine][state] += 1
        led.by_month[_month(closed)][state] += 1
        (led.members if owner in self.users["member"] else led.clients).add(owner)
        if state == "succeeded":
            assert actual is not None
            self.count_material(kind, q, "good", 1.0)
            self.count_energy(machine or "?", q, actual)
        elif state == "failed":
            assert progress is not None
            self.count_material(kind, q, "failed", progress)
            self.count_energy(machine or "?", q, q["duration_s"] * progress)

    def count_material(self, kind: str, q: dict[str, int], result: str, frac: float) -> None:
        key = {"fdm_printer": "filament_g", "vinyl_cutter": "vinyl_mm2", "embroidery": "thread_m"}
        name = key[kind]
        amount = q[name] * frac
        m = self.ledger.material[name]
        m["used"] += amount  # type: ignore[assignment]
        if result != "good":
            m["wasted"] += amount  # type: ignore[assignment]
        elif kind == "fdm_printer":
            m["wasted"] += q["purge_g"]
        elif kind == "vinyl_cutter":
            m["wasted"] += q["offcut_mm2"]

    def count_energy(self, machine: str, q: dict[str, int], seconds: float) -> None:
        if machine not in POWER:
            return
        heat_w, run_w = POWER[machine]
        heat = min(q.get("heatup_s", 0), seconds)
        self.ledger.wh[machine] += heat_w * heat + run_w * (seconds - heat)  # type: ignore[assignment]


def _users(session: Any, members: int, clients: int) -> dict[str, list[int]]:
    made = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [{"name": "staff", "role": "facilitator", "active": True, "created_at": made}]
    rows += [
        {"name": f"m{i}", "role": "member", "active": True, "created_at": made}
        for i in range(members)
    ]
    rows += [
        {"name": f"c{i}", "role": "client", "active": True, "created_at": made}
        for i in range(clients)
    ]
    session.execute(insert(User), rows)
    ids: dict[str, list[int]] = {"facilitator": [], "member": [], "client": []}
    for uid, role in session.execute(select(User.id, User.role)):
        ids[str(role)].append(uid)
    # An erased member keeps their id and role: still counted, anonymously.
    erased = ids["member"][0]
    session.execute(
        update(User).where(col(User.id) == erased).values(name=f"erased-{erased}", active=False)
    )
    return ids


def generate(
    sessions: SessionFactory,
    *,
    seed: int = 18,
    jobs: int = 400,
    bookings: int = 120,
    quotes: int = 40,
    members: int = 30,
    clients: int = 6,
    padding: dict[str, Any] | None = None,
) -> Ledger:
    rng = random.Random(seed)
    ledger = Ledger()
    with session_scope(sessions) as s:
        s.add(StoredFile(sha256=SHA, size=1, created_at=NOW))
        s.flush()
        users = _users(s, members, clients)
        gen = Generator(rng, ledger, users, padding=padding or {})
        for _ in range(jobs):
            gen.add_job()
        for i in range(0, len(gen.jobs), 5000):
            s.execute(insert(Job), gen.jobs[i : i + 5000])
        for i in range(0, len(gen.events), 5000):
            s.execute(insert(JobEvent), gen.events[i : i + 5000])
        _bookings(s, gen, bookings)
        _quotes(s, gen, quotes)
        _trainings(s, gen)
        s.commit()
    return ledger


def _bookings(s: Any, gen: Generator, n: int) -> None:
    r, led = gen.rng, gen.ledger
    staff = gen.users["facilitator"][0]
    rows = []
    # Each booking its own hour: PostgreSQL's exclusion constraints refuse two live
    # bookings overlapping on a machine or for a member, as the service would.
    first = datetime(YEAR, 1, 1, tzinfo=PARIS).astimezone(UTC) - timedelta(days=20)
    hours = r.sample(range((365 + 40) * 24), n)
    for hour in hours:
        member = r.choice(gen.users["member"])
        start = first + timedelta(hours=hour)
        end = start + timedelta(hours=1)
        walk_in = r.random() < 0.15
        created = (
            start + timedelta(minutes=10) if walk_in else start - timedelta(days=r.randrange(1, 30))
        )
        roll = r.random()
        cancelled = roll < 0.1
        no_show = 0.1 <= roll < 0.2
        rows.append(
            {
                "machine": r.choice(sorted(MACHINES)),
                "member_id": member,
                "starts_at": start,
                "ends_at": end,
                "created_at": created,
                "created_by": staff if walk_in else member,
                "cancelled_at": created + timedelta(minutes=1) if cancelled else None,
                "cancelled_by": member if cancelled else None,
                "no_show_at": end if no_show else None,
            }
        )
        if _in_year(created):
            led.bookings["made"] += 1
        if _in_year(start):
            led.bookings["in_period"] += 1
            led.bookings["cancelled" if cancelled else "no_shows" if no_show else "honoured"] += 1
            if not cancelled:
                led.members.add(member)
                led.walk_ins += walk_in
    s.execute(insert(Booking), rows)


def _quotes(s: Any, gen: Generator, n: int) -> None:
    r, led = gen.rng, gen.ledger
    staff = gen.users["facilitator"][0]
    orgs = [
        {
            "name": f"org {i}",
            "address": "",
            "contact_name": "",
            "notes": "",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for i in range(5)
    ]
    s.execute(insert(Organisation), orgs)
    org_ids = [o for (o,) in s.execute(select(Organisation.id))]
    rows = []
    for _ in range(n):
        org = r.choice(org_ids)
        ht = r.randrange(2_000, 150_000)
        sent = gen.instant()
        accepted = sent + timedelta(days=3) if r.random() < 0.6 else None
        converted = accepted + timedelta(days=1) if accepted and r.random() < 0.7 else None
        state = "converted" if converted else "accepted" if accepted else "sent"
        rows.append(
            {
                "organisation_id": org,
                "state": state,
                "version": 1,
                "title": "devis",
                "request_notes": "",
                "notes": "",
                "lead_time": "2 semaines",
                "payment_terms": "30 jours",
                "validity_days": 30,
                "issuer": {},
                "client": {},
                "total_ht_cents": ht,
                "created_by_id": staff,
                "created_at": sent,
                "updated_at": sent,
                "sent_at": sent,
                "accepted_at": accepted,
                "converted_at": converted,
            }
        )
        touched = False
        for name, at in (("sent", sent), ("accepted", accepted), ("converted", converted)):
            if at is not None and _in_year(at):
                touched = True
                led.quotes[name] += 1
                led.quotes_ht[name] += Decimal(ht) / 100
        if touched:
            led.organisations.add(org)
    s.execute(insert(Quote), rows)


def _trainings(s: Any, gen: Generator) -> None:
    r, led = gen.rng, gen.ledger
    staff = gen.users["facilitator"][0]
    t = Training(name="Impression 3D", kinds=["fdm_printer"], created_at=NOW)
    s.add(t)
    s.flush()
    for _ in range(12):
        start = gen.instant()
        ts = TrainingSession(
            training_id=t.id or 0,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            places=6,
            facilitator_id=staff,
            created_at=start,
        )
        s.add(ts)
        s.flush()
        led.sessions += _in_year(start)
        for member in r.sample(gen.users["member"], 3):
            validated = start + timedelta(hours=2)
            auth = Authorisation(
                member_id=member,
                kind="fdm_printer",
                label="Impression 3D",
                training_id=t.id,
                granted_by=staff,
                granted_at=validated,
            )
            s.add(auth)
            s.flush()
            s.add(
                Enrolment(
                    session_id=ts.id or 0,
                    member_id=member,
                    enrolled_at=start,
                    enrolled_by=staff,
                    validated_at=validated,
                    validated_by=staff,
                    authorisation_id=auth.id,
                )
            )
            if _in_year(validated):
                led.trained.add(member)
                led.members.add(member)
                led.authorisations += 1


@dataclass
class Year:
    """A generated year in a database, with the café's profiles and the ledger."""

    sessions: SessionFactory
    profiles: ProfileSet
    ledger: Ledger

    def report(self, p: period.Period | None = None, **kw: Any) -> Report:
        with session_scope(self.sessions) as s:
            return service.build(s, self.profiles, p or period.year(YEAR, PARIS), now=NOW, **kw)


def open_year(url: str, root: Path) -> Iterator[Year]:
    engine = make_engine(url)
    sessions = make_session_factory(engine, None)
    profiles = load_profiles(write_cafe(root / "profiles"))
    ledger = generate(sessions)
    yield Year(sessions, profiles, ledger)
    engine.dispose()
