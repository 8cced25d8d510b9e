"""Embroidery machine parameters (profile table ``[embroidery]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobs.base import Analysis


class Hoop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    width_mm: float = Field(gt=0)
    height_mm: float = Field(gt=0)


class EmbroideryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hoops: list[Hoop] = Field(
        default_factory=lambda: [Hoop(name="100x100", width_mm=100, height_mm=100)],
        min_length=1,
    )
    needles: int = Field(1, ge=1)

    def fit_problems(self, analysis: Analysis) -> list[str]:
        b = analysis.bounds
        if b is None:
            return []
        width, height, _ = b.size
        if any(h.width_mm >= width and h.height_mm >= height for h in self.hoops):
            return []
        big = max(self.hoops, key=lambda h: h.width_mm * h.height_mm)
        return [
            f"the design ({width:.1f} × {height:.1f} mm) fits no hoop; the largest, "
            f"{big.name}, is {big.width_mm:.0f} × {big.height_mm:.0f} mm"
        ]
