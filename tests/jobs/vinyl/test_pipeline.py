"""The vinyl entry points: analysis figures, preview, conversion, HP-GL brought as is."""

from __future__ import annotations

from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from jobs import registry
from jobs.base import AnalysisError, FileRejected, Quantity
from jobs.params.cutter import CutterParams
from jobs.vinyl import analysis as vinyl
from jobs.vinyl import hpgl
from tests.support.vinyl import SCALE_FILES, STENCIL, svg

PEN = {"blade_offset_mm": 0.0, "lead_in_mm": 0.0, "overcut_mm": 0.0}


def test_analysis_of_the_stencil_page() -> None:
    a = vinyl.analyze_svg(STENCIL, CutterParams())
    assert a.kind == "vinyl_cutter" and a.analyzer == "vinyl-svg"
    assert a.counts == {Quantity.PATHS: 821, Quantity.PIECES: 820, Quantity.COUNTERS: 0}
    assert a.material[Quantity.CUT_LENGTH_MM] == pytest.approx(15_950, rel=0.01)  # 56 546 px
    d = a.details
    assert d["travel_mm"] < d["travel_document_order_mm"]
    assert a.duration_s == pytest.approx(max(d["geometry_s"], d["transmission_s"]), abs=0.1)
    # 9600 baud is ten bits a byte: the HP-GL alone takes this long to send.
    assert d["transmission_s"] == pytest.approx(d["hpgl_bytes"] * 10 / 9600, abs=0.1)
    assert a.material[Quantity.VINYL_AREA_MM2] == pytest.approx(
        a.material[Quantity.VINYL_LENGTH_MM] * 610, rel=1e-4
    )


def test_transmission_or_geometry_whichever_is_longer(tmp_path: Path) -> None:
    path = svg(tmp_path, '<rect width="80" height="40"/>')
    slow_line = vinyl.analyze_svg(path, CutterParams(baud=300))
    fast_line = vinyl.analyze_svg(path, CutterParams(baud=115200))
    assert slow_line.duration_s == pytest.approx(slow_line.details["transmission_s"], abs=0.1)
    assert fast_line.duration_s == pytest.approx(fast_line.details["geometry_s"], abs=0.1)
    slow_knife = vinyl.analyze_svg(path, CutterParams(baud=115200, cut_speed_mm_s=10))
    assert slow_knife.details["geometry_s"] > 24  # 240 mm at 10 mm/s


def test_material_without_a_machine_is_the_box_and_margin(tmp_path: Path) -> None:
    a = vinyl.analyze_svg(svg(tmp_path, '<rect width="80" height="40"/>'), None)
    assert a.material[Quantity.VINYL_AREA_MM2] == pytest.approx(80 * 40)
    assert a.bounds is not None and a.bounds.size[:2] == pytest.approx((80, 40))


@pytest.mark.parametrize("path", SCALE_FILES[:2], ids=lambda p: p.name)
def test_bounds_are_the_design_in_millimetres(path: Path) -> None:
    b = vinyl.analyze_svg(path, CutterParams()).bounds
    assert b is not None
    assert (b.min_x, b.min_y, b.max_x, b.max_y) == pytest.approx((30, 50, 50, 60), abs=0.01)


def test_preview_is_an_svg_at_real_scale(tmp_path: Path) -> None:
    path = svg(
        tmp_path, '<rect x="10" y="10" width="80" height="40"/><circle cx="50" cy="80" r="5"/>'
    )
    params = CutterParams(allow_rotation=False)
    a = vinyl.analyze_svg(path, params)
    pic = vinyl.preview_svg(path, params, a)
    assert pic.media_type == "image/svg+xml"
    root = SafeET.fromstring(pic.data)
    assert root.get("width", "").endswith("mm")
    width = float(root.get("width", "0mm")[:-2])
    assert width == pytest.approx(a.details["layout_mm"][0], abs=0.01)
    assert float(root.get("height", "0mm")[:-2]) == pytest.approx(610)  # the roll
    classes = {el.get("class") for el in root.iter() if el.get("class")}
    assert {"design", "travel", "lead_in"} <= classes


