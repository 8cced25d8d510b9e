"""The analysis boundary: what every job kind reports about its file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MachineKind(StrEnum):
    fdm_printer = "fdm_printer"
    vinyl_cutter = "vinyl_cutter"
    embroidery = "embroidery"


class Bounds(BaseModel):
    """An axis-aligned box in millimetres (z is 0..0 for flat work)."""

    model_config = ConfigDict(frozen=True)

    min_x: float
    min_y: float
    max_x: float
    max_y: float
    min_z: float = 0.0
    max_z: float = 0.0

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.max_x - self.min_x, self.max_y - self.min_y, self.max_z - self.min_z)


class Quantity:
    """Keys of ``Analysis.material`` and ``Analysis.counts`` that pricing relies on."""

    FILAMENT_G = "filament_g"
    FILAMENT_MM = "filament_mm"
    VINYL_AREA_MM2 = "vinyl_area_mm2"
    """Vinyl consumed: the used roll length × the roll width, or the design's box with
    its weeding margin when no roll is known."""
    VINYL_LENGTH_MM = "vinyl_length_mm"
    CUT_LENGTH_MM = "cut_length_mm"
    THREAD_M = "thread_m"
    """Top thread, all colours."""
    BOBBIN_M = "bobbin_m"
    PIECES = "pieces"
    """Separate vinyl pieces to weed and place (counts)."""
    COUNTERS = "counters"
    """Holes inside pieces (counts): weeding work."""
    PATHS = "paths"
    STITCHES = "stitches"
    TRIMS = "trims"
    COLOUR_CHANGES = "colour_changes"
    HOOPINGS = "hoopings"


class Analysis(BaseModel):
    """What a file asks of a machine. Stored as JSON on the job.

    ``duration_s`` is machine time (what is billed and what bookings must fit);
    ``material`` holds the quantities prices are made of (keys in :class:`Quantity`);
    ``details`` holds kind-specific figures an analyzer wants to show.
    """

    kind: MachineKind
    file_type: str
    analyzer: str
    duration_s: float | None = None
    material: dict[str, float] = Field(default_factory=dict)
    bounds: Bounds | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class Preview(BaseModel):
    """A picture of the job for the tablet (SVG or PNG), small enough to send often."""

    media_type: str
    data: bytes


class Artifact(BaseModel):
    """A machine-ready file made from the submitted one (HPGL, the machine's PES…)."""

    path: Path
    file_type: str
    details: dict[str, Any] = Field(default_factory=dict)


class AnalysisError(Exception):
    """The file cannot be understood (malformed, truncated, not what its name says)."""


class FileRejected(Exception):
    """The file was understood, and it cannot be made (e.g. larger than the machine)."""
