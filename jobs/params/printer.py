"""FDM printer parameters (profile table ``[printer]``).

Every field has a default, so a profile that only gives the build volume stays valid.
The motion defaults are those of a Prusa i3 MK3 in normal mode (its firmware's M201,
M203, M204 and M205); the M201/M203/M204/M205 lines a file carries override them while
that file is analysed, as they override the firmware's settings when it prints.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.base import Analysis


class PrinterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    build_x_mm: float = Field(250.0, gt=0)
    build_y_mm: float = Field(210.0, gt=0)
    build_z_mm: float = Field(210.0, gt=0)
    origin_x_mm: float = 0.0
    """Lowest X the nozzle may reach (some printers park or purge at negative X)."""
    origin_y_mm: float = 0.0
    filament_diameter_mm: float = Field(1.75, gt=0)
    travel_margin_mm: float = Field(10.0, ge=0)
    """How far beyond the build volume travel moves may go (purge lines, parking) before
    the file is refused; extrusions must stay inside the build volume."""

    # -- where G28 leaves the head -----------------------------------------------
    home_x_mm: float = 0.0
    home_y_mm: float = 0.0
    home_z_mm: float = 0.0
    homing_feedrate_mm_s: float = Field(50.0, gt=0)
    """Speed of the move to the home position in the time estimate."""

    # -- motion limits (firmware settings) ---------------------------------------
    junction: Literal["jerk", "junction_deviation"] = "jerk"
    """How the firmware limits the speed at corners: Marlin's classic jerk (Prusa
    firmware, Marlin with CLASSIC_JERK) or junction deviation (Marlin 2 default)."""
    jerk_x_mm_s: float = Field(8.0, ge=0)
    jerk_y_mm_s: float = Field(8.0, ge=0)
    jerk_z_mm_s: float = Field(0.4, ge=0)
    jerk_e_mm_s: float = Field(4.5, ge=0)
    junction_deviation_mm: float = Field(0.013, gt=0)
    max_feedrate_x_mm_s: float = Field(200.0, gt=0)
    max_feedrate_y_mm_s: float = Field(200.0, gt=0)
    max_feedrate_z_mm_s: float = Field(12.0, gt=0)
    max_feedrate_e_mm_s: float = Field(120.0, gt=0)
    max_accel_x_mm_s2: float = Field(1000.0, gt=0)
    max_accel_y_mm_s2: float = Field(1000.0, gt=0)
    max_accel_z_mm_s2: float = Field(200.0, gt=0)
    max_accel_e_mm_s2: float = Field(5000.0, gt=0)
    print_accel_mm_s2: float = Field(1250.0, gt=0)
    """M204 P: moves that extrude."""
    travel_accel_mm_s2: float = Field(1250.0, gt=0)
    """M204 T: moves that do not extrude."""
    retract_accel_mm_s2: float = Field(1250.0, gt=0)
    """M204 R: extruder-only moves."""
    min_feedrate_mm_s: float = Field(0.0, ge=0)
    """M205 S."""
    min_travel_feedrate_mm_s: float = Field(0.0, ge=0)
    """M205 T."""

    # -- arcs (G2/G3 are cut into straight segments, as the firmware does) --------
    arc_tolerance_mm: float = Field(0.02, gt=0)
    arc_segments_per_s: float = Field(50.0, gt=0)
    arc_min_segment_mm: float = Field(0.1, gt=0)
    arc_max_segment_mm: float = Field(2.0, gt=0)

    # -- firmware retraction (G10/G11) -------------------------------------------
    fw_retract_mm: float = Field(3.0, ge=0)
    fw_retract_speed_mm_s: float = Field(45.0, gt=0)
    fw_recover_speed_mm_s: float = Field(8.0, gt=0)

    # -- heating (M109/M190 waits; reported apart from the motion time) -----------
    ambient_c: float = 20.0
    nozzle_heat_c_per_s: float = Field(2.0, gt=0)
    nozzle_cool_c_per_s: float = Field(1.0, gt=0)
    bed_heat_c_per_s: float = Field(0.5, gt=0)
    bed_cool_c_per_s: float = Field(0.1, gt=0)

    # -- time the file does not show ---------------------------------------------
    homing_s: float = Field(15.0, ge=0)
    """Extra time of each G28 beyond the move to the home position (slow bumps)."""
    bed_levelling_s: float = Field(90.0, ge=0)
    """Time of each bed probing (G29, Prusa's G80)."""
    job_overhead_s: float = Field(120.0, ge=0)
    """Per job, outside the file: a person clears the bed, checks the first layer."""

    def fit_problems(self, analysis: Analysis) -> list[str]:
        """Why the print does not fit in the build volume (empty when it does).

        Every extrusion (``details.extrusion_bounds``: the objects and the purge line;
        ``analysis.bounds`` when absent) must stay in the build volume; other moves
        (``details.all_moves_bounds``) may go ``travel_margin_mm`` beyond it.
        """
        problems = []
        details = analysis.details or {}
        box = _box(details.get("extrusion_bounds"))
        if box is None and analysis.bounds is not None:
            b = analysis.bounds
            box = ((b.min_x, b.min_y, b.min_z), (b.max_x, b.max_y, b.max_z))
        if box is not None:
            problems += self._overshoots("", box[0], box[1], 0.01)
        moves = _box(details.get("all_moves_bounds"))
        if moves is not None:
            problems += self._overshoots(
                "travel moves: ", moves[0], moves[1], self.travel_margin_mm
            )
        return problems

    def _overshoots(
        self,
        prefix: str,
        lo: tuple[float, float, float],
        hi: tuple[float, float, float],
        tolerance: float,
    ) -> list[str]:
        problems = []
        limits = (
            ("X", lo[0], hi[0], self.origin_x_mm, self.origin_x_mm + self.build_x_mm),
            ("Y", lo[1], hi[1], self.origin_y_mm, self.origin_y_mm + self.build_y_mm),
            ("Z", lo[2], hi[2], 0.0, self.build_z_mm),
        )
        for axis, low, high, lo_lim, hi_lim in limits:
            if high > hi_lim + tolerance:
                problems.append(
                    f"{prefix}{axis} reaches {high:.1f} mm, {high - hi_lim:.1f} mm beyond the "
                    f"{hi_lim:.0f} mm build volume"
                )
            if low < lo_lim - tolerance:
                problems.append(
                    f"{prefix}{axis} goes down to {low:.1f} mm, {lo_lim - low:.1f} mm below the "
                    f"build volume's {lo_lim:.0f} mm"
                )
        return problems


Corner = tuple[float, float, float]


def _box(value: object) -> tuple[Corner, Corner] | None:
    if not isinstance(value, dict):
        return None
    try:
        return (
            (float(value["min_x"]), float(value["min_y"]), float(value["min_z"])),
            (float(value["max_x"]), float(value["max_y"]), float(value["max_z"])),
        )
    except (KeyError, TypeError, ValueError):
        return None
