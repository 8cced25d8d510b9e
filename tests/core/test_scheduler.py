"""pick_next, with tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabqueue.dispatch.scheduler import Booking, Candidate, MachineInfo, pick_next
from jobs.base import Analysis, Bounds, MachineKind
from jobs.params import PrinterParams

NOW = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
PRINTER = MachineInfo(
    slug="p1",
    file_types=frozenset({"gcode"}),
    loaded_material="pla-noir",
    params=PrinterParams(build_x_mm=200, build_y_mm=200, build_z_mm=200),
)


def analysis(minutes: float = 10, size: float = 50) -> Analysis:
    return Analysis(
        kind=MachineKind.fdm_printer,
        file_type="gcode",
        analyzer="t",
        duration_s=minutes * 60,
        bounds=Bounds(min_x=0, min_y=0, max_x=size, max_y=size, max_z=10),
    )


def cand(
    id: int,
    *,
    prio: int = 0,
    age_min: int = 0,
    material: str | None = None,
    file_type: str = "gcode",
    owner: int = 1,
    minutes: float = 10,
    size: float = 50,
    resuming: bool = False,
) -> Candidate:
    return Candidate(
        id=id,
        owner_id=owner,
        file_type=file_type,
        material=material,
        priority=prio,
        created_at=NOW - timedelta(minutes=age_min),
        analysis=analysis(minutes, size),
        resuming=resuming,
    )


CASES = [
    ("oldest first", [cand(1, age_min=5), cand(2, age_min=30)], [], 2),
    ("priority beats age", [cand(1, age_min=60), cand(2, prio=5, age_min=1)], [], 2),
    ("same age: lowest id", [cand(3), cand(2)], [], 2),
    ("wrong file type skipped", [cand(1, file_type="svg", age_min=9), cand(2)], [], 2),
    ("material must be loaded", [cand(1, material="petg-bleu", age_min=9), cand(2)], [], 2),
    ("loaded material matches", [cand(1, material="pla-noir")], [], 1),
    ("too big for the bed", [cand(1, size=250, age_min=9), cand(2)], [], 2),
    ("nothing fits", [cand(1, size=250)], [], None),
    ("empty queue", [], [], None),
    (
        "resuming job first, even low priority",
        [cand(1, prio=50), cand(2, prio=-5, resuming=True)],
        [],
        2,
    ),
    (
        "booked now by someone else",
        [cand(1, owner=1)],
        [
            Booking(
                owner_id=2, starts_at=NOW - timedelta(minutes=5), ends_at=NOW + timedelta(hours=1)
            )
        ],
        None,
    ),
    (
        "booked now by the job's owner",
        [cand(1, owner=2)],
        [
            Booking(
                owner_id=2, starts_at=NOW - timedelta(minutes=5), ends_at=NOW + timedelta(hours=1)
            )
        ],
        1,
    ),
    (
        "would run into a booking",
        [cand(1, minutes=90, age_min=9), cand(2, minutes=20)],
        [
            Booking(
                owner_id=7, starts_at=NOW + timedelta(minutes=30), ends_at=NOW + timedelta(hours=2)
            )
        ],
        2,
    ),
    (
        "past booking ignored",
        [cand(1)],
        [Booking(owner_id=7, starts_at=NOW - timedelta(hours=2), ends_at=NOW - timedelta(hours=1))],
        1,
    ),
]


@pytest.mark.parametrize(
    ("name", "candidates", "bookings", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_pick_next(name: str, candidates, bookings, expected) -> None:
    decision = pick_next(candidates, PRINTER, bookings, NOW)
    assert decision.job_id == expected
    assert expected not in decision.waiting
    if expected is None:  # every job passed over says why
        assert set(decision.waiting) == {c.id for c in candidates}


def test_reasons_are_readable() -> None:
    d = pick_next([cand(1, material="petg-bleu"), cand(2, size=250)], PRINTER, [], NOW)
    assert d.waiting[1] == "needs petg-bleu loaded on p1 (pla-noir is)"
    assert d.waiting[2].startswith("does not fit: X reaches 250.0 mm, 50.0 mm beyond")


def test_untracked_material_runs_anything() -> None:
    machine = MachineInfo(slug="p1", file_types=frozenset({"gcode"}), track_material=False)
    assert pick_next([cand(1, material="petg-bleu")], machine, [], NOW).job_id == 1


def test_bookings_count_heat_up_and_set_up_time() -> None:
    # 25 min of motion but 35 min of machine time: it would run into the booking.
    a = analysis(minutes=25).model_copy(update={"details": {"machine_time_s": 35 * 60}})
    c = Candidate(
        id=1, owner_id=1, file_type="gcode", material=None, priority=0, created_at=NOW, analysis=a
    )
    booking = Booking(
        owner_id=7, starts_at=NOW + timedelta(minutes=30), ends_at=NOW + timedelta(hours=2)
    )
    assert pick_next([c], PRINTER, [booking], NOW).job_id is None
    assert pick_next([c], PRINTER, [], NOW).job_id == 1
