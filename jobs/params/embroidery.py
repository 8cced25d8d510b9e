"""Embroidery machine parameters (profile table ``[embroidery]``).

Every figure the estimate uses is here, with the trade's default (research/embroidery.md
§4): a profile that sets nothing still gets a sensible machine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jobs.base import Analysis, Quantity
from jobs.embroidery.formats import WRITABLE
from jobs.embroidery.hoop import HoopFit, choose_hoop, fit_problem

NativeFormat = Literal["pes", "pec", "dst", "exp", "jef", "vp3", "xxx", "u01", "tbf"]
SideFile = Literal["inf", "edr", "col"]


class Hoop(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    width_mm: float = Field(gt=0)
    """Usable sewing field across (the maker's figure, not the outer ring)."""
    height_mm: float = Field(gt=0)


class EmbroideryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # --- what the machine takes ------------------------------------------------------
    native_format: NativeFormat = "pes"
    """The file the machine reads: pes (Brother), jef (Janome), exp (Bernina), vp3
    (Husqvarna/Pfaff), dst (Tajima and most multi-needle machines)…"""
    format_version: str | None = None
    """pes: "1" (default, read by every Brother), "6", "1t", "6t"; dst: "default" or
    "extended" (the extended header is never written with more than 8 colours)."""
    side_files: list[SideFile] = Field(default_factory=list)
    """Colour files written beside the stitch file: Bernina's EXP wants ["inf"]."""
    hoops: list[Hoop] = Field(
        default_factory=lambda: [Hoop(name="100x100", width_mm=100, height_mm=100)],
        min_length=1,
    )
    hoop_margin_mm: float = Field(3.0, ge=0)
    """Kept clear on every side of the field (presser foot, hoop ring)."""
    rotate_to_fit: bool = False
    """Turn a design by 90° when only that makes it fit. Off: it is only suggested."""
    needles: int = Field(1, ge=1, le=100)
    """1 = single-needle: every colour change is a stop to re-thread by hand."""
    max_stitch_mm: float | None = Field(None, gt=0)
    """Longest stitch, per axis (None: the native format's limit, e.g. DST 12.1 mm)."""
    max_jump_mm: float | None = Field(None, gt=0)
    """Longest jump, per axis, written in one move (None: the format's limit)."""
    trim_at: int = Field(3, ge=1, le=8)
    """Consecutive jumps the machine takes as a trim (DST, JEF without trim codes)."""
    write_trims: bool = True
    """JEF: write explicit trim codes (pyembroidery writes none unless asked)."""
    untrimmed_jump_mm: float = Field(10.0, gt=0)
    """Jumps longer than this without a trim leave a thread to cut by hand."""
    tie_on: bool = False
    """Add three small lock stitches at the start of each block (if the file has none)."""
    tie_off: bool = False
    max_stitches: int = Field(500_000, ge=1)
    """More than the machine's memory or a day's work: refused."""
    max_colour_changes: int | None = Field(None, ge=0)
    """e.g. 15 for Singer Quantum; PES holds at most 255 whatever this says."""

    # --- time (seconds) -----------------------------------------------------------------
    spm: float = Field(700.0, gt=0)
    """Stitches per minute the machine really sustains (not its rated top speed)."""
    slow_spm: float = Field(400.0, gt=0)
    """Speed for long (satin) stitches: machines slow down above ``slow_stitch_mm``."""
    slow_stitch_mm: float = Field(7.0, gt=0)
    trim_s: float = Field(10.0, ge=0)
    colour_change_s: float = Field(10.0, ge=0)
    """An automatic needle change (multi-needle machine)."""
    rethread_s: float = Field(60.0, ge=0)
    """A colour change by hand: single-needle machine, or more colours than needles."""
    stop_s: float = Field(20.0, ge=0)
    """A programmed stop (appliqué placement…)."""
    hooping_s: float = Field(90.0, ge=0)
    """Hooping one garment with its stabiliser (the trade says 1-2 min)."""

    # --- thread ---------------------------------------------------------------------------
    thread_m_per_1000: float = Field(5.0, gt=0)
    """Top thread per 1,000 stitches (Madeira's rule)."""
    bobbin_m_per_1000: float = Field(3.0, gt=0)
    thread_take_up: float = Field(2.0, gt=0)
    """Top thread per metre of stitch path: used instead of the rule when it gives more
    (long stitches use more thread than the rule's 5 mm per stitch)."""

    # --- checks ---------------------------------------------------------------------------
    density_cell_mm: float = Field(2.0, gt=0)
    max_density_per_mm2: float = Field(10.0, gt=0)
    """Needle penetrations per mm², averaged over a cell: above it, a hot spot."""
    min_stitch_mm: float = Field(0.3, ge=0)
    """Shorter stitches stack needle holes; some machines refuse them."""
    short_stitch_share: float = Field(0.01, ge=0, le=1)
    """Warn when more than this share of the stitches are short."""

    @model_validator(mode="after")
    def _check(self) -> EmbroideryParams:
        versions = WRITABLE[self.native_format].versions
        if self.format_version is not None and self.format_version not in versions:
            known = ", ".join(versions) or "none"
            raise ValueError(
                f"{self.native_format} has no version {self.format_version!r} (known: {known})"
            )
        names = [h.name for h in self.hoops]
        if len(set(names)) != len(names):
            raise ValueError("two hoops have the same name")
        if all(min(usable_size(h, self.hoop_margin_mm)) <= 0 for h in self.hoops):
            raise ValueError("the margin leaves no room in any hoop")
        return self

    def hoop_for(self, width_mm: float, height_mm: float) -> HoopFit:
        return choose_hoop(
            list(self.hoops), self.hoop_margin_mm, width_mm, height_mm, self.rotate_to_fit
        )

    def fit_problems(self, analysis: Analysis) -> list[str]:
        """Why this machine cannot make the design (empty when it can)."""
        problems = []
        b = analysis.bounds
        if b is not None:
            width, height, _ = b.size
            problem = fit_problem(self.hoop_for(width, height), width, height, self.hoop_margin_mm)
            if problem:
                problems.append(problem)
        stitches = analysis.counts.get(Quantity.STITCHES, 0)
        if stitches > self.max_stitches:
            problems.append(
                f"{stitches:,} stitches, more than the {self.max_stitches:,} this machine takes"
            )
        changes = analysis.counts.get(Quantity.COLOUR_CHANGES, 0)
        limit = self.max_colour_changes
        if self.native_format in ("pes", "pec"):
            limit = min(255, limit if limit is not None else 255)
        if limit is not None and changes > limit:
            problems.append(f"{changes} colour changes, more than the {limit} this machine takes")
        return problems


def usable_size(hoop: Hoop, margin_mm: float) -> tuple[float, float]:
    return (hoop.width_mm - 2 * margin_mm, hoop.height_mm - 2 * margin_mm)
