"""``fabqueue analyze FILE [--json]`` on G-code."""

from __future__ import annotations

import json

import pytest

from fabqueue.cli import main
from tests.support.factories import CORPUS

SCREW = CORPUS / "gcode" / "prusaslicer-screw.gcode"


def test_json_has_the_headline_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(SCREW), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in (
        "duration_s",
        "heatup_s",
        "filament_mm",
        "filament_g",
        "slicer_duration_s",
        "slicer_filament_g",
        "bounds",
        "counts",
        "warnings",
    ):
        assert key in out, key
    assert out["slicer_duration_s"] == 31 * 60 + 3
    assert out["duration_s"] == pytest.approx(out["slicer_duration_s"], rel=0.03)
    assert out["filament_mm"] == pytest.approx(1706.22, rel=0.005)
    assert out["slicer_filament_g"] == pytest.approx(5.09)
    assert out["counts"]["arcs"] == 5722
    assert out["details"]["motion_s"] > 0


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(SCREW)]) == 0
    out = capsys.readouterr().out
    assert "analysed by gcode-planner" in out
    assert "heat-up" in out and "slicer     31.1 min" in out
