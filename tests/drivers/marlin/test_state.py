"""Following a file's state (position, modes, temperatures) and filling scripts with it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drivers.marlin.job import resume_point
from drivers.marlin.state import (
    PrintState,
    StateTracker,
    is_long_running,
    render_script,
    restore_modes,
    script_problems,
)


def follow(*lines: bytes) -> tuple[PrintState, list[float]]:
    tracker = StateTracker()
    times = [tracker.apply(line) for line in lines]
    return tracker.state, times


def test_absolute_moves_and_move_time() -> None:
    state, times = follow(b"G90", b"G1 X30 Y40 F600", b"G1 Z0.2", b"G1 X30 Y40 E5 F300")
    assert (state.x, state.y, state.z, state.e, state.f) == (30.0, 40.0, 0.2, 5.0, 300.0)
    # 50 mm at 10 mm/s; 0.2 mm at 10 mm/s; E-only 5 mm at 5 mm/s.
    assert times == pytest.approx([0.0, 5.0, 0.02, 1.0])


def test_relative_modes() -> None:
    state, _ = follow(b"G91", b"G1 X5 E1 F1200", b"G1 X5 E1", b"G90", b"M83", b"G1 E2", b"G1 E2")
    assert state.x == 10.0
    # G91 made E relative too (Marlin); G90 made it absolute again, then M83 relative.
    assert state.e == 6.0
    assert state.absolute and not state.absolute_e


def test_g92_g28_and_arcs() -> None:
    state, _ = follow(b"G1 X10 Y0 Z5 E3 F6000", b"G92 E0", b"G28 X")
    assert (state.x, state.z, state.e) == (0.0, 5.0, 0.0)
    _, arc = follow(b"G1 X10 Y0 F600", b"G2 X-10 Y0 I-10 J0")
    assert arc[1] == pytest.approx(3.14159265 * 10 / 10, rel=1e-6)  # half circle, r 10


def test_temperatures_fan_and_slicer_progress() -> None:
    state, _ = follow(b"M140 S60", b"M104 S215", b"M104 T1 S180", b"M106 S127.5", b"M73 P12 R41")
    assert (state.bed, state.hotend, state.fan, state.remaining_min) == (60.0, 215.0, 127, 41.0)
    state, _ = follow(b"M106", b"M190 S55", b"M109 R200", b"M107")
    assert (state.fan, state.bed, state.hotend) == (0, 55.0, 200.0)


def test_long_running_commands() -> None:
    assert is_long_running(b"G28 X Y")
    assert is_long_running(b"M109 S210")
    assert is_long_running(b"G4 S30")
    assert not is_long_running(b"G1 X10")
    assert not is_long_running(b"M104 S200")


def test_checkpoint_round_trip() -> None:
    state, _ = follow(b"M83", b"M140 S60", b"M104 S210", b"G1 X1.23456 Y2 Z0.3 E0.5 F1800")
    data = {"version": 1, "offset": 120, "file_size": 500, **state.to_checkpoint()}
    offset, back = resume_point(data, 500)
    assert offset == 120
    assert back == replace(state, remaining_min=None)
    assert (back.x, back.z, back.bed, back.absolute_e) == (1.23456, 0.3, 60.0, False)


@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        ({"progress": 0.4}, "not written by the Marlin driver"),
        ({"version": 1, "offset": 10, "file_size": 99}, "99-byte file"),
        ({"version": 1, "offset": 900, "file_size": 500}, "bad offset"),
        ({"version": 1, "offset": 10, "file_size": 500, "z": "high"}, "'z' is not a number"),
    ],
)
def test_checkpoint_refused(checkpoint: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resume_point(checkpoint, 500)


def test_scripts_are_filled_and_checked() -> None:
    state = PrintState(x=10.0, y=20.5, z=3.2, e=4.0, f=1800.0, hotend=210.0, bed=60.0)
    assert render_script("G1 Z{z:.2f} ; lift\n\nM104 S{hotend:.0f}\n", state) == [
        b"G1 Z3.20",
        b"M104 S210",
    ]
    assert script_problems("G1 X{x} Y{y}") == []
    assert "unknown placeholder {height}" in script_problems("G1 Z{height}")[0]
    assert script_problems("G1 Z{z:.2q}")  # a bad format spec is caught at load time


def test_restore_modes() -> None:
    state = PrintState(e=12.5, f=1500.0, absolute=True, absolute_e=True, fan=255)
    assert restore_modes(state) == [
        b"G90",
        b"M82",
        b"G21",
        b"G92 E12.50000",
        b"M106 S255",
        b"G1 F1500",
    ]
    rel = PrintState(absolute_e=False, fan=0, f=None)
    assert restore_modes(rel) == [b"G90", b"M83", b"G21", b"M107"]
