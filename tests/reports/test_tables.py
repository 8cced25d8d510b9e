"""Each definition on a few rows whose figures are worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fabqueue.reports import accuracy, activity, energy, material, period
from fabqueue.reports.rows import (
    BookingRow,
    JobRow,
    Quantities,
    QuoteRow,
    RedoRow,
    Rows,
    TrainingRows,
)
from fabqueue.services.errors import Invalid
from tests.support.activity import PARIS

Y = period.year(2026, PARIS)


def at(month: int, day: int = 10) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def job(
    jid: int,
    machine: str | None,
    state: str,
    q: Quantities,
    *,
    month: int = 3,
    actual: float | None = None,
    progress: float | None = None,
    owner: int = 1,
    role: str = "member",
    material_: str = "pla",
) -> JobRow:
    return JobRow(
        jid, "fdm_printer", machine, material_, state, owner, role, at(month), q, progress, actual
    )


PRINT = Quantities(duration_s=3600, heatup_s=360, filament_g=100, purge_g=2)
CUT = Quantities(duration_s=600, vinyl_mm2=500_000, design_mm2=300_000)


def test_runs_rates_and_hours() -> None:
    jobs = [
        job(1, "p", "succeeded", PRINT, actual=4000),
        job(2, "p", "succeeded", PRINT),  # no measure: its estimate, 3600 s
        job(3, "p", "failed", PRINT, progress=0.5),  # 1800 s
        job(4, "p", "cancelled", PRINT),
        job(5, None, "cancelled", PRINT),  # never ran: no machine's
    ]
    redos = [RedoRow(2, "fdm_printer", "p", "pla", at(3), PRINT)]  # 3600 s
    (m,) = activity.machines(jobs, redos, {"p": 100.0})
    assert (m.succeeded, m.failed, m.redone, m.cancelled, m.runs) == (2, 1, 1, 1, 4)
    assert m.success_rate == 0.5 and m.redo_rate == 0.25
    assert m.used_h == round((4000 + 3600 + 1800 + 3600) / 3600, 2) == 3.61
    assert m.available_h == 100.0
    months = activity.months(jobs, redos, Y)
    assert len(months) == 12 and months[2].key == "2026-03"
    assert (months[2].succeeded, months[2].cancelled, months[2].redone) == (2, 2, 1)
    assert sum(x.succeeded for x in months) == 2


def test_people_bookings_quotes() -> None:
    bookings = [
        BookingRow(7, "p", at(3), at(3), at(2), 7, False, False),  # honoured
        BookingRow(8, "p", at(3), at(3), at(3, 10), 99, False, False),  # walk-in (staff, on time)
        BookingRow(9, "p", at(4), at(4), at(1), 9, True, False),  # cancelled: not served
        BookingRow(7, "p", at(5), at(5), at(4), 7, False, True),  # no-show
        BookingRow(
            7,
            "p",
            datetime(2027, 1, 5, tzinfo=UTC),
            datetime(2027, 1, 5, 1, tzinfo=UTC),
            at(12),
            7,
            False,
            False,
        ),  # made in 2026 for 2027
    ]
    quotes = [
        QuoteRow(1, 10_000, at(2), at(3), at(3)),
        QuoteRow(2, 2_550, at(2), None, None),
        QuoteRow(1, 99_900, datetime(2025, 12, 1, tzinfo=UTC), at(1), None),
    ]
    rows = Rows(
        jobs=[
            job(1, "p", "succeeded", PRINT, owner=1),
            job(2, "p", "succeeded", PRINT, owner=2, role="client"),
        ],
        redos=[],
        bookings=bookings,
        quotes=quotes,
        trainings=TrainingRows([at(2)], [(10, at(2)), (10, at(6))], [at(2), at(6)]),
    )
    roles = {7: "member", 8: "member", 9: "member", 10: "member"}
    p = activity.people(rows, Y, roles)
    # members: 1 (job), 7 and 8 (bookings), 10 (trained); 9 cancelled: not served
    assert (p.members, p.clients, p.organisations, p.walk_ins) == (4, 1, 2, 1)
    b = activity.bookings(rows, Y, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert (b.made, b.in_period, b.honoured, b.no_shows, b.cancelled) == (5, 4, 2, 1, 1)
    q = activity.quotes(rows, Y)
    assert (q.sent, q.accepted, q.converted) == (2, 2, 1)
    assert (str(q.sent_ht), str(q.accepted_ht), str(q.converted_ht)) == (
        "125.50",
        "1099.00",
        "100.00",
    )
    t = activity.trainings(rows)
    assert (t.sessions, t.people_trained, t.authorisations) == (1, 1, 2)


def test_material_and_waste() -> None:
    jobs = [
        job(1, "p", "succeeded", PRINT),  # 100 g, purge 2 g wasted
        job(2, "p", "failed", PRINT, progress=0.25),  # 25 g wasted
        job(3, "c", "succeeded", CUT, material_="vinyle"),  # 0.5 m², offcut 0.2 m²
        job(4, "p", "cancelled", PRINT),  # nothing used
    ]
    redos = [RedoRow(1, "fdm_printer", "p", "pla", at(3), PRINT)]  # 100 g wasted
    r = material.report(jobs, redos)
    f, v, t = r.quantities
    assert (f.used, f.good, f.failed, f.redone, f.purge, f.wasted) == (225, 100, 25, 100, 2, 127)
    assert f.waste_share == round(127 / 225, 4)
    assert f.purge_measured_runs == 1
    assert (v.used, v.offcut, v.wasted, v.waste_share) == (0.5, 0.2, 0.2, 0.4)
    assert (t.used, t.waste_share) == (0, None)
    assert [(c.machine, c.material, c.failed, c.redone) for c in r.causes] == [("p", "pla", 1, 1)]
    assert {(m.material, m.quantity): m.wasted for m in r.materials} == {
        ("pla", "filament_g"): 127,
        ("vinyle", "vinyl_m2"): 0.2,
    }


def test_energy_is_an_estimate_from_profile_power() -> None:
    jobs = [job(1, "p", "succeeded", PRINT, actual=3600), job(2, "q", "succeeded", PRINT)]
    r = energy.report(jobs, [], Y, {"p": energy.Power(250, 110)})
    # 360 s at 250 W + 3240 s at 110 W = 90000 + 356400 W·s = 123.999… Wh
    assert r.kwh == round((250 * 360 + 110 * 3240) / 3.6e6, 3) == 0.124
    assert r.not_estimated == ["q"]
    assert r.months["2026-03"] == 0.124
    assert "estimation" in r.label.lower()


def test_accuracy_distribution() -> None:
    q = Quantities(duration_s=1000, heatup_s=100)
    # ratios (actual − heat-up) / estimate: 0.85, 1.0, 1.05, 1.2, 1.6, and 9.0 left out
    actuals = [950, 1100, 1150, 1300, 1700, 9100]
    jobs = [job(i, "p", "succeeded", q, actual=a) for i, a in enumerate(actuals)]
    (a,) = accuracy.report(jobs)
    assert a.count == 5 and a.median == 1.05
    assert a.buckets == [0, 1, 2, 1, 0, 1]
    assert a.within_10pct == 0.4
    assert a.p10 == pytest.approx(0.85 + 0.4 * 0.15)
    assert a.p90 == pytest.approx(1.2 + 0.6 * 0.4)


def test_periods() -> None:
    q4 = period.quarter(2026, 4, PARIS)
    assert (q4.label, q4.first_day, q4.last_day) == (
        "2026-T4",
        date(2026, 10, 1),
        date(2026, 12, 31),
    )
    assert q4.start == datetime(2026, 9, 30, 22, tzinfo=UTC)  # CEST
    assert q4.end == datetime(2026, 12, 31, 23, tzinfo=UTC)  # CET
    assert [m.label for m in q4.months()] == ["2026-10", "2026-11", "2026-12"]
    c = period.custom(date(2026, 1, 20), date(2026, 3, 5), PARIS)
    assert [(m.first_day.day, m.last_day.day) for m in c.months()] == [(20, 31), (1, 28), (1, 5)]
    with pytest.raises(Invalid, match="before it starts"):
        period.custom(date(2026, 3, 5), date(2026, 1, 1), PARIS)
    with pytest.raises(Invalid, match="quarter or a month"):
        period.parse(PARIS, year_=2026, quarter_=1, month_=2)
    with pytest.raises(Invalid, match="give a year"):
        period.parse(PARIS)
