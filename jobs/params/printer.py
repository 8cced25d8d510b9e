"""FDM printer parameters (profile table ``[printer]``)."""

from __future__ import annotations

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

    def fit_problems(self, analysis: Analysis) -> list[str]:
        """Why the print does not fit in the build volume (empty when it does)."""
        b = analysis.bounds
        if b is None:
            return []
        problems = []
        limits = (
            ("X", b.min_x, b.max_x, self.origin_x_mm, self.origin_x_mm + self.build_x_mm),
            ("Y", b.min_y, b.max_y, self.origin_y_mm, self.origin_y_mm + self.build_y_mm),
            ("Z", b.min_z, b.max_z, 0.0, self.build_z_mm),
        )
        tolerance = 0.01
        for axis, lo, hi, lo_lim, hi_lim in limits:
            if hi > hi_lim + tolerance:
                problems.append(
                    f"{axis} reaches {hi:.1f} mm, {hi - hi_lim:.1f} mm beyond the "
                    f"{hi_lim:.0f} mm build volume"
                )
            if lo < lo_lim - tolerance:
                problems.append(
                    f"{axis} goes down to {lo:.1f} mm, {lo_lim - lo:.1f} mm below the "
                    f"build volume's {lo_lim:.0f} mm"
                )
        return problems
