"""Helpers for the G-code tests: write a snippet, analyse it with given printer settings."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

from jobs.base import Analysis
from jobs.gcode.analysis import analyze
from jobs.params.printer import PrinterParams

_count = itertools.count()

# A printer whose corners and accelerations are easy to compute by hand.
HAND: dict[str, Any] = {
    "junction": "jerk",
    "jerk_x_mm_s": 10.0,
    "jerk_y_mm_s": 10.0,
    "jerk_z_mm_s": 0.4,
    "jerk_e_mm_s": 4.5,
    "max_feedrate_x_mm_s": 1000.0,
    "max_feedrate_y_mm_s": 1000.0,
    "max_feedrate_z_mm_s": 1000.0,
    "max_feedrate_e_mm_s": 1000.0,
    "max_accel_x_mm_s2": 100000.0,
    "max_accel_y_mm_s2": 100000.0,
    "max_accel_z_mm_s2": 100000.0,
    "max_accel_e_mm_s2": 100000.0,
    "print_accel_mm_s2": 1000.0,
    "travel_accel_mm_s2": 1000.0,
    "retract_accel_mm_s2": 1250.0,
    "homing_s": 0.0,
    "job_overhead_s": 0.0,
}


# The machine Cura 2.3 assumed when it estimated the corpus' Cura file: its fdmprinter
# defaults (the file's ;SETTING_3 block overrides no machine setting).
NO_LIMIT = 299_792_458_000.0  # Cura's default maximum feed rates: the speed of light
CURA_2_3_DEFAULTS = PrinterParams(
    print_accel_mm_s2=4000,
    travel_accel_mm_s2=4000,
    retract_accel_mm_s2=4000,
    max_accel_x_mm_s2=9000,
    max_accel_y_mm_s2=9000,
    max_accel_z_mm_s2=100,
    max_accel_e_mm_s2=10000,
    jerk_x_mm_s=20,
    jerk_y_mm_s=20,
    jerk_z_mm_s=0.4,
    jerk_e_mm_s=5,
    max_feedrate_x_mm_s=NO_LIMIT,
    max_feedrate_y_mm_s=NO_LIMIT,
    max_feedrate_z_mm_s=NO_LIMIT,
    max_feedrate_e_mm_s=NO_LIMIT,
)


def gcode_file(tmp_path: Path, text: str, name: str | None = None) -> Path:
    path = tmp_path / (name or f"snippet{next(_count)}.gcode")
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def run(tmp_path: Path, text: str, **params: Any) -> Analysis:
    return analyze(gcode_file(tmp_path, text), PrinterParams(**{**HAND, **params}))
