"""The G-code interpreter: modal state, coordinates, filament, heat-up, odd syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.gcode import run

MS = 1e-3


def test_absolute_and_relative_extrusion_give_the_same_filament(tmp_path: Path) -> None:
    absolute = run(
        tmp_path,
        """
        M82
        G1 X10 E1 F1200
        G1 X20 E3
        G1 E2 ; retract 1 mm
        G1 X30
        G1 E3 ; unretract
        G1 X40 E5
        G92 E0
        G1 X50 E1.5
        """,
    )
    relative = run(
        tmp_path,
        """
        M83
        G1 X10 E1 F1200
        G1 X20 E2
        G1 E-1
        G1 X30
        G1 E1
        G1 X40 E2
        G92 E0
        G1 X50 E1.5
        """,
    )
    for a in (absolute, relative):
        assert a.material["filament_mm"] == pytest.approx(6.5)
        assert a.counts["extrusions"] == 4
    assert absolute.duration_s == pytest.approx(relative.duration_s, abs=MS)


def test_final_retraction_is_not_counted_and_g91_makes_e_relative(tmp_path: Path) -> None:
    a = run(tmp_path, "G91\nG1 X10 E2 F1200\nG1 X10 E2\nG1 E-0.8\nG1 Z10\n")
    assert a.material["filament_mm"] == pytest.approx(4.0)
    assert a.details["all_moves_bounds"]["max_x"] == pytest.approx(20.0)
    assert a.details["all_moves_bounds"]["max_z"] == pytest.approx(10.0)


def test_inches(tmp_path: Path) -> None:
    a = run(tmp_path, "G20\nG1 X1 Y1 E0.1 F600\n")
    assert a.bounds is not None
    assert a.bounds.max_x == pytest.approx(25.4)
    assert a.material["filament_mm"] == pytest.approx(2.54)


def test_g92_offsets_move_the_coordinates(tmp_path: Path) -> None:
    a = run(tmp_path, "G1 X100 Y100 F6000\nG92 X0 Y0\nG1 X10 Y5 E1\n")
    b = a.bounds
    assert b is not None
    assert (b.min_x, b.min_y, b.max_x, b.max_y) == pytest.approx((100, 100, 110, 105))


def test_numbered_checksummed_lower_case_and_odd_spacing(tmp_path: Path) -> None:
    plain = run(tmp_path, "G1 X10 Y10 E1 F1200\nG1 X20 Y10 E2\n")
    odd = run(
        tmp_path,
        "N1 G1 X10 Y10 E1 F1200*97\n"
        "n2 g1x20y10e2 ; lower case, glued\n"
        "N3   G1   X 20   Y 10\t*12\n",
    )
    assert odd.duration_s == pytest.approx(plain.duration_s, abs=MS)
    assert odd.material == plain.material
    assert odd.counts["unknown_commands"] == 0
    assert odd.counts["commands"] == 3


def test_unknown_commands_are_counted_not_fatal(tmp_path: Path) -> None:
    a = run(
        tmp_path,
        "M999\nG1 X10 E1 F1200\nPRINT_START BED=60\nM12345 S1\nM117 hello\nM106 S255\nM107\n",
    )
    assert a.counts["unknown_commands"] == 3
    assert a.counts["unparsed_lines"] == 1
    assert any("not understood" in w and "M999" in w for w in a.warnings)


def test_firmware_retraction(tmp_path: Path) -> None:
    a = run(
        tmp_path,
        "G1 X10 E1 F1200\nG10\nG10\nG1 X20\nG11\nG1 X30 E2\n",
        fw_retract_mm=2.0,
        fw_retract_speed_mm_s=40.0,
        fw_recover_speed_mm_s=20.0,
    )
    # G10 twice retracts once; the recovery gives the filament back: 1 + 1 mm used.
    assert a.material["filament_mm"] == pytest.approx(2.0)
    assert a.details["time_by_move"]["retract"] > 0.1  # 2 mm at 40 then at 20 mm/s
    # RepRapFirmware's G10 with P/S sets a tool temperature: no retraction.
    b = run(tmp_path, "G10 P0 S200\nG1 X10 E1 F1200\n")
    assert b.details["time_by_move"]["retract"] == 0.0


def test_tools_have_their_own_filament(tmp_path: Path) -> None:
    a = run(
        tmp_path,
        "T0\nM83\nG1 X10 E5 F1200\nT1\nG1 X20 E3\nT0\nG1 X30 E1\n",
        job_overhead_s=0.0,
    )
    assert a.details["filament_mm_per_tool"] == {"0": pytest.approx(6.0), "1": pytest.approx(3.0)}
    assert a.material["filament_mm"] == pytest.approx(9.0)
    assert a.counts["tool_changes"] == 2


def test_homing_moves_to_the_profile_home(tmp_path: Path) -> None:
    a = run(
        tmp_path,
        "G1 X100 Y50 Z10 F6000\nG28 X\n",
        home_x_mm=-2.0,
        home_y_mm=200.0,
        homing_s=12.0,
        homing_feedrate_mm_s=50.0,
    )
    box = a.details["all_moves_bounds"]
    assert box["min_x"] == pytest.approx(-2.0)  # only X went home
    assert box["max_y"] == pytest.approx(50.0)
    assert a.details["homing_s"] == pytest.approx(12.0)
    assert a.counts["homings"] == 1
    g28 = run(tmp_path, "G28\n", home_x_mm=0, home_y_mm=0, home_z_mm=0, homing_s=12.0)
    assert g28.details["homing_s"] == pytest.approx(12.0)
    levelling = run(tmp_path, "G28\nG29\nG80\n", bed_levelling_s=70.0, homing_s=10.0)
    assert levelling.details["homing_s"] == pytest.approx(150.0)


def test_heat_up_is_reported_apart(tmp_path: Path) -> None:
    params = {
        "ambient_c": 20.0,
        "nozzle_heat_c_per_s": 2.0,
        "bed_heat_c_per_s": 0.5,
        "homing_s": 0.0,
    }
    # Bed 20 -> 60 at 0.5 °C/s = 80 s; the nozzle, set before, warms meanwhile:
    # 20 + 2*80 = 180, then 180 -> 210 = 15 s more.
    a = run(tmp_path, "M104 S210\nM140 S60\nM190 S60\nM109 S210\nG1 X10 F600\n", **params)
    assert a.details["heatup_s"] == pytest.approx(95.0, abs=0.1)
    assert a.duration_s == pytest.approx(1.0, abs=MS)  # heat-up is not in duration_s
    assert a.counts["heat_waits"] == 2
    # M109 S does not wait to cool down; M109 R does (at the cooling rate).
    b = run(tmp_path, "M109 S200\nM109 S180\nM109 R170\n", nozzle_cool_c_per_s=1.0, **params)
    assert b.details["heatup_s"] == pytest.approx(90.0 + 30.0, abs=0.1)


def test_arc_problems_are_warnings(tmp_path: Path) -> None:
    a = run(tmp_path, "M83\nG1 X10 Y10 F1200\nG2 X20 Y10 I0 J0 E1\nG3 X30 Y10 R0 E1\n")
    assert a.counts["arcs"] == 2
    assert a.material["filament_mm"] == pytest.approx(2.0)
    assert a.bounds is not None and a.bounds.max_x == pytest.approx(30.0)
    assert any("zero radius" in w for w in a.warnings)
    short = run(tmp_path, "G1 X10 Y10 F1200\nG2 X30 Y10 R5 E1\n")
    assert any("shorter than half its chord" in w for w in short.warnings)


def test_full_circle_arc(tmp_path: Path) -> None:
    a = run(tmp_path, "G92 X10 Y0\nG2 X10 Y0 I-10 J0 E1 F600\n")
    assert a.bounds is not None
    assert a.bounds.size[0] == pytest.approx(20.0, abs=0.05)
    assert a.bounds.size[1] == pytest.approx(20.0, abs=0.05)
    assert a.duration_s == pytest.approx(2 * 3.14159 * 10 / 10, rel=0.002)


def test_layers_from_markers_or_heights(tmp_path: Path) -> None:
    marked = run(tmp_path, ";LAYER:0\nG1 X10 E1 F1200\n;LAYER:1\nG1 Z0.4\nG1 X0 E2\n")
    assert marked.counts["layers"] == 2
    unmarked = run(tmp_path, "G1 Z0.2\nG1 X10 E1 F1200\nG1 Z0.4\nG1 X0 E2\nG1 Z0.6\nG1 X10 E3\n")
    assert unmarked.counts["layers"] == 3


def test_purge_line_is_not_the_part(tmp_path: Path) -> None:
    a = run(
        tmp_path,
        """
        M83
        G1 Z0.2 F720
        G1 X0 Y-3 F6000
        G1 X60 Y-3 E9 F1000 ; purge line at the front edge
        ;LAYER_CHANGE
        G1 X100 Y100 F6000
        G1 X120 Y100 E1
        G1 X120 Y110 E0.5
        """,
    )
    assert a.bounds is not None
    assert (a.bounds.min_x, a.bounds.min_y) == pytest.approx((100, 100))
    ext = a.details["extrusion_bounds"]
    assert (ext["min_x"], ext["min_y"]) == pytest.approx((0, -3))
