"""Vinyl cutter parameters (profile table ``[cutter]``, dialect in ``[cutter.hpgl]``).

Every field has a default, so a profile holding only ``roll_width_mm`` stays valid. The
defaults describe a generic HP-GL cutter with a standard 45° drag knife on a 9600-baud
serial line: what most café cutters are until someone measures theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jobs.base import Analysis


class HpglDialect(BaseModel):
    """How this machine wants its HP-GL written (``[cutter.hpgl]``).

    Axes and origin differ between machines and are documented nowhere uniformly:
    set them once with the commissioning cut (see ``docs/vinyl.md``).
    """

    model_config = ConfigDict(extra="forbid")

    steps_per_mm: float = Field(40.0, gt=0)
    """Plotter units per millimetre: 40 for HP-GL (0.025 mm); some machines differ."""
    calibration_x: float = Field(1.0, gt=0.5, lt=2.0)
    """Measured correction along the device X axis (cut 200 mm, measure, divide)."""
    calibration_y: float = Field(1.0, gt=0.5, lt=2.0)
    y_axis_up: bool = True
    """HP convention: +Y points up, so the drawing is flipped from SVG's y-down to read
    the right way round."""
    swap_xy: bool = False
    """Exchange device X and Y (after the y-up flip)."""
    mirror_x: bool = False
    """Mirror along device X (for machines whose X runs the other way)."""
    mirror_y: bool = False
    origin_x_mm: float = Field(0.0, ge=0)
    """Where the job's lower-left corner goes in device coordinates (never negative)."""
    origin_y_mm: float = Field(0.0, ge=0)
    init: str = "IN;"
    """Sent before the job. Some controllers (Redsail) do nothing without ``IN;``."""
    end: str = "PU;SP0;"
    """Sent after the job. Not ``IN;`` by default: on some controllers a second ``IN;``
    throws away the motion still in the buffer (the end of the job)."""
    end_move: Literal["stay", "origin", "past_job"] = "stay"
    """Where the head goes at the end: stay, back to the origin, or just past the job
    along X (so the vinyl can be cut off)."""
    pen: int | None = Field(1, ge=0, le=8)
    """``SP<n>;`` after the init sequence; None sends no pen selection."""
    takes_vs: bool = True
    """The machine understands ``VS`` (velocity); the value is ``cut_speed_mm_s``."""
    vs_unit: Literal["cm_s", "mm_s"] = "cm_s"
    takes_fs: bool = False
    """The machine understands ``FS`` (force)."""
    force_g: int | None = Field(None, ge=1, le=2000)
    """Blade force sent as ``FS`` when the machine takes it (grams on most cutters)."""
    pen_moves: Literal["combined", "separate"] = "combined"
    """``PU x,y;`` / ``PD x,y;`` (combined) or ``PU;PA x,y;`` (separate, e.g. pcut CT630)."""
    coordinates: Literal["absolute", "relative"] = "absolute"
    """Relative (``PR``) files are smaller, which matters at 9600 baud. Each path still
    starts with an absolute move, so a resumed job lands where it should."""
    pairs_per_command: int = Field(1, ge=1, le=256)
    """Coordinate pairs per ``PD`` command. 1 is safest: long lists overflow the parse
    buffer of some firmwares (grblHAL/Templates#4)."""
    newline: bool = False
    """Add a line feed after every command (US Cutter MH through lp, inkcut #367)."""

    @model_validator(mode="after")
    def _force_needs_fs(self) -> HpglDialect:
        if self.force_g is not None and not self.takes_fs:
            raise ValueError("force_g is set but takes_fs is false: this machine would not get it")
        for name in ("init", "end"):
            if any(ord(c) < 32 and c not in "\r\n\x1b" for c in getattr(self, name)):
                raise ValueError(f"{name} holds control characters other than ESC, CR and LF")
        return self


class CutterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roll_width_mm: float = Field(610.0, gt=0)
    """Usable width between the pinch rollers."""
    max_length_mm: float = Field(5000.0, gt=0)

    # --- cut preparation --------------------------------------------------------------
    curve_tolerance_mm: float = Field(0.02, ge=0.001, le=1.0)
    """Curves become straight segments no further than this from the true curve."""
    blade_offset_mm: float = Field(0.25, ge=0, le=2.0)
    """Distance from the holder's axis to the blade tip (0.25 for a 45° blade, 0.5 for
    60°). 0 turns the compensation off (tangential knives, pens)."""
    swivel_threshold_deg: float = Field(5.0, ge=0.5, le=90)
    """Corners turning more than this get a swivel arc that turns the blade in place."""
    lead_in_mm: float = Field(2.0, ge=0, le=20)
    """Length of the alignment cut made before the job (outside the design, at its
    lower-left corner) so the blade starts pointing a known way. 0 = none."""
    overcut_mm: float = Field(0.5, ge=0, le=5)
    """Closed paths are cut this far past their start so they come out cleanly."""
    weeding_border: bool = False
    """Cut a rectangle around each copy, so the waste lifts in one piece."""
    weeding_margin_mm: float = Field(5.0, ge=0, le=100)
    """Space between the design and its weeding border (also counted as material)."""
    weeding_lines: bool = False
    """Cut lines through the waste between border and design (needs the border)."""
    weeding_line_spacing_mm: float = Field(50.0, ge=5, le=1000)
    mirror: bool = False
    """Mirror the design: heat-transfer flex is cut from the back."""
    copy_gap_mm: float = Field(5.0, ge=0, le=200)
    """Space between copies laid out on the roll."""
    allow_rotation: bool = True
    """Turn the design by 90° when that uses less vinyl (or is the only way it fits)."""
    min_feature_mm: float = Field(1.0, ge=0, le=50)
    """Contours smaller than this both ways are too small to weed: warned about."""
    reject_below_min_feature: bool = False
    """Refuse designs with features under ``min_feature_mm`` instead of warning."""
    tiny_island_mm2: float = Field(4.0, ge=0)
    """Pieces smaller than this area are flagged as tiny islands (easy to lose)."""

    # --- time estimate ----------------------------------------------------------------
    cut_speed_mm_s: float = Field(100.0, gt=0, le=2000)
    travel_speed_mm_s: float = Field(300.0, gt=0, le=3000)
    acceleration_mm_s2: float = Field(2000.0, gt=0)
    """Each stop (path start, sharp corner) costs about speed / acceleration."""
    lift_time_s: float = Field(0.05, ge=0, le=5)
    """Blade up plus blade down, per path."""
    baud: int = Field(9600, ge=300, le=4_000_000)
    """The serial line's speed, for the transmission time (bytes × 10 / baud). Keep it
    equal to ``[driver] baud``: analysis does not see the driver's table."""

    hpgl: HpglDialect = Field(default_factory=HpglDialect)

    @model_validator(mode="after")
    def _lines_need_border(self) -> CutterParams:
        if self.weeding_lines and not self.weeding_border:
            raise ValueError("weeding_lines needs weeding_border = true (they end on it)")
        return self

    @property
    def frame_mm(self) -> float:
        """What the layout adds around each copy: the weeding margin when bordered."""
        return self.weeding_margin_mm if self.weeding_border else 0.0

    def fit_problems(self, analysis: Analysis) -> list[str]:
        """Why the design cannot be cut on this roll (empty when it can). The design's
        x runs along the roll and y across it, unless turning it is allowed."""
        b = analysis.bounds
        if b is None:
            return []
        width, height, _ = b.size
        frame = 2 * self.frame_mm
        w, h = width + frame, height + frame
        ways = [(w, h), (h, w)] if self.allow_rotation else [(w, h)]
        if any(a <= self.max_length_mm + 1e-6 and c <= self.roll_width_mm + 1e-6 for a, c in ways):
            return []
        narrow = min(c for _, c in ways)
        if narrow > self.roll_width_mm + 1e-6:
            turned = " even when turned" if self.allow_rotation else ""
            margin = " (weeding margin included)" if frame else ""
            return [
                f"the design is {narrow:.1f} mm wide{turned}{margin}, "
                f"{narrow - self.roll_width_mm:.1f} mm more than the "
                f"{self.roll_width_mm:.0f} mm roll"
            ]
        long = min(a for a, c in ways if c <= self.roll_width_mm + 1e-6)
        return [
            f"the design is {long:.1f} mm long, more than the "
            f"{self.max_length_mm:.0f} mm this cutter can take in one go"
        ]


JOB_CHOICES = ("mirror", "weeding_border")
"""What a job may choose for itself on the machine that cuts it (the rest is the
machine's: a customer's sticker does not change the blade offset)."""


def with_job_choices(params: CutterParams, choices: Mapping[str, object] | None) -> CutterParams:
    """The machine's parameters with the job's own mirror and weeding border."""
    update = {k: bool(v) for k, v in (choices or {}).items() if k in JOB_CHOICES}
    if not update:
        return params
    if not update.get("weeding_border", params.weeding_border):
        # Lines through the waste end on the border: no border, no lines.
        update["weeding_lines"] = False
    return params.model_copy(update=update)
