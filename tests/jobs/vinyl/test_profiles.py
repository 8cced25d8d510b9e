"""The shipped cutter profile and the example dialect profiles load and convert."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from drivers.hpgl_serial import HpglSerialConfig
from fabqueue.profiles import load_profiles
from jobs.params.cutter import CutterParams
from jobs.vinyl import analysis as vinyl
from jobs.vinyl import hpgl
from tests.support.factories import REPO
from tests.support.vinyl import SVG_DIR

EXAMPLES = sorted(
    path
    for path in (REPO / "profiles" / "examples" / "machines").glob("*.toml")
    if tomllib.loads(path.read_text()).get("kind") == "vinyl_cutter"
)


def test_the_shipped_profiles_still_load() -> None:
    profiles = load_profiles(REPO / "profiles")
    cutter = profiles.machines["plotter-sim"]
    assert isinstance(cutter.params, CutterParams)
    assert cutter.params.weeding_border
    assert {"svg", "hpgl", "plt"} <= profiles.file_types(cutter)


def test_there_is_an_example_for_each_dialect() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"generic-hpgl-cutter", "roland-gx24", "graphtec-ce-hpgl"} <= names
    for path in EXAMPLES:
        assert "Sources" in path.read_text(), f"{path.name} must say where its values come from"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_profiles_load_and_convert(example: Path, tmp_path: Path) -> None:
    root = tmp_path / "profiles"
    shutil.copytree(REPO / "profiles" / "materials", root / "materials")
    (root / "machines").mkdir()
    shutil.copy(example, root / "machines" / example.name)
    profiles = load_profiles(root)
    machine = profiles.machines[example.stem]
    assert machine.driver_type == "hpgl_serial"
    assert isinstance(machine.driver_config, HpglSerialConfig)
    assert isinstance(machine.params, CutterParams)
    assert machine.params.baud == machine.driver_config.baud or (
        machine.driver_config.transport == "device_file"
    )
    art = vinyl.convert_svg(
        SVG_DIR / "inkscape-silhouette" / "fablab_logo_stencil.svg", machine.params, tmp_path
    )
    doc = hpgl.read(art.path.read_bytes())
    assert doc.strokes and min(float(s.min()) for s in doc.strokes) >= 0
