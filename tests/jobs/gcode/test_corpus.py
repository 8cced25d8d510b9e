"""Real slicer output: our planner's estimate against each slicer's own, and the rest.

The slicers computed their estimates for a given machine; ours is compared for the same
machine. The PrusaSlicer files carry their machine limits (M201-M205), which override the
profile, so the default profile does. The Cura 2.3 file carries none: Cura used its
``fdmprinter`` defaults (its ``;SETTING_3`` block overrides no machine setting), given
below as a profile.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from jobs.base import Analysis
from jobs.gcode.analysis import analyze
from jobs.params.printer import PrinterParams
from tests.support.factories import CORPUS
from tests.support.gcode import CURA_2_3_DEFAULTS

GCODE = CORPUS / "gcode"
PROFILES = {"cura-puzzle.gcode": CURA_2_3_DEFAULTS}
FILES = sorted(p.name for p in GCODE.glob("*.gcode"))


@pytest.fixture(scope="module")
def analyses() -> dict[str, Analysis]:
    return {name: analyze(GCODE / name, PROFILES.get(name, PrinterParams())) for name in FILES}


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 6


def test_estimates_are_within_3_percent_and_2_at_the_median(
    analyses: dict[str, Analysis],
) -> None:
    errors = {}
    for name, a in analyses.items():
        slicer = a.details["slicer_duration_s"]
        if slicer is None:
            continue
        assert a.duration_s is not None
        errors[name] = abs(a.duration_s / slicer - 1.0)
    assert len(errors) >= 5, errors
    worst = max(errors, key=lambda n: errors[n])
    assert errors[worst] < 0.03, f"{worst}: {errors[worst]:.2%} off; all: {errors}"
    assert statistics.median(errors.values()) < 0.02, errors


@pytest.mark.parametrize(
    "name",
    [
        "prusaslicer-benchy.gcode",
        "prusaslicer-plant-sign.gcode",
        "prusaslicer-screw.gcode",
        "prusaslicer-vase.gcode",
    ],
)
def test_planner_matches_prusaslicer_closely(analyses: dict[str, Analysis], name: str) -> None:
    """PrusaSlicer models the same planner but ignores G4 dwells (its GCodeProcessor has
    no G4 handler): compared without them, the two agree to half a percent."""
    a = analyses[name]
    assert a.details["motion_s"] == pytest.approx(a.details["slicer_duration_s"], rel=0.005)


def test_the_default_profile_differs_from_cura_s_assumptions(
    analyses: dict[str, Analysis],
) -> None:
    """With a Prusa MK3's limits (the default profile) the Cura file takes longer than
    Cura's own estimate for its ideal machine: limits matter, and are used."""
    mk3 = analyze(GCODE / "cura-puzzle.gcode", PrinterParams())
    cura = analyses["cura-puzzle.gcode"]
    assert mk3.duration_s is not None and cura.duration_s is not None
    assert mk3.duration_s > cura.duration_s * 1.05
    assert cura.details["limits_from_file"] is False


def test_filament_within_half_a_percent(analyses: dict[str, Analysis]) -> None:
    checked = 0
    for name, a in analyses.items():
        slicer = a.details["slicer_filament_mm"]
        if slicer is None:
            continue
        checked += 1
        assert a.material["filament_mm"] == pytest.approx(slicer, rel=0.005), name
        if a.details["slicer_filament_g"] is not None:
            assert a.material["filament_g"] == pytest.approx(
                a.details["slicer_filament_g"], rel=0.005, abs=0.01
            ), name
    assert checked >= 5


def test_benchy(analyses: dict[str, Analysis]) -> None:
    a = analyses["prusaslicer-benchy.gcode"]
    assert a.analyzer == "gcode-planner"
    b = a.bounds
    assert b is not None
    # 3DBenchy is 60 x 31 x 48 mm; the purge line at the front is not part of it...
    assert b.size == pytest.approx((59.4, 30.4, 48.0), abs=0.1)
    # ...but it is an extrusion the bed must hold.
    assert a.details["extrusion_bounds"]["min_y"] == pytest.approx(-2.0)
    assert a.counts["layers"] == 160
    assert a.counts["thumbnails"] == 2
    assert a.details["thumbnail"]["width"] == 220
    assert a.details["slicer"].startswith("PrusaSlicer 2.6.1")
    assert a.details["filament_type"] == ["PLA"]
    assert a.details["layer_height_mm"] == 0.3
    assert a.details["limits_from_file"] is True
    assert 95.0 in a.details["flow_percents"]  # M221 S95 at the start
    assert 30 < a.details["heatup_s"] < 300
    assert a.details["machine_time_s"] > a.duration_s + a.details["heatup_s"]
    # The purge line runs at Y = -2: a bed whose reach starts at Y = 0 cannot print it.
    assert PrinterParams().fit_problems(a) == [
        "Y goes down to -2.0 mm, 2.0 mm below the build volume's 0 mm"
    ]
    assert PrinterParams(origin_y_mm=-4).fit_problems(a) == []


def test_slic3r_file_has_no_estimate_but_filament(analyses: dict[str, Analysis]) -> None:
    a = analyses["slic3r-duplo-tracks.gcode"]
    assert a.details["slicer_duration_s"] is None
    assert any("no slicer time estimate" in w for w in a.warnings)
    assert a.material["filament_mm"] == pytest.approx(12349.1, rel=0.005)
    assert a.duration_s is not None and a.duration_s > 3600


def test_arcs_in_prusaslicer_files(analyses: dict[str, Analysis]) -> None:
    screw = analyses["prusaslicer-screw.gcode"]
    assert screw.counts["arcs"] == 5722
    assert screw.counts["arc_segments"] > screw.counts["arcs"]
    assert not any("radius" in w for w in screw.warnings)


def test_analysis_is_deterministic(tmp_path: Path) -> None:
    first = analyze(GCODE / "prusaslicer-vase.gcode")
    again = analyze(GCODE / "prusaslicer-vase.gcode")
    assert first == again
