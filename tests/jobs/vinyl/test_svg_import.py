"""SVG import: units, viewports, transforms, references, visibility, shapes, paths."""

from __future__ import annotations

import math
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeET
import numpy as np
import pytest
from svgpathtools import parse_path as reference_path

from jobs.base import FileRejected
from jobs.vinyl.geometry import bounds, distance_to_polyline, length
from jobs.vinyl.svg.read import read_svg
from jobs.vinyl.svg.units import apply, parse_transform
from tests.support.vinyl import SCALE_FILES, STENCIL, SVG_DIR, svg


def box(path: Path, **kw: float) -> tuple[float, ...]:
    d = read_svg(path, **kw)
    b = bounds(d.paths)
    assert b is not None
    return b


@pytest.mark.parametrize("path", SCALE_FILES, ids=lambda p: p.name)
def test_inkcut_scale_files_all_give_the_same_rectangle(path: Path) -> None:
    d = read_svg(path)
    assert len(d.paths) == 1 and d.paths[0].closed
    assert box(path) == pytest.approx((30.0, 50.0, 50.0, 60.0), abs=0.01)


def test_every_unit_system_of_the_scale_set_is_covered() -> None:
    names = " ".join(p.name for p in SCALE_FILES)
    for unit in ("cm", "in", "mm", "pt", "px-with-viewbox-old-inkscape", "without-inkscape"):
        assert unit in names


@pytest.mark.parametrize(
    ("root", "expected_width_mm"),
    [
        ('width="50mm" height="50mm" viewBox="0 0 100 100"', 5.0),
        ('width="5cm" height="5cm" viewBox="0 0 100 100"', 5.0),
        ('width="2in" height="2in" viewBox="0 0 100 100"', 5.08),
        ('width="144pt" height="144pt" viewBox="0 0 100 100"', 5.08),
        ('width="12pc" height="12pc" viewBox="0 0 100 100"', 5.08),
        ('width="200Q" height="200Q" viewBox="0 0 100 100"', 5.0),
        ('width="192px" height="192px" viewBox="0 0 100 100"', 5.08),
        ('width="192" height="192"', 25.4 * 10 / 96),
        ('viewBox="0 0 100 100"', 25.4 * 10 / 96),
        (
            'width="192" height="192" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
            'inkscape:version="0.48.4 r9939"',
            25.4 * 10 / 90,
        ),
        ('width="50mm" viewBox="0 0 100 50"', 5.0),
    ],
)
def test_document_units(tmp_path: Path, root: str, expected_width_mm: float) -> None:
    x0, _, x1, _ = box(svg(tmp_path, '<rect x="0" y="0" width="10" height="10"/>', root))
    assert x1 - x0 == pytest.approx(expected_width_mm, abs=1e-6)


def test_units_inside_the_drawing_go_through_the_view_box(tmp_path: Path) -> None:
    # resvg shapes/rect/mm-values: 5mm is 18.9 user units at 96 dpi, then the viewBox.
    root = 'width="200mm" height="200mm" viewBox="0 0 100 100"'
    x0, y0, x1, _ = box(svg(tmp_path, '<rect x="5mm" y="1in" width="10mm" height="1"/>', root))
    assert x0 == pytest.approx(5 * 96 / 25.4 * 2)
    assert y0 == pytest.approx(96 * 2)
    assert x1 - x0 == pytest.approx(10 * 96 / 25.4 * 2)


@pytest.mark.parametrize(
    ("par", "expected"),
    [
        ("xMidYMid", (50.0, 0.0, 100.0, 50.0)),
        ("xMinYMin", (0.0, 0.0, 50.0, 50.0)),
        ("xMaxYMax meet", (100.0, 0.0, 150.0, 50.0)),
        ("xMidYMid slice", (0.0, -50.0, 150.0, 100.0)),
        ("none", (0.0, 0.0, 150.0, 50.0)),
    ],
)
def test_view_box_aspect_ratio(tmp_path: Path, par: str, expected: tuple[float, ...]) -> None:
    root = f'width="150mm" height="50mm" viewBox="0 0 100 100" preserveAspectRatio="{par}"'
    assert box(svg(tmp_path, '<rect width="100" height="100"/>', root)) == pytest.approx(expected)


