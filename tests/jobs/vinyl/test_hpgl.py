"""HP-GL: the writer's dialects, the reader, the device frame, and an outside check:
hp2xx (an independent HP-GL interpreter) renders what we write without complaint, and
what it understood reads back to the design within 0.05 mm."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from jobs.params.cutter import CutterParams, HpglDialect
from jobs.vinyl import hpgl
from jobs.vinyl import plan as cut_plan
from jobs.vinyl.geometry import length, resample
from jobs.vinyl.svg.read import read_svg
from tests.support.tools import needs
from tests.support.vinyl import SVG_DIR, svg

pytestmark = needs("hp2xx")

SQUARE = [np.array([[40, 40], [440, 40], [440, 440], [40, 440], [40, 40]], dtype=np.int64)]
PEN = {"blade_offset_mm": 0.0, "lead_in_mm": 0.0, "overcut_mm": 0.0}


def text(strokes: list[np.ndarray], **dialect: object) -> str:
    return hpgl.write(strokes, HpglDialect.model_validate(dialect), 100.0).decode()


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ({}, "IN;SP1;VS10;PU40,40;PD440,40;PD440,440;PD40,440;PD40,40;PU;SP0;"),
        (
            {"pen_moves": "separate"},
            "IN;SP1;VS10;PU;PA40,40;PD;PA440,40;PA440,440;PA40,440;PA40,40;PU;SP0;",
        ),
        (
            {"coordinates": "relative"},
            "IN;SP1;VS10;PA;PU40,40;PR;PD400,0;PD0,400;PD-400,0;PD0,-400;PA;PU;SP0;",
        ),
        (
            {"pairs_per_command": 3},
            "IN;SP1;VS10;PU40,40;PD440,40,440,440,40,440;PD40,40;PU;SP0;",
        ),
        (
            {"takes_vs": False, "pen": None, "init": "", "end": ""},
            "PU40,40;PD440,40;PD440,440;PD40,440;PD40,40;PU;",
        ),
        ({"takes_fs": True, "force_g": 80, "vs_unit": "mm_s"}, "IN;SP1;VS100;FS80;PU40,40;"),
        ({"end_move": "origin"}, "PD40,40;PU0,0;PU;SP0;"),
        ({"end_move": "past_job"}, "PD40,40;PU840,0;PU;SP0;"),
        ({"newline": True}, "IN;\nSP1;\nVS10;\nPU40,40;\nPD440,40;\n"),
    ],
)
def test_dialects(dialect: dict[str, object], expected: str) -> None:
    out = text(SQUARE, **dialect)
    assert expected in out
    if "end" not in dialect:
        assert out.endswith("SP0;" + ("\n" if dialect.get("newline") else ""))
    # One lift at the end is enough: the end sequence's own PU does it.
    assert "PU;PU;" not in out.replace("\n", "")


def test_repeated_points_are_not_sent_twice() -> None:
    stroke = np.array([[0, 0], [0, 0], [10, 0], [10, 0], [10, 5]], dtype=np.int64)
    assert text([stroke], init="", end="", pen=None, takes_vs=False).count("PD") == 2


def test_negative_coordinates_are_refused() -> None:
    with pytest.raises(hpgl.HpglError, match="negative"):
        text([np.array([[0, 0], [-1, 5]], dtype=np.int64)])


def test_force_needs_a_machine_that_takes_it() -> None:
    with pytest.raises(ValueError, match="takes_fs"):
        HpglDialect(force_g=100)


@pytest.mark.parametrize(
    "dialect",
    [
        {},
        {"coordinates": "relative"},
        {"pen_moves": "separate"},
        {"pairs_per_command": 7},
        {"pen_moves": "separate", "coordinates": "relative", "newline": True},
    ],
)
def test_the_reader_reads_every_dialect_back(dialect: dict[str, object]) -> None:
    rng = np.random.default_rng(3)
    strokes = [rng.integers(0, 5000, size=(rng.integers(2, 30), 2)) for _ in range(20)]
    doc = hpgl.read(text(strokes, **dialect).encode())
    assert len(doc.strokes) == 20
    for ours, back in zip(strokes, doc.strokes, strict=True):
        keep = np.concatenate([[True], np.any(ours[1:] != ours[:-1], axis=1)])
        assert np.array_equal(ours[keep], back)


def test_the_reader_skips_device_control_and_labels() -> None:
    data = b"\x1b.@;0:\x1b.B IN;SP1;LBHello\x03PU0,0;PD10,0 PD10,10\nPU;CI5;"
    doc = hpgl.read(data)
    assert [s.tolist() for s in doc.strokes] == [[[0, 0], [10, 0], [10, 10]]]
    assert doc.unsupported == {"LB": 1, "CI": 1}
    assert data[doc.preamble_end : doc.preamble_end + 2] == b"PU"


@pytest.mark.parametrize(
    ("swap", "mx", "my", "up"), list(itertools.product([False, True], repeat=4))
)
def test_device_frame_round_trip(swap: bool, mx: bool, my: bool, up: bool) -> None:
    dialect = HpglDialect(
        swap_xy=swap,
        mirror_x=mx,
        mirror_y=my,
        y_axis_up=up,
        origin_x_mm=3,
        origin_y_mm=2,
        calibration_x=1.01,
    )
    frame = hpgl.DeviceFrame(dialect, extent_u=120.0, extent_v=80.0)
    pts = np.array([[0.0, 0.0], [120.0, 80.0], [30.0, 10.0], [120.0, 0.0]])
    steps = frame.to_steps(pts)
    assert steps.min() >= 0
    assert frame.to_layout(steps.astype(float)) == pytest.approx(pts, abs=0.0125)
    # The job's box lands at the origin offsets, whatever the axes do.
    assert steps.min(axis=0).tolist() == pytest.approx([3 * 40 * 1.01, 2 * 40], abs=1)


def hp2xx(path: Path, tmp: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """Run hp2xx on ``path``; return the coordinate minimum it reports and the strokes
    of its own HP-GL rendering (shifted to start at 0,0)."""
    out = tmp / "hp2xx-out.hpgl"
    run = subprocess.run(
        ["hp2xx", "-m", "hpgl", "-t", "-f", str(out), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    assert "Error" not in log, log
    assert re.search(r"HPGL command\(s\) ignored:\s+0\b", log), log
    assert re.search(r"Unexpected event\(s\):\s+0\b", log), log
    found = re.search(r"Coordinate range: \((-?[\d.]+), (-?[\d.]+)\)", log)
    assert found, log
    origin = np.array([float(found.group(1)), float(found.group(2))])
    return origin, hpgl.read(out.read_bytes()).strokes


@pytest.mark.parametrize(
    ("source", "dialect"),
    [
        ("inkscape-silhouette/fablab_logo_stencil.svg", {}),
        ("inkscape-silhouette/gecko_silhouette.svg", {"coordinates": "relative"}),
        ("inkscape-silhouette/sharp_turns.svg", {"pen_moves": "separate", "swap_xy": True}),
        ("inkcut/arc-rotated-path.svg", {"mirror_x": True, "steps_per_mm": 39.37}),
        ("inkcut/scale-ScaleTest-mm-with-viewbox.svg", {"y_axis_up": False}),
    ],
)
def test_hp2xx_renders_it_and_it_reads_back_to_the_design(
    tmp_path: Path, source: str, dialect: dict[str, object]
) -> None:
    params = CutterParams.model_validate({**PEN, "hpgl": dialect})
    drawing = read_svg(SVG_DIR / source, params.curve_tolerance_mm)
    plan = cut_plan.plan(drawing, params)
    frame = hpgl.DeviceFrame(params.hpgl, plan.layout.extent_u, plan.layout.extent_v)
    data = hpgl.write([frame.to_steps(h) for h in plan.holder], params.hpgl, 100.0)
    path = tmp_path / "job.hpgl"
    path.write_bytes(data)

    origin, strokes = hp2xx(path, tmp_path)
    assert strokes
    ours = hpgl.read(data).strokes
    ours_min = np.min([s.min(axis=0) for s in ours], axis=0)
    assert origin == pytest.approx(ours_min, abs=0.5)  # hp2xx saw the same coordinate box
    back = [frame.to_layout(s + origin) for s in strokes]
    design = [p.points for p in plan.tip_paths]
    design_pts = np.vstack([resample(d, 0.05) for d in design])
    back_pts = np.vstack([resample(b, 0.05) for b in back])
    # Every bit of the design was cut, and nothing was cut away from it.
    assert cKDTree(back_pts).query(design_pts)[0].max() <= 0.05
    assert cKDTree(design_pts).query(back_pts)[0].max() <= 0.05


def test_the_converted_file_is_what_hp2xx_accepts(tmp_path: Path) -> None:
    path = svg(
        tmp_path, '<circle cx="50" cy="50" r="20"/><rect x="10" y="10" width="5" height="5"/>'
    )
    params = CutterParams()
    plan = cut_plan.plan(read_svg(path), params)
    frame = hpgl.DeviceFrame(params.hpgl, plan.layout.extent_u, plan.layout.extent_v)
    out = tmp_path / "j.hpgl"
    out.write_bytes(hpgl.write([frame.to_steps(h) for h in plan.holder], params.hpgl, 100))
    _, strokes = hp2xx(out, tmp_path)
    theirs = sum(length(s) for s in strokes)
    ours = sum(length(s) for s in hpgl.read(out.read_bytes()).strokes)
    assert theirs == pytest.approx(ours, rel=1e-6)
