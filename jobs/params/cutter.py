"""Vinyl cutter parameters (profile table ``[cutter]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobs.base import Analysis


class CutterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roll_width_mm: float = Field(610.0, gt=0)
    """Usable width between the pinch rollers."""
    max_length_mm: float = Field(5000.0, gt=0)

    def fit_problems(self, analysis: Analysis) -> list[str]:
        b = analysis.bounds
        if b is None:
            return []
        width, length, _ = b.size
        problems = []
        if min(width, length) > self.roll_width_mm:
            problems.append(
                f"the design is {min(width, length):.1f} mm wide even when turned, "
                f"{min(width, length) - self.roll_width_mm:.1f} mm more than the "
                f"{self.roll_width_mm:.0f} mm roll"
            )
        if max(width, length) > self.max_length_mm:
            problems.append(
                f"the design is {max(width, length):.1f} mm long, more than the "
                f"{self.max_length_mm:.0f} mm this cutter can take in one go"
            )
        return problems