def test_view_box_not_at_the_origin(tmp_path: Path) -> None:
    root = 'width="100mm" height="100mm" viewBox="-50 20 100 100"'
    assert box(svg(tmp_path, '<rect x="-50" y="20" width="10" height="5"/>', root)) == (
        pytest.approx((0.0, 0.0, 10.0, 5.0))
    )


def test_nested_transforms(tmp_path: Path) -> None:
    body = (
        '<g transform="translate(10,20)"><g transform="rotate(90)">'
        '<rect transform="scale(2,1)" width="5" height="3"/></g></g>'
    )
    # scale: (0..10, 0..3); rotate 90: x' = -y, y' = x -> (-3..0, 0..10); translate.
    assert box(svg(tmp_path, body)) == pytest.approx((7.0, 20.0, 10.0, 30.0))


def test_transform_origin_and_css_transform(tmp_path: Path) -> None:
    body = (
        "<style>#b { transform: scale(2) }</style>"
        '<rect id="a" x="40" y="40" width="20" height="20" transform="rotate(90)" '
        'transform-origin="50 50"/>'
        '<rect id="b" x="1" y="1" width="2" height="2"/>'
    )
    d = read_svg(svg(tmp_path, body))
    assert bounds(d.paths[:1]) == pytest.approx((40.0, 40.0, 60.0, 60.0))
    assert bounds(d.paths[1:]) == pytest.approx((2.0, 2.0, 6.0, 6.0))


def test_use_and_symbol(tmp_path: Path) -> None:
    body = (
        '<defs><rect id="r" width="10" height="10"/></defs>'
        '<symbol id="s" viewBox="0 0 10 10"><circle cx="5" cy="5" r="5"/></symbol>'
        '<use href="#r" x="5" y="5"/>'
        '<use xlink:href="#s" x="50" y="50" width="20" height="20"/>'
        '<g id="g"><use href="#r" transform="translate(80,0)"/></g>'
        '<use href="#g" y="80"/>'
    )
    d = read_svg(svg(tmp_path, body))
    boxes = [bounds([p]) for p in d.paths]
    assert boxes == [
        pytest.approx((5.0, 5.0, 15.0, 15.0)),
        pytest.approx((50.0, 50.0, 70.0, 70.0), abs=1e-6),
        pytest.approx((80.0, 0.0, 90.0, 10.0)),
        pytest.approx((80.0, 80.0, 90.0, 90.0)),
    ]


def test_recursive_use_is_left_out_with_a_warning(tmp_path: Path) -> None:
    body = '<use id="a" href="#b"/><use id="b" href="#a"/><g id="c"><use href="#c"/></g>'
    body += '<rect width="1" height="1"/>'
    d = read_svg(svg(tmp_path, body))
    assert len(d.paths) == 1
    assert any("refers to itself" in w for w in d.warnings)


def test_use_cannot_multiply_into_billions(tmp_path: Path) -> None:
    body = '<rect id="l0" width="1" height="1"/>'
    for level in range(1, 9):  # 10^8 rectangles once expanded
        body += f'<g id="l{level}">' + f'<use href="#l{level - 1}"/>' * 10 + "</g>"
    with pytest.raises(FileRejected, match="shapes once its <use> copies"):
        read_svg(svg(tmp_path, f"<defs>{body}</defs><use href='#l8'/>"))


def test_nested_svg_viewport(tmp_path: Path) -> None:
    body = (
        '<svg x="10" y="20" width="40" height="20" viewBox="0 0 4 2">'
        '<rect width="4" height="2"/><rect x="50%" width="1" height="1"/></svg>'
    )
    d = read_svg(svg(tmp_path, body))
    assert bounds(d.paths[:1]) == pytest.approx((10.0, 20.0, 50.0, 40.0))
    assert bounds(d.paths[1:]) == pytest.approx((30.0, 20.0, 40.0, 30.0))


@pytest.mark.parametrize(
    "hidden",
    [
        '<rect display="none" width="5" height="5"/>',
        '<rect style="display:none" width="5" height="5"/>',
        '<g style="display: none"><rect width="5" height="5"/></g>',
        '<style>.off{display:none}</style><g class="layer off"><rect width="5" height="5"/></g>',
        '<style>g#h > rect{visibility:hidden}</style><g id="h"><rect width="5" height="5"/></g>',
        '<rect visibility="hidden" width="5" height="5"/>',
        '<g xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
        'inkscape:groupmode="layer" style="display:none"><path d="M0 0 L5 5"/></g>',
        '<rect fill="none" width="5" height="5"/>',
        '<defs><rect width="5" height="5"/></defs>',
        '<clipPath><rect width="5" height="5"/></clipPath>',
        '<unknown-element><rect width="5" height="5"/></unknown-element>',
    ],
)
def test_hidden_content_is_not_cut(tmp_path: Path, hidden: str) -> None:
    d = read_svg(svg(tmp_path, hidden + '<rect x="50" y="50" width="1" height="1"/>'))
    assert [bounds([p]) for p in d.paths] == [pytest.approx((50.0, 50.0, 51.0, 51.0))]


