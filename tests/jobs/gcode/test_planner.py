"""The motion planner against moves timed by hand (to 1 ms), and its lookahead."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from jobs.gcode import planner as planner_module
from jobs.gcode.planner import MotionLimits, Planner, block_time
from tests.support.gcode import run

MS = 1e-3


def limits(**kw: object) -> MotionLimits:
    base = MotionLimits(
        max_feedrate=[1000.0, 1000.0, 1000.0, 1000.0],
        max_accel=[1e5, 1e5, 1e5, 1e5],
        jerk=[10.0, 10.0, 0.4, 4.5],
        accel_print=1000.0,
        accel_travel=1000.0,
        accel_retract=1250.0,
    )
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def timed(lim: MotionLimits, *moves: tuple[float, float, float, float, float]) -> float:
    p = Planner(lim)
    for m in moves:
        p.move(*m)
    return p.finish()


@pytest.mark.parametrize(
    ("distance", "accel", "v0", "vc", "v1", "expected"),
    [
        # accelerate 10 -> 100 over 4.95 mm, cruise 90.1 mm, brake to 10 over 4.95 mm
        (100.0, 1000.0, 10.0, 100.0, 10.0, 0.09 + 0.901 + 0.09),
        # too short to cruise: peak sqrt(2*1000*2) = 63.2456 mm/s
        (4.0, 1000.0, 0.0, 100.0, 0.0, 2 * math.sqrt(4000.0) / 1000.0),
        # exactly long enough: 5 mm up, 5 mm down
        (10.0, 1000.0, 0.0, 100.0, 0.0, 0.2),
        # cruise only
        (50.0, 1000.0, 20.0, 20.0, 20.0, 2.5),
    ],
)
def test_block_time_by_hand(
    distance: float, accel: float, v0: float, vc: float, v1: float, expected: float
) -> None:
    assert block_time(distance, accel, v0, vc, v1) == pytest.approx(expected, abs=1e-9)


def test_accelerate_cruise_decelerate() -> None:
    # 100 mm along X at 100 mm/s, 1000 mm/s², X jerk 10: it starts and stops at its safe
    # speed 10 mm/s. Up: (100-10)/1000 = 0.09 s over (100²-10²)/2000 = 4.95 mm; the same
    # down; cruise 100 - 9.9 = 90.1 mm at 100 mm/s = 0.901 s.
    assert timed(limits(), (100, 0, 0, 0, 100)) == pytest.approx(1.081, abs=MS)


def test_triangle_profile() -> None:
    # 4 mm at 100 mm/s from and to a stop (junction deviation starts and ends at 0 here):
    # peak sqrt(2*1000*2) = 63.246 mm/s, 0.063246 s up and the same down.
    lim = limits(junction_deviation_mm=0.013, minimum_planner_speed=0.0)
    assert timed(lim, (4, 0, 0, 0, 100)) == pytest.approx(0.126491, abs=MS)


def test_right_angle_with_classic_jerk() -> None:
    # X 10 mm then Y 10 mm at 100 mm/s, jerk 10: X stops (jerk 100 > 10, factor 0.1), so
    # the corner is taken at 100*0.1 = 10 mm/s, equal to both safe speeds. Each block:
    # 10 -> 100 -> 10 mm/s: 0.09 + 0.09 s over 9.9 mm, 0.1 mm cruise = 0.001 s.
    assert timed(limits(), (10, 0, 0, 0, 100), (0, 10, 0, 0, 100)) == pytest.approx(0.362, abs=MS)


def test_right_angle_with_junction_deviation() -> None:
    # cos(theta) = 0, sin(theta/2) = 0.70711: v² = 1000*0.013*0.70711/(1-0.70711) = 31.385,
    # corner at 5.6022 mm/s. Block 1: 0 -> 100 (5 mm, 0.1 s), 100 -> 5.6022
    # (4.98431 mm, 0.094398 s), cruise 0.01569 mm (0.000157 s) = 0.194555 s; block 2 the
    # mirror image.
    lim = limits(junction_deviation_mm=0.013, minimum_planner_speed=0.0)
    t = timed(lim, (10, 0, 0, 0, 100), (0, 10, 0, 0, 100))
    assert t == pytest.approx(2 * 0.194555, abs=MS)


def test_straight_junction_keeps_speed() -> None:
    # Two collinear 50 mm moves behave like one 100 mm move.
    assert timed(limits(), (50, 0, 0, 0, 100), (50, 0, 0, 0, 100)) == pytest.approx(1.081, abs=MS)


def test_retraction_uses_the_retract_acceleration() -> None:
    # E -2 mm at 35 mm/s, 1250 mm/s², E jerk 4.5: 4.5 -> 35 -> 4.5 mm/s,
    # 0.0244 s each way over 0.48190 mm, cruise 1.03620 mm = 0.029606 s.
    assert timed(limits(), (0, 0, 0, -2, 35)) == pytest.approx(0.078406, abs=MS)


def test_axis_feed_rate_limit() -> None:
    # 100x100 mm diagonal asked at 300 mm/s with X and Y limited to 100 mm/s: 141.42 mm/s
    # along the move, 1 s (acceleration made negligible).
    lim = limits(max_feedrate=[100.0, 100.0, 1000.0, 1000.0], accel_travel=1e9, jerk=[1e9] * 4)
    assert timed(lim, (100, 100, 0, 0, 300)) == pytest.approx(1.0, abs=MS)


def test_axis_acceleration_limit() -> None:
    # Z 10 mm at 10 mm/s: travel acceleration 1000 limited to Z's 100 mm/s², Z jerk 0.4:
    # 0.4 -> 10 in 0.096 s over 0.4992 mm, both ways; cruise 9.0016 mm = 0.90016 s.
    lim = limits(max_accel=[1e5, 1e5, 100.0, 1e5])
    assert timed(lim, (0, 0, 10, 0, 10)) == pytest.approx(1.09216, abs=MS)


def test_minimum_feed_rates() -> None:
    lim = limits(min_feedrate=20.0, min_travel_feedrate=50.0, accel_print=1e9, accel_travel=1e9)
    lim.jerk = [1e9] * 4
    assert timed(lim, (10, 0, 0, 1, 1)) == pytest.approx(0.5, abs=MS)  # extruding: 20 mm/s
    assert timed(lim, (10, 0, 0, 0, 1)) == pytest.approx(0.2, abs=MS)  # travel: 50 mm/s


def test_a_stop_costs_the_braking() -> None:
    # With a sync between two collinear moves the machine stops to its safe speed.
    p = Planner(limits())
    p.move(50, 0, 0, 0, 100)
    p.sync()
    p.move(50, 0, 0, 0, 100)
    assert p.finish() == pytest.approx(2 * (0.09 + 0.09 + (50 - 9.9) / 100), abs=MS)


def _wiggle() -> list[tuple[float, float, float, float, float]]:
    moves = []
    for k in range(6000):
        a = k * 0.05
        moves.append((0.3 * math.cos(a), 0.3 * math.sin(a), 0.0, 0.01, 80.0))
        if k % 500 == 0:
            moves.append((40.0, 0.0, 0.0, 0.0, 150.0))
            moves.append((0.0, 0.0, 0.0, -0.8, 35.0))
    return moves


@pytest.mark.parametrize("deviation", [None, 0.02])
def test_streaming_lookahead_equals_planning_the_whole_file(
    monkeypatch: pytest.MonkeyPatch, deviation: float | None
) -> None:
    """Committing blocks as soon as they are stable changes nothing to the plan."""
    moves = _wiggle()
    streamed = timed(limits(junction_deviation_mm=deviation), *moves)
    monkeypatch.setattr(planner_module, "_PLAN_EVERY", 10**9)
    whole = timed(limits(junction_deviation_mm=deviation), *moves)
    assert streamed == pytest.approx(whole, rel=1e-9)
    assert whole > sum(math.hypot(m[0], m[1]) / m[4] for m in moves if m[0] or m[1])


def _streamed_and_whole(
    monkeypatch: pytest.MonkeyPatch, lim: MotionLimits, moves: list[tuple[float, ...]]
) -> tuple[float, float, int]:
    p = Planner(lim)
    longest = 0
    for m in moves:
        p.move(*m)
        longest = max(longest, len(p._pending))
    streamed = p.finish()
    with monkeypatch.context() as m:
        m.setattr(planner_module, "_PLAN_EVERY", 10**9)
        m.setattr(planner_module, "_MAX_PENDING", 10**9)
        whole = timed(lim, *moves)  # type: ignore[arg-type]
    return streamed, whole, longest


def test_long_speed_ramps_are_planned_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0.01 mm segments: reaching 150 mm/s at 300 mm/s² takes 3,750 of them.
    lim = limits(accel_print=300.0, jerk=[0.1, 0.1, 0.1, 0.1])
    moves = [(0.01, 0.0, 0.0, 0.0001, 150.0)] * 20000
    streamed, whole, longest = _streamed_and_whole(monkeypatch, lim, moves)
    assert streamed == pytest.approx(whole, rel=1e-9)
    assert longest <= planner_module._MAX_PENDING


def test_memory_stays_bounded_when_nothing_is_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    """0.05 mm/s²: the head accelerates over the whole 2 m, so no entry speed is ever
    provably final. The planner commits the oldest blocks anyway instead of holding the
    whole file, at the cost of a few percent on such a file."""
    lim = limits(accel_print=0.05, jerk=[0.1, 0.1, 0.1, 0.1])
    moves = [(0.1, 0.0, 0.0, 0.001, 50.0)] * 20000
    streamed, whole, longest = _streamed_and_whole(monkeypatch, lim, moves)
    assert longest <= planner_module._MAX_PENDING
    assert streamed == pytest.approx(whole, rel=0.1)
    # up to v = sqrt(2*0.05*1000) = 10 mm/s at mid-way, then down: about 400 s
    assert whole == pytest.approx(400.0, rel=0.02)


# -- through G-code, with the interpreter --------------------------------------------


def test_arc_is_cut_like_the_firmware(tmp_path: Path) -> None:
    # Quarter circle, radius 10, at 10 mm/s: segment = min(sqrt(8*10*0.02), 10/50) = 0.2 mm,
    # int(15.708/0.2 + 0.8) = 79 chords of 20*sin(pi/316) = 0.198821 mm, 15.70686 mm in
    # all. No axis goes beyond its 10 mm/s jerk: 1.570686 s at constant speed.
    a = run(tmp_path, "G92 X10 Y0\nG3 X0 Y10 I-10 J0 F600\n")
    assert a.counts["arc_segments"] == 79
    assert a.duration_s == pytest.approx(1.570686, abs=MS)


def test_arc_by_radius_matches_the_centre_form(tmp_path: Path) -> None:
    ij = run(tmp_path, "G92 X10 Y0\nG3 X0 Y10 I-10 J0 F600\n")
    r = run(tmp_path, "G92 X10 Y0\nG3 X0 Y10 R10 F600\n")
    assert r.duration_s == pytest.approx(ij.duration_s, abs=MS)
    # clockwise the long way round: three quarters of the circle
    cw = run(tmp_path, "G92 X10 Y0\nG2 X0 Y10 I-10 J0 F600\n")
    assert cw.duration_s == pytest.approx(3 * ij.duration_s, rel=0.01)


def test_file_limits_override_the_profile(tmp_path: Path) -> None:
    base = "G1 X100 F6000\n"
    plain = run(tmp_path, base)
    slow = run(tmp_path, "M204 T500\nM205 X5\n" + base)
    assert plain.duration_s == pytest.approx(1.081, abs=MS)
    # 5 -> 100 mm/s at 500 mm/s²: 0.19 s over 9.975 mm each way, cruise 80.05 mm
    assert slow.duration_s == pytest.approx(0.38 + 0.8005, abs=MS)
    assert slow.details["limits_from_file"] is True


def test_legacy_m204_s_sets_print_and_travel(tmp_path: Path) -> None:
    a = run(tmp_path, "M204 S500 T1000\nG1 X100 F6000\n", jerk_x_mm_s=5.0)
    assert a.duration_s == pytest.approx(0.38 + 0.8005, abs=MS)


def test_dwell_is_counted_and_reported(tmp_path: Path) -> None:
    a = run(tmp_path, "G4 P1500\nG4 S2\nG4\n")
    assert a.details["dwell_s"] == pytest.approx(3.5)
    assert a.duration_s == pytest.approx(3.5)


def test_feed_multiplier_m220(tmp_path: Path) -> None:
    a = run(tmp_path, "M220 S50\nG1 X100 F12000\n")
    assert a.duration_s == pytest.approx(1.081, abs=MS)  # 200 mm/s asked, 100 mm/s run
