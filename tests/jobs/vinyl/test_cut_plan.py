"""Cut preparation: overcut, weeding, mirror, copies and rotation, size checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobs.base import Analysis, Bounds, FileRejected, MachineKind
from jobs.params.cutter import CutterParams
from jobs.vinyl.geometry import CutPath, Drawing, distance_to_polyline, length
from jobs.vinyl.plan import LEAD_IN_GAP_MM, choose_layout, design_stats, overcut, plan
from jobs.vinyl.svg.read import read_svg
from tests.support.vinyl import svg

PLAIN = {"blade_offset_mm": 0.0, "lead_in_mm": 0.0, "overcut_mm": 0.0}


def rect_path(x: float, y: float, w: float, h: float, name: str = "") -> CutPath:
    pts = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]], dtype=float)
    return CutPath(pts, True, name)


def drawing(*paths: CutPath) -> Drawing:
    return Drawing(paths=list(paths))


def params(**kw: object) -> CutterParams:
    return CutterParams.model_validate({**PLAIN, **kw})


def test_overcut_runs_on_past_the_start() -> None:
    p = overcut(rect_path(0, 0, 10, 10), 0.5)
    assert length(p.points) == pytest.approx(40.5)
    assert p.points[-1].tolist() == pytest.approx([0.5, 0.0])
    assert overcut(rect_path(0, 0, 10, 10), 15).points[-1].tolist() == pytest.approx([10, 5])


def test_open_paths_get_no_overcut() -> None:
    p = CutPath(np.array([[0.0, 0.0], [5.0, 0.0]]), False)
    assert overcut(p, 1.0) is p


@pytest.mark.parametrize(
    ("svg_body", "pieces", "counters"),
    [
        ('<path d="M0 0H20V20H0Z M5 5V15H15V5Z"/>', 1, 1),  # an O
        ('<path fill-rule="evenodd" d="M0 0H30V20H0Z M2 2H12V18H2Z M16 2H28V18H16Z"/>', 1, 2),
        ('<path fill-rule="evenodd" d="M0 0H30V30H0Z M5 5H25V25H5Z M10 10H20V20H10Z"/>', 2, 1),
        ('<rect width="5" height="5"/><rect x="10" width="5" height="5"/>', 2, 0),
    ],
)
def test_pieces_and_counters(tmp_path: Path, svg_body: str, pieces: int, counters: int) -> None:
    st = design_stats(read_svg(svg(tmp_path, svg_body)), CutterParams())
    assert (st.pieces, st.counters) == (pieces, counters)


def test_tiny_islands_and_small_features_are_flagged() -> None:
    d = drawing(rect_path(0, 0, 50, 50), rect_path(60, 0, 1.5, 1.5), rect_path(70, 0, 0.6, 0.6))
    p = params(tiny_island_mm2=4.0, min_feature_mm=1.0)
    st = design_stats(d, p)
    assert len(st.tiny_islands) == 2
    assert st.small_features == 1
    result = plan(d, p)
    assert any("smaller than 1 mm" in w for w in result.warnings)
    assert any("2 piece(s) under 4 mm²" in w for w in result.warnings)
    with pytest.raises(FileRejected, match="smaller than 1 mm"):
        plan(d, params(reject_below_min_feature=True))


def test_weeding_border_is_cut_last_around_its_copy() -> None:
    d = drawing(rect_path(10, 10, 40, 20, "a"), rect_path(60, 10, 20, 20, "b"))
    result = plan(d, params(weeding_border=True, weeding_margin_mm=5, allow_rotation=False))
    kinds = [p.kind for p in result.tip_paths]
    assert kinds == ["design", "design", "border"]
    border = result.tip_paths[-1].points
    assert border.min(axis=0).tolist() == pytest.approx([0, 0])
    assert border.max(axis=0).tolist() == pytest.approx([80, 30])
    assert result.layout.extent_u == pytest.approx(80)


def test_weeding_lines_stop_short_of_the_design() -> None:
    design = [rect_path(0, 0, 100, 10, "bar"), rect_path(40, 30, 20, 20, "box")]
    result = plan(
        drawing(*design),
        params(weeding_border=True, weeding_lines=True, weeding_line_spacing_mm=20),
    )
    lines = [p for p in result.tip_paths if p.kind == "weeding"]
    assert lines
    placed = [p.points for p in result.tip_paths if p.kind == "design"]
    for wl in lines:
        samples = np.linspace(wl.points[0], wl.points[-1], 50)
        for poly in placed:
            assert distance_to_polyline(samples, poly).min() >= 0.5 - 1e-9
    kinds = [p.kind for p in result.tip_paths]
    assert kinds.index("border") > max(i for i, k in enumerate(kinds) if k == "weeding")


def test_weeding_lines_need_the_border() -> None:
    with pytest.raises(ValueError, match="weeding_border"):
        CutterParams(weeding_lines=True)


def test_mirror_flips_the_design_along_the_roll() -> None:
    # An L: its foot points right; mirrored, it points left.
    foot = CutPath(np.array([[0.0, 0.0], [0.0, 20.0], [10.0, 20.0]]), False)
    plain = plan(drawing(foot), params()).tip_paths[0].points
    mirrored = plan(drawing(foot), params(mirror=True)).tip_paths[0].points
    assert sorted(map(tuple, mirrored.tolist())) == sorted((10 - x, y) for x, y in plain.tolist())
    assert sorted(map(tuple, mirrored.tolist())) != sorted(map(tuple, plain.tolist()))


@pytest.mark.parametrize(
    ("w", "h", "copies", "rotation", "rotated", "per_row", "length_mm"),
    [
        (100, 50, 1, True, True, 1, 50),  # turned, it takes 50 mm of roll, not 100
        (100, 50, 5, True, True, 5, 50),  # five 100 mm copies side by side on a 610 roll
        (100, 50, 5, False, False, 5, 100),
        (100, 50, 12, False, False, 11, 205),  # 11 across, then a second column
        (700, 100, 1, True, False, 1, 700),  # turned it would not fit across
        (100, 700, 1, True, True, 1, 700),  # only fits turned
    ],
)
def test_copies_and_rotation(
    w: float, h: float, copies: int, rotation: bool, rotated: bool, per_row: int, length_mm: float
) -> None:
    p = params(allow_rotation=rotation, copy_gap_mm=5)
    st = design_stats(drawing(rect_path(0, 0, w, h)), p)
    lay = choose_layout(st, p, copies)
    assert (lay.rotated, lay.per_row) == (rotated, per_row)
    assert lay.extent_u == pytest.approx(length_mm)
    assert lay.fits


def test_copies_are_cut_apart_and_all_present() -> None:
    d = drawing(rect_path(0, 0, 30, 20))
    result = plan(d, params(copy_gap_mm=5, allow_rotation=False), copies=3)
    boxes = sorted(tuple(np.round(p.points.min(axis=0), 6)) for p in result.tip_paths)
    assert boxes == [(0.0, 0.0), (0.0, 25.0), (0.0, 50.0)]


def test_too_wide_for_the_roll() -> None:
    d = drawing(rect_path(0, 0, 700, 700))
    with pytest.raises(FileRejected, match=r"700\.0 mm wide even turned, the roll only 610 mm"):
        plan(d, params(), strict=True)
    result = plan(d, params())
    assert result.warnings and not result.layout.fits


def test_the_alignment_cut_comes_first_outside_the_design() -> None:
    result = plan(drawing(rect_path(0, 0, 10, 10)), params(lead_in_mm=2.0))
    first = result.tip_paths[0]
    assert first.kind == "lead_in" and length(first.points) == pytest.approx(2.0)
    design = result.tip_paths[1].points
    assert design[:, 0].min() == pytest.approx(2.0 + LEAD_IN_GAP_MM)


@pytest.mark.parametrize(
    ("size", "settings", "problem"),
    [
        ((600, 100), {}, None),
        ((100, 600), {}, None),
        ((620, 620), {}, "620.0 mm wide even when turned"),
        ((100, 620), {"allow_rotation": False}, "620.0 mm wide, 10.0 mm more"),
        ((600, 100), {"weeding_border": True, "weeding_margin_mm": 10}, None),
        ((100, 600), {"weeding_border": True, "weeding_margin_mm": 10}, None),
        ((600, 600), {"weeding_border": True, "weeding_margin_mm": 10}, "margin included"),
        ((6000, 100), {}, "6000.0 mm long"),
    ],
)
def test_fit_problems(
    size: tuple[float, float], settings: dict[str, object], problem: str | None
) -> None:
    w, h = size
    analysis = Analysis(
        kind=MachineKind.vinyl_cutter,
        file_type="svg",
        analyzer="t",
        bounds=Bounds(min_x=0, min_y=0, max_x=w, max_y=h),
    )
    problems = CutterParams.model_validate(settings).fit_problems(analysis)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]