def test_visible_child_of_a_hidden_group_is_cut(tmp_path: Path) -> None:
    body = '<g visibility="hidden"><rect width="5" height="5" visibility="visible"/></g>'
    assert len(read_svg(svg(tmp_path, body)).paths) == 1


@pytest.mark.parametrize(
    ("shape", "closed", "expected_length"),
    [
        ('<rect width="20" height="10"/>', True, 60.0),
        ('<rect width="20" height="10" rx="2"/>', True, 60 - 16 + 2 * math.pi * 2),
        ('<rect width="20" height="10" rx="15" ry="2"/>', True, None),
        ('<circle cx="50" cy="50" r="10"/>', True, 2 * math.pi * 10),
        ('<ellipse cx="50" cy="50" rx="20" ry="10"/>', True, 96.8845),
        ('<line x1="0" y1="0" x2="30" y2="40"/>', False, 50.0),
        ('<polyline points="0,0 10,0 10,10"/>', False, 20.0),
        ('<polygon points="0,0 10,0 10,10"/>', True, 20 + math.hypot(10, 10)),
    ],
)
def test_basic_shapes(
    tmp_path: Path, shape: str, closed: bool, expected_length: float | None
) -> None:
    d = read_svg(svg(tmp_path, shape.replace("/>", ' stroke="black" fill="none"/>')))
    assert len(d.paths) == 1
    p = d.paths[0]
    assert p.closed is closed
    if expected_length is not None:
        assert length(p.points) == pytest.approx(expected_length, rel=2e-3)
    if 'rx="15"' in shape:  # rx clamped to half the width: ends are half-ellipses
        assert bounds([p]) == pytest.approx((0.0, 0.0, 20.0, 10.0))


def test_curves_are_flattened_within_the_tolerance(tmp_path: Path) -> None:
    d = read_svg(svg(tmp_path, '<circle cx="50" cy="50" r="40"/>'), tolerance_mm=0.02)
    pts = d.paths[0].points
    seg_mid = (pts[:-1] + pts[1:]) / 2
    radial = np.hypot(*(seg_mid - 50).T)
    assert 40 - radial.max() < 0.02 + 1e-4  # the chords sag at most the tolerance
    assert np.hypot(*(pts - 50).T) == pytest.approx(40, abs=2e-4)


ALL_COMMANDS = (
    "M 10 10 L 20 10 l 5 5 H 40 h 5 V 30 v 5 C 50 40 60 40 60 30 c 0 -5 5 -5 5 0 "
    "S 75 40 80 30 s 5 -5 10 0 Q 95 20 90 10 q -5 -5 -10 0 T 60 10 t -10 0 "
    "A 10 5 30 0 1 30 20 a 5 8 -20 1 0 -10 0 Z m 5 50 l 10 0 z"
)


def test_every_path_command_matches_svgpathtools(tmp_path: Path) -> None:
    # svgpathtools reads untransformed path data correctly: it is the oracle here.
    d = read_svg(svg(tmp_path, f'<path d="{ALL_COMMANDS}"/>'))
    ref = reference_path(ALL_COMMANDS)
    ref_subpaths = ref.continuous_subpaths()
    assert len(d.paths) == len(ref_subpaths) == 2
    for ours, theirs in zip(d.paths, ref_subpaths, strict=True):
        t = np.linspace(0, 1, 4000)
        pts = np.array([theirs.point(v) for v in t])
        ref_xy = np.stack([pts.real, pts.imag], axis=1)
        assert distance_to_polyline(ref_xy, ours.points).max() < 0.021
        assert length(ours.points) == pytest.approx(theirs.length(), rel=1e-3)


