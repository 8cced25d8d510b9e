"""The yearly report of a generated year checked against the generator's own ledger,
on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fabqueue.reports import period
from tests.support.activity import OPEN_HOURS_2026, PARIS, YEAR, Year


def test_machines_and_months_match_the_ledger(any_year: Year) -> None:
    r = any_year.report()
    led = any_year.ledger
    got = {m.machine: m for m in r.activity.machines}
    assert set(got) == {"printer", "printer2", "plotter", "brodeuse"}
    for slug, m in got.items():
        c = led.by_machine[slug]
        assert (m.succeeded, m.failed, m.redone, m.cancelled) == (
            c["succeeded"],
            c["failed"],
            c["redone"],
            c["cancelled"],
        ), slug
        runs = c["succeeded"] + c["failed"] + c["redone"]
        assert m.runs == runs
        assert m.success_rate == round(c["succeeded"] / runs, 4)
        assert m.redo_rate == round(c["redone"] / runs, 4)
        assert m.available_h == OPEN_HOURS_2026
    assert [m.key for m in r.activity.months] == [f"{YEAR}-{i:02d}" for i in range(1, 13)]
    for month in r.activity.months:
        c = led.by_month[month.key]
        assert (month.succeeded, month.failed, month.redone, month.cancelled) == (
            c["succeeded"],
            c["failed"],
            c["redone"],
            c["cancelled"],
        ), month.key
    assert sum(m.redone for m in r.activity.machines) > 0
    assert sum(m.failed for m in r.activity.machines) > 0


def test_people_bookings_quotes_trainings_match_the_ledger(any_year: Year) -> None:
    a = any_year.report().activity
    led = any_year.ledger
    assert a.people.members == len(led.members)
    assert a.people.clients == len(led.clients)
    assert a.people.organisations == len(led.organisations)
    assert a.people.walk_ins == led.walk_ins > 0
    assert a.bookings.made == led.bookings["made"]
    assert a.bookings.in_period == led.bookings["in_period"]
    assert a.bookings.honoured == led.bookings["honoured"]
    assert a.bookings.no_shows == led.bookings["no_shows"] > 0
    assert a.bookings.cancelled == led.bookings["cancelled"] > 0
    assert (a.quotes.sent, a.quotes.accepted, a.quotes.converted) == (
        led.quotes["sent"],
        led.quotes["accepted"],
        led.quotes["converted"],
    )
    assert a.quotes.sent_ht == led.quotes_ht["sent"].quantize(Decimal("0.01"))
    assert a.quotes.accepted_ht == led.quotes_ht["accepted"].quantize(Decimal("0.01"))
    assert a.quotes.converted_ht == led.quotes_ht["converted"].quantize(Decimal("0.01"))
    assert a.trainings.sessions == led.sessions
    assert a.trainings.people_trained == len(led.trained)
    assert a.trainings.authorisations == led.authorisations
    assert a.invoices is None


def test_material_waste_and_energy_match_the_ledger(any_year: Year) -> None:
    r = any_year.report()
    led = any_year.ledger
    q = {x.quantity: x for x in r.material.quantities}
    assert q["filament_g"].used == pytest.approx(led.material["filament_g"]["used"], abs=1e-6)
    assert q["filament_g"].wasted == pytest.approx(led.material["filament_g"]["wasted"], abs=1e-6)
    assert q["vinyl_m2"].used == pytest.approx(led.material["vinyl_mm2"]["used"] / 1e6, abs=1e-3)
    assert q["vinyl_m2"].wasted == pytest.approx(
        led.material["vinyl_mm2"]["wasted"] / 1e6, abs=1e-3
    )
    assert q["thread_m"].used == pytest.approx(led.material["thread_m"]["used"], abs=1e-6)
    assert q["thread_m"].wasted == pytest.approx(led.material["thread_m"]["wasted"], abs=1e-6)
    assert r.energy.not_estimated == ["printer2"]
    for m in r.energy.machines:
        assert m.kwh == pytest.approx(led.wh[m.machine] / 3600 / 1000, abs=1e-3), m.machine
    assert r.energy.kwh == pytest.approx(sum(led.wh.values()) / 3.6e6, abs=2e-3)
    assert sum(r.energy.months.values()) == pytest.approx(r.energy.kwh, abs=0.02)
    assert r.material.causes and r.material.causes[0].total >= r.material.causes[-1].total


def test_quarters_add_up_to_the_year(year: Year) -> None:
    whole = year.report().activity
    parts = [year.report(period.quarter(YEAR, q, PARIS)).activity for q in (1, 2, 3, 4)]
    for field in ("succeeded", "failed", "redone", "cancelled"):
        assert sum(getattr(m, field) for p in parts for m in p.machines) == sum(
            getattr(m, field) for m in whole.machines
        )
    assert sum(p.quotes.sent_ht for p in parts) == whole.quotes.sent_ht
    assert sum(p.bookings.made for p in parts) == whole.bookings.made


def test_one_cafe_is_its_machines(year: Year) -> None:
    r = year.report(machines=["plotter"])
    assert [m.machine for m in r.activity.machines] == ["plotter"]
    assert r.activity.machines[0].succeeded == year.ledger.by_machine["plotter"]["succeeded"]
    assert r.scope == "plotter"
