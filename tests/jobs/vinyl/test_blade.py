"""Drag-knife compensation, checked against a simulated trailing blade tip.

The knife's tip trails the holder by the blade offset and never slides sideways. Each
cut below goes through the whole preparation (import, order, overcut, alignment cut,
compensation), then the simulated tip follows the commanded holder path, its heading
carried from one path to the next across the blade-up moves as on a real cutter.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from jobs.params.cutter import CutterParams
from jobs.vinyl import hpgl
from jobs.vinyl import plan as cut_plan
from jobs.vinyl.blade import compensate, trail
from jobs.vinyl.geometry import CutPath, Drawing
from jobs.vinyl.svg.read import read_svg
from tests.support.vinyl import STENCIL, as_array, svg, tip_errors, trace_errors

R = 0.25
TRIANGLE_31 = f"M 10 40 L 70 40 L 40 {40 - 30 * math.tan(math.radians(31)):.6f} Z"  # two 31° tips
LETTER_R = (
    "M 0 0 L 0 30 L 5 30 L 5 18 L 9 18 L 15 30 L 21 30 L 14 17 "
    "C 18 15.5 20 12 20 9 C 20 3 16 0 10 0 Z "
    "M 5 4 L 10 4 C 13 4 15 6 15 9 C 15 12 13 14 10 14 L 5 14 Z"
)


def simulated_errors(plan: cut_plan.CutPlan, r: float) -> list[tuple[str, float, float]]:
    """(path kind, stray, miss) for every cut, the tip carried from cut to cut."""
    heading = np.array([1.0, 0.0])
    out = []
    for tip_path, holder in zip(plan.tip_paths, plan.holder, strict=True):
        tip = trail(holder, holder[0] - r * heading, r, step=0.005)
        last = holder[-1] - tip[-1]
        heading = last / np.hypot(*last)
        stray, miss = trace_errors(tip, tip_path.points)
        out.append((tip_path.kind, stray, miss))
    return out


def planned(tmp: Path, d: str, **params: object) -> cut_plan.CutPlan:
    drawing = read_svg(svg(tmp, f'<path d="{d}"/>'))
    settings = {"blade_offset_mm": R, **params}
    return cut_plan.plan(drawing, CutterParams.model_validate(settings))


@pytest.mark.parametrize(
    "shape",
    ["M 10 10 L 30 10 L 30 30 L 10 30 Z", TRIANGLE_31, LETTER_R],
    ids=["square", "triangle-31deg", "letter-R"],
)
def test_trailing_tip_stays_on_the_design(tmp_path: Path, shape: str) -> None:
    plan = planned(tmp_path, shape)
    errors = simulated_errors(plan, R)
    design = [(stray, miss) for kind, stray, miss in errors if kind == "design"]
    assert design, "nothing was cut"
    for stray, miss in design:
        assert stray <= 0.02
        assert miss <= 0.02


def test_a_stencil_letter_with_curves(tmp_path: Path) -> None:
    drawing = read_svg(STENCIL)
    curvy = max(drawing.paths[:80], key=lambda p: len(p.points))
    drawing.paths = [curvy]
    plan = cut_plan.plan(drawing, CutterParams(blade_offset_mm=R))
    for kind, stray, miss in simulated_errors(plan, R):
        if kind == "design":
            assert stray <= 0.02 and miss <= 0.02


def test_without_compensation_the_same_knife_misses(tmp_path: Path) -> None:
    """The check above can fail: commanding the design itself rounds the corners."""
    plan = planned(tmp_path, TRIANGLE_31, blade_offset_mm=0.0)
    worst = max(stray for kind, stray, _ in simulated_errors(plan, R) if kind == "design")
    assert worst > 0.2


def test_without_the_alignment_cut_the_first_path_starts_off(tmp_path: Path) -> None:
    """The blade's heading is unknown at the first cut: the alignment cut is what fixes
    it. Here the blade starts pointing backwards, and there is no alignment cut."""
    plan = planned(tmp_path, "M 10 10 L 30 10 L 30 30 L 10 30 Z", lead_in_mm=0.0)
    holder = plan.holder[0]
    stray, _ = tip_errors(plan.tip_paths[0].points, holder, R, np.array([-1.0, 0.0]))
    assert stray > 0.1


@pytest.mark.parametrize(
    ("turn_deg", "expected_points"),
    [(0.0, 3), (4.0, 3), (90.0, 2 + 1 + 5), (180.0, 2 + 1 + 9)],
)
def test_swivel_arc_only_at_corners_over_the_threshold(
    turn_deg: float, expected_points: int
) -> None:
    a = math.radians(turn_deg)
    path = as_array([(0, 0), (10, 0), (10 + 10 * math.cos(a), 10 * math.sin(a))])
    holder, heading = compensate(path, R, 5.0, np.array([1.0, 0.0]))
    assert len(holder) == expected_points
    assert heading == pytest.approx([math.cos(a), math.sin(a)], abs=1e-12)
    # The holder leads the tip by exactly the offset at both ends.
    assert np.hypot(*(holder[0] - path[0])) == pytest.approx(R)
    assert np.hypot(*(holder[-1] - path[-1])) == pytest.approx(R)


def test_the_swivel_keeps_the_holder_on_a_circle_round_the_corner() -> None:
    path = as_array([(0, 0), (10, 0), (10, 10)])
    holder, _ = compensate(path, R, 5.0, np.array([1.0, 0.0]))
    corner = holder[1:-1]
    assert np.hypot(*(corner - [10, 0]).T) == pytest.approx(R)


def test_zero_offset_commands_the_design() -> None:
    path = as_array([(0, 0), (10, 0), (10, 10)])
    holder, _ = compensate(path, 0.0, 5.0, None)
    assert np.array_equal(holder, path)


@pytest.mark.parametrize(
    "settings",
    [{}, {"lead_in_mm": 0}, {"weeding_border": True}, {"hpgl": {"y_axis_up": False}}],
    ids=["default", "no-alignment-cut", "weeding-border", "y-down"],
)
def test_swivels_at_the_job_edges_are_sent_as_planned(tmp_path: Path, settings: dict) -> None:
    # The design touches every edge of the job: its corners swivel outside it. What the
    # cutter gets, read back from the HP-GL, must be the planned holder path (a swivel
    # clamped to 0 put the tip 0.12 mm off the corner) and the tip must stay on it.
    plan = planned(tmp_path, "M 0 0 L 40 0 L 40 20 L 0 20 Z", **settings)
    params = CutterParams.model_validate({"blade_offset_mm": R, **settings})
    frame = hpgl.DeviceFrame(params.hpgl, plan.layout.extent_u, plan.layout.extent_v)
    data = hpgl.write([frame.to_steps(h) for h in plan.holder], params.hpgl, 100.0)
    back = [frame.to_layout(s) for s in hpgl.read(data).strokes]
    assert len(back) == len(plan.holder)
    for sent, planned_holder in zip(back, plan.holder, strict=True):
        assert np.abs(sent - planned_holder).max() <= 0.5 / params.hpgl.steps_per_mm + 1e-9
    sent_plan = replace(plan, holder=back)
    for kind, stray, miss in simulated_errors(sent_plan, R):
        if kind != "lead_in":
            assert stray < 0.03 and miss < 0.03, (kind, stray, miss)


def test_the_layout_holds_every_swivel() -> None:
    drawing = Drawing(paths=[CutPath(as_array([(0, 0), (10, 0), (10, 10), (0, 0)]), True)])
    plan = cut_plan.plan(drawing, CutterParams(blade_offset_mm=0.5, lead_in_mm=0))
    reach = np.concatenate(plan.holder)
    assert reach.min() >= 0
    assert reach[:, 0].max() <= plan.layout.extent_u + 1e-9
    assert reach[:, 1].max() <= plan.layout.extent_v + 1e-9