@pytest.mark.parametrize(
    "transform",
    ["scale(2,1)", "scale(1,-1)", "skewX(30)", "rotate(33) scale(1,3)", "matrix(0,1,1,0,0,0)"],
)
def test_rotated_arcs_survive_mirror_skew_and_axis_swap(tmp_path: Path, transform: str) -> None:
    # svgpathtools gets these wrong by up to 57 units (research §5.2; upstream #126).
    arc = "M 10 50 A 40 20 30 1 1 90 50"
    d = read_svg(
        svg(
            tmp_path,
            f'<path transform="{transform}" d="{arc}"/>',
            'viewBox="-500 -500 1000 1000" width="1000mm" height="1000mm"',
        )
    )
    ref = reference_path(arc)
    t = np.linspace(0, 1, 3000)
    pts = np.array([ref.point(v) for v in t])
    exact = apply(parse_transform(transform), np.stack([pts.real, pts.imag], axis=1)) + 500
    assert distance_to_polyline(exact, d.paths[0].points).max() < 0.021


def test_malformed_path_data_is_cut_up_to_the_error(tmp_path: Path) -> None:
    d = read_svg(svg(tmp_path, '<path id="p" d="M 10 10 L 20 10 L 30 x 40 L 50 50"/>'))
    assert bounds(d.paths) == pytest.approx((10.0, 10.0, 20.0, 10.0))
    assert any("path p" in w and "cut up to there" in w for w in d.warnings)


def test_arc_flags_without_separators(tmp_path: Path) -> None:
    a = read_svg(svg(tmp_path, '<path d="M10 30a10 10 0 0110 0"/>', name="a.svg"))
    b = read_svg(svg(tmp_path, '<path d="M10 30 a10 10 0 0 1 10 0"/>', name="b.svg"))
    assert np.allclose(a.paths[0].points, b.paths[0].points)


def test_document_order_is_kept(tmp_path: Path) -> None:
    body = (
        '<path id="a" d="M0 0 L1 0"/><rect id="b" x="5" width="1" height="1"/>'
        '<g><path id="c" d="M10 0 L11 0"/></g><g><circle id="d" cx="20" cy="0" r="1"/></g>'
    )
    assert [p.source for p in read_svg(svg(tmp_path, body)).paths] == ["a", "b", "c", "d"]


def test_text_is_refused_with_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as err:
        read_svg(svg(tmp_path, '<g><text x="1" y="10">Boulangerie</text></g>'))
    message = str(err.value)
    assert "Boulangerie" in message and "Object to Path" in message


@pytest.mark.parametrize(
    "body",
    [
        '<text x="1" y="1"> </text>',
        '<defs><text id="t">Hidden</text></defs>',
        '<text style="display:none">Hidden</text>',
    ],
)
def test_text_that_draws_nothing_is_not_refused(tmp_path: Path, body: str) -> None:
    d = read_svg(svg(tmp_path, body + '<rect width="1" height="1"/>'))
    assert len(d.paths) == 1