def test_convert_writes_what_the_analysis_announced(tmp_path: Path) -> None:
    params = CutterParams()
    art = vinyl.convert_svg(STENCIL, params, tmp_path)
    a = vinyl.analyze_svg(STENCIL, params)
    assert art.file_type == "hpgl" and art.path.suffix == ".hpgl"
    assert art.path.stat().st_size == a.details["hpgl_bytes"]
    doc = hpgl.read(art.path.read_bytes())
    assert len(doc.strokes) == 821 + 1  # every path, and the alignment cut


def test_convert_lays_copies_out(tmp_path: Path) -> None:
    path = svg(tmp_path, '<rect width="100" height="50"/>')
    art = registry.convert(path, "svg", CutterParams(**PEN), tmp_path / "out", copies=4)
    assert art is not None
    assert art.details["copies_laid_out"] == 4
    assert len(hpgl.read(art.path.read_bytes()).strokes) == 4


def test_convert_refuses_what_does_not_fit(tmp_path: Path) -> None:
    path = svg(
        tmp_path,
        '<rect width="700" height="700"/>',
        'width="800mm" height="800mm" viewBox="0 0 800 800"',
    )
    a = vinyl.analyze_svg(path, CutterParams())
    assert CutterParams().fit_problems(a)
    with pytest.raises(FileRejected, match="roll"):
        vinyl.convert_svg(path, CutterParams(), tmp_path)


def test_nothing_visible_to_cut(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="nothing to cut"):
        vinyl.analyze_svg(svg(tmp_path, '<rect width="5" height="5" fill="none"/>'), None)


def test_hpgl_files_are_analysed_and_rewritten_in_the_machines_dialect(tmp_path: Path) -> None:
    path = tmp_path / "job.plt"
    path.write_bytes(b"IN;SP1;PU400,400;PD800,400,800,800,400,800,400,400;PU;IN;SP0;")
    a = registry.analyze(path, "plt", CutterParams())
    assert a.file_type == "plt" and a.analyzer == "vinyl-hpgl"
    assert a.material[Quantity.CUT_LENGTH_MM] == pytest.approx(40.0)
    assert a.counts[Quantity.PIECES] == 1
    assert a.bounds is not None and a.bounds.size[:2] == pytest.approx((10, 10))
    pic = registry.preview(path, "plt", CutterParams(), a)
    assert pic is not None and b"<svg" in pic.data
    art = registry.convert(path, "plt", CutterParams(), tmp_path / "out")
    assert art is not None and art.file_type == "hpgl"
    out = art.path.read_bytes()
    assert out.count(b"IN;") == 1  # the stray mid-job IN; is gone
    assert b"PD800,400;PD800,800;" in out  # one pair per command
    assert [s.tolist() for s in hpgl.read(out).strokes] == [
        [[400, 400], [800, 400], [800, 800], [400, 800], [400, 400]]
    ]


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"", AnalysisError, "no HP-GL commands"),
        (b"\x00\x01\x02binary" * 100, AnalysisError, "binary"),
        (b"IN;PU0,0;CI50;", FileRejected, "CI"),
        (b"IN;PU0,0;PD10;", AnalysisError, "odd number"),
        (b"IN;PU0,0;", FileRejected, "nothing to cut"),
    ],
)
def test_bad_hpgl(tmp_path: Path, content: bytes, error: type[Exception], words: str) -> None:
    path = tmp_path / "bad.hpgl"
    path.write_bytes(content)
    with pytest.raises(error, match=words):
        vinyl.analyze_hpgl(path, CutterParams())


def test_hpgl_with_negative_coordinates_cannot_be_sent(tmp_path: Path) -> None:
    path = tmp_path / "neg.hpgl"
    path.write_bytes(b"IN;PU-400,0;PD0,0;")
    a = vinyl.analyze_hpgl(path, CutterParams())
    assert any("negative" in w for w in a.warnings)
    with pytest.raises(FileRejected, match="negative"):
        vinyl.convert_hpgl(path, CutterParams(), tmp_path)


def test_registry_sends_svg_as_hpgl() -> None:
    spec = registry.ANALYZERS["svg"]
    assert registry.sendable_types(spec, "svg") == {"hpgl"}
    assert registry.sendable_types(registry.ANALYZERS["plt"], "plt") == {"hpgl"}
