"""3D models: mesh checks in words, then Debian's prusa-slicer as a limited process,
cached by content, into G-code the existing analysis reads."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from jobs.base import AnalysisError, FileRejected
from jobs.gcode import analyze as analyze_gcode
from jobs.models3d import (
    MAX_MESH_BYTES,
    SliceRequest,
    check_mesh,
    read_mesh,
    slice_model,
    trim_cache,
)
from jobs.models3d import slice as slicing
from jobs.params.printer import PrinterParams
from tests.support.factories import REPO
from tests.support.intake import (
    ascii_stl,
    binary_stl,
    box_3mf,
    box_obj,
    box_triangles,
    openscad,
)
from tests.support.tools import needs, require

needs_slicer = needs("prusa-slicer")
BED = (250.0, 210.0, 210.0)


def _request(tmp_path: Path, **changes: object) -> SliceRequest:
    base = SliceRequest(profiles_dir=REPO / "profiles" / "slicing", bed_mm=BED)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["binary", "ascii", "obj", "3mf"])
def test_every_format_gives_its_box_and_triangles(tmp_path: Path, kind: str) -> None:
    tris = box_triangles(20, 15, 10)
    path = {
        "binary": lambda: binary_stl(tmp_path / "b.stl", tris),
        "ascii": lambda: ascii_stl(tmp_path / "a.stl", tris),
        "obj": lambda: box_obj(tmp_path / "o.obj", 20, 15, 10),
        "3mf": lambda: box_3mf(tmp_path / "m.3mf", 20, 15, 10),
    }[kind]()
    info = read_mesh(path, "stl" if kind in ("binary", "ascii") else kind)
    assert info.triangles == 12
    assert info.size == pytest.approx((20, 15, 10))


def test_bad_meshes_are_explained_with_what_to_do(tmp_path: Path) -> None:
    empty = read_mesh(binary_stl(tmp_path / "e.stl", []), "stl")
    assert check_mesh(empty, BED) == ["the model is empty: it holds no triangles"]
    inches = read_mesh(binary_stl(tmp_path / "i.stl", box_triangles(1.5, 1.0, 1.2)), "stl")
    (why,) = check_mesh(inches, BED)
    assert "probably drawn in inches" in why and "scale=25.4" in why and "38 × 25 × 30 mm" in why
    assert check_mesh(inches, BED, scale=25.4) == []
    big = read_mesh(binary_stl(tmp_path / "big.stl", box_triangles(400, 100, 50)), "stl")
    (why,) = check_mesh(big, BED)
    assert "400 × 100 × 50 mm and the bed is 250 × 210 × 210 mm" in why
    # (250 - 2 × 8 mm for the skirt) / 400
    assert "scale=0.585" in why and "never scaled without asking" in why
    assert check_mesh(big, BED, scale=0.585) == []


def test_a_200_mb_mesh_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.stl"
    with huge.open("wb") as fh:
        fh.truncate(MAX_MESH_BYTES + 1)  # sparse: nothing is written, nothing is read
    with pytest.raises(FileRejected, match="meshes above 200 MB are refused before slicing"):
        read_mesh(huge, "stl")


def test_garbage_is_not_an_stl(tmp_path: Path) -> None:
    junk = tmp_path / "j.stl"
    junk.write_bytes(b"\x89PNG not a mesh at all" * 10)
    with pytest.raises(AnalysisError, match="not an STL file"):
        read_mesh(junk, "stl")


@pytest.fixture(scope="module")
def cylinder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("openscad")
    out = tmp_path_factory.mktemp("scad") / "cylinder.stl"
    return openscad(out, "$fn=64; difference() { cylinder(h=23, r=12); cylinder(h=30, r=8); }")


@needs_slicer
def test_the_sliced_gcode_prints_the_model_height_and_matches_the_slicer_time(
    cylinder: Path, tmp_path: Path
) -> None:
    result = slice_model(cylinder, "stl", _request(tmp_path), tmp_path / "cache")
    analysis = analyze_gcode(result.gcode, PrinterParams())
    assert analysis.bounds is not None
    assert analysis.bounds.max_z == pytest.approx(23.0, abs=0.2)
    slicer_s = analysis.details["slicer_duration_s"]
    assert analysis.duration_s == pytest.approx(slicer_s, rel=0.15)
    assert analysis.material["filament_mm"] > 100
    assert result.mesh_report["manifold"] == "yes"
    assert result.slicer_s > 0 and not result.cached


@pytest.mark.slow
@needs_slicer
def test_slicing_is_cached_by_content_and_a_profile_change_slices_again(
    cylinder: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    normal = slice_model(cylinder, "stl", _request(tmp_path), cache)
    again = slice_model(cylinder, "stl", _request(tmp_path), cache)
    assert again.cached and again.gcode == normal.gcode and again.slicer_s == 0
    draft = slice_model(cylinder, "stl", _request(tmp_path, preset="brouillon"), cache)
    fine = slice_model(cylinder, "stl", _request(tmp_path, preset="fin"), cache)
    layers = {
        name: r.gcode.read_text().count(";LAYER_CHANGE")
        for name, r in {"brouillon": draft, "normal": normal, "fin": fine}.items()
    }
    assert layers["brouillon"] < layers["normal"] < layers["fin"]
    times = [analyze_gcode(r.gcode, PrinterParams()).duration_s or 0 for r in (draft, fine)]
    assert times[0] < times[1]
    # An edit to a profile file is a new key: the next submission is sliced again.
    profiles = tmp_path / "slicing"
    shutil.copytree(REPO / "profiles" / "slicing", profiles)
    edited = profiles / "presets" / "normal.ini"
    edited.write_text(edited.read_text().replace("fill_density = 15%", "fill_density = 40%"))
    denser = slice_model(cylinder, "stl", _request(tmp_path, profiles_dir=profiles), cache)
    assert not denser.cached and denser.gcode != normal.gcode
    assert "; fill_density = 40%" in denser.gcode.read_text()


@needs_slicer
@pytest.mark.parametrize("kind", ["ascii", "obj", "3mf"])
def test_ascii_stl_obj_and_3mf_are_sliced(tmp_path: Path, kind: str) -> None:
    path = {
        "ascii": lambda: ascii_stl(tmp_path / "a.stl", box_triangles(20, 15, 10)),
        "obj": lambda: box_obj(tmp_path / "o.obj", 20, 15, 10),
        "3mf": lambda: box_3mf(tmp_path / "m.3mf", 20, 15, 10),
    }[kind]()
    file_type = "stl" if kind == "ascii" else kind
    result = slice_model(path, file_type, _request(tmp_path), tmp_path / "cache")
    analysis = analyze_gcode(result.gcode, PrinterParams())
    assert analysis.bounds is not None
    assert analysis.bounds.max_z == pytest.approx(10.0, abs=0.2)


@needs_slicer
def test_an_open_mesh_is_reported_with_what_prusaslicer_repaired(tmp_path: Path) -> None:
    tris = box_triangles(20, 20, 10)[:-1]  # one triangle missing: a hole
    result = slice_model(binary_stl(tmp_path / "o.stl", tris), "stl", _request(tmp_path), tmp_path)
    assert result.mesh_report["manifold"] == "no"
    assert result.mesh_report["open_edges"] == "1"
    assert int(result.mesh_report.get("edges_fixed", "0")) > 0


@needs_slicer
def test_the_slicer_is_stopped_at_its_memory_and_time_limits(
    cylinder: Path, tmp_path: Path
) -> None:
    starved = _request(tmp_path, memory_bytes=32 * 1024**2)
    with pytest.raises(AnalysisError, match=r"over its memory limit \(32 MB\) and was stopped"):
        slice_model(cylinder, "stl", starved, tmp_path / "a")
    hurried = _request(tmp_path, timeout_s=0.05)
    with pytest.raises(FileRejected, match="slicing took longer than 0 s and was stopped"):
        slice_model(cylinder, "stl", hurried, tmp_path / "b")


def test_a_missing_slicer_is_said_plainly(
    cylinder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slicing, "SLICER", "prusa-slicer-not-installed")
    assert not slicing.slicer_available()
    with pytest.raises(FileRejected, match="model slicing is unavailable: prusa-slicer is not"):
        slice_model(cylinder, "stl", _request(tmp_path), tmp_path)


def test_unknown_presets_are_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="choose one of brouillon, normal, fin"):
        slicing.profile_files(_request(tmp_path, preset="ultra"))


def _cache_file(folder: Path, name: str, size: int, mtime: int) -> Path:
    path = folder / f"{name}.gcode"
    path.write_bytes(b"G1\n" * (size // 3))
    os.utime(path, (mtime, mtime))
    return path


@pytest.mark.parametrize(
    ("limit", "kept"),
    [
        (2_400, {"a", "b", "c", "new"}),  # all fit: 4 × 600 bytes
        (2_399, {"b", "c", "new"}),  # the oldest goes first
        (1_800, {"b", "c", "new"}),
        (1_200, {"c", "new"}),
        (1_199, {"new"}),
        (300, {"new"}),  # the one just made stays, even alone over the limit
        (0, {"new"}),
    ],
)
def test_the_slice_cache_is_trimmed_least_recently_used_first(
    tmp_path: Path, limit: int, kept: set[str]
) -> None:
    _cache_file(tmp_path, "a", 600, 1_000)
    _cache_file(tmp_path, "b", 600, 2_000)
    _cache_file(tmp_path, "c", 600, 3_000)
    new = _cache_file(tmp_path, "new", 600, 500)  # older mtime, but it is the one to keep
    (tmp_path / "notes.txt").write_text("not a slice")  # left alone
    trim_cache(tmp_path, limit, keep=new)
    assert {p.stem for p in tmp_path.glob("*.gcode")} == kept
    assert (tmp_path / "notes.txt").exists()


@needs_slicer
def test_a_cache_hit_counts_as_a_use_and_slicing_trims_the_cache(
    cylinder: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = slice_model(cylinder, "stl", _request(tmp_path), cache)
    os.utime(first.gcode, (1_000, 1_000))
    again = slice_model(cylinder, "stl", _request(tmp_path), cache)
    assert again.cached and again.gcode.stat().st_mtime > 1_000
    # A cache that holds one file: the next slicing removes the older one.
    small = _request(tmp_path, preset="brouillon", cache_bytes=first.gcode.stat().st_size)
    draft = slice_model(cylinder, "stl", small, cache)
    assert [p.name for p in cache.glob("*.gcode")] == [draft.gcode.name]