def square(x: float, y: float, size: float, clockwise: bool = True) -> str:
    pts = [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
    if not clockwise:
        pts.reverse()
    return "M " + " L ".join(f"{a} {b}" for a, b in pts) + " Z"


@pytest.mark.parametrize(
    ("rule", "inner_clockwise", "kept"),
    [("nonzero", True, 1), ("nonzero", False, 2), ("evenodd", True, 2), ("evenodd", False, 2)],
)
def test_fill_rule_decides_which_contours_are_edges(
    tmp_path: Path, rule: str, inner_clockwise: bool, kept: int
) -> None:
    d = f"{square(0, 0, 40)} {square(10, 10, 10, inner_clockwise)}"
    drawing = read_svg(svg(tmp_path, f'<path fill-rule="{rule}" d="{d}"/>'))
    assert len(drawing.paths) == kept
    if kept == 1:
        assert any("fill rule makes invisible" in w for w in drawing.warnings)


def test_stroked_contours_are_always_cut(tmp_path: Path) -> None:
    d = f"{square(0, 0, 40)} {square(10, 10, 10)}"
    drawing = read_svg(svg(tmp_path, f'<path fill="none" stroke="black" d="{d}"/>'))
    assert len(drawing.paths) == 2


def test_stencil_visible_layer_only() -> None:
    d = read_svg(STENCIL)
    # vpype (which reads the visible layer) finds 821 paths; all three layers hold 3467.
    assert len(d.paths) == 821
    assert d.details["px_per_inch"] == 90.0
    x0, y0, x1, y1 = bounds(d.paths) or (0, 0, 0, 0)
    assert x0 > 0 and x1 < 210 and y0 > 0 and y1 < 297  # on its A4 page, in mm


@pytest.mark.parametrize(
    "invisible",
    [
        '<rect opacity="0" width="90" height="90"/>',
        '<rect style="opacity:0" width="90" height="90"/>',
        '<rect opacity="0%" width="90" height="90"/>',
        '<g opacity="0"><rect width="90" height="90" opacity="1"/></g>',
        '<g opacity="0.5"><rect width="90" height="90" opacity="0"/></g>',
        '<rect fill-opacity="0" width="90" height="90"/>',
        '<g fill-opacity="0"><rect width="90" height="90"/></g>',
        '<rect fill="red" fill-opacity="0" stroke="blue" stroke-opacity="0" '
        'width="90" height="90"/>',
        '<style>.bg{fill-opacity:0}</style><rect class="bg" width="90" height="90"/>',
    ],
)
def test_transparent_shapes_are_not_cut(tmp_path: Path, invisible: str) -> None:
    d = read_svg(svg(tmp_path, invisible + '<rect x="50" y="50" width="1" height="1"/>'))
    assert [bounds([p]) for p in d.paths] == [pytest.approx((50.0, 50.0, 51.0, 51.0))]
    assert any("invisible" in w for w in d.warnings)


@pytest.mark.parametrize(
    "shape",
    [
        '<rect fill-opacity="0" stroke="black" width="9" height="9"/>',
        '<rect opacity="0.01" width="9" height="9"/>',
        '<g fill-opacity="0"><rect fill-opacity="1" width="9" height="9"/></g>',
    ],
)
def test_faint_or_stroked_shapes_are_cut(tmp_path: Path, shape: str) -> None:
    assert len(read_svg(svg(tmp_path, shape)).paths) == 1


def test_svgpathtools_and_the_strict_reader_agree_on_every_corpus_path() -> None:
    # The strict reader stays for malformed data only: on what svgpathtools takes, both
    # must give the same subpaths (boundaries, closedness, control points).
    from jobs.vinyl.svg import path as svg_path

    taken = 0
    for file in sorted(SVG_DIR.rglob("*.svg")):
        try:
            root = SafeET.parse(str(file)).getroot()
        except (SafeET.ParseError, ValueError, defusedxml.DefusedXmlException):
            continue
        for el in root.iter():
            d = el.get("d") if isinstance(el.tag, str) and el.tag.endswith("path") else None
            fast = svg_path._read_with_svgpathtools(d) if d else None
            if fast is None:
                continue
            taken += 1
            strict = svg_path._StrictReader(d or "", svg_path.Budget(10**9, 10**9))
            assert strict.run() is None, (file.name, d[:60] if d else "")
            slow = strict.b.done
            assert len(fast) == len(slow), (file.name, d[:60] if d else "")
            for a, b in zip(fast, slow, strict=True):
                assert a.ctrl.shape == b.ctrl.shape
                assert np.allclose(a.ctrl, b.ctrl, atol=1e-9)
                assert a.closed == b.closed or np.array_equal(a.ctrl[0, 0], a.ctrl[-1, 3])
    assert taken > 1000


@pytest.mark.parametrize(
    "d",
    [
        "M 100 100 h -25 a 25 25 0 -1 0 25 -25 z",  # a flag of -1
        "M 100 100 h 25 a25 25 0 6 0 -25 25 z",  # a flag of 6
        "M 10 10 L 20 10 L 30 x 40 L 50 50",  # svgpathtools would draw to (30, 40)
        "M 10 10 L 20 10 1e 5",
    ],
)
def test_data_svgpathtools_would_misread_goes_to_the_strict_reader(tmp_path: Path, d: str) -> None:
    drawing = read_svg(svg(tmp_path, f'<path id="p" d="{d}" fill="none" stroke="black"/>'))
    assert any("path p" in w and "cut up to there" in w for w in drawing.warnings)


def test_a_relative_moveto_after_a_closepath_starts_from_the_subpath_start(tmp_path: Path) -> None:
    d = "M 10 10 h 10 v 10 h -10 z m 30 0 h 10 v 10 h -10 z"
    drawing = read_svg(svg(tmp_path, f'<path d="{d}"/>'))
    assert [bounds([p]) for p in drawing.paths] == [
        pytest.approx((10.0, 10.0, 20.0, 20.0)),
        pytest.approx((40.0, 10.0, 50.0, 20.0)),
    ]
