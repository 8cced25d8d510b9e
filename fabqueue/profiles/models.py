"""The shape of a profile file. Unknown keys are errors: a typo must not pass silently."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.base import DriverConfig
from fabqueue.profiles.booking import MachineBooking
from jobs.base import MachineKind
from jobs.params import CutterParams, EmbroideryParams, MachineParams, PrinterParams

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

_SECTION_FOR_KIND = {
    MachineKind.fdm_printer: "printer",
    MachineKind.vinyl_cutter: "cutter",
    MachineKind.embroidery: "embroidery",
}


class MachineProfile(BaseModel):
    """``profiles/machines/<slug>.toml``. The file name is the slug."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    kind: MachineKind
    driver: dict[str, Any]
    """The ``[driver]`` table: ``type`` picks the driver; the rest is its configuration."""
    auto_advance: bool = False
    """Start the next job without waiting for a person to clear the machine."""
    hourly_rate: Decimal = Field(Decimal("0"), ge=0, decimal_places=2)
    """Machine time price, € HT per hour."""
    power_heatup_w: float | None = Field(None, ge=0, le=100_000)
    """Mean electrical power while heating up (W), for the activity reports' energy
    estimate; None = not known, the machine is left out of the estimate."""
    power_running_w: float | None = Field(None, ge=0, le=100_000)
    """Mean electrical power while working (W)."""
    materials: list[str] = Field(default_factory=list)
    """Material slugs this machine can use; empty = any material of its kind."""
    track_material: bool = True
    """Jobs asking for a material run only when that material is loaded."""
    file_types: list[str] | None = None
    """Restrict the file types accepted (default: all the kind's that the driver takes)."""
    printer: PrinterParams | None = None
    cutter: CutterParams | None = None
    embroidery: EmbroideryParams | None = None
    booking: MachineBooking = Field(default_factory=MachineBooking)
    """Bookable or not, narrower hours, the duration assumed for a job with no estimate."""

    # Filled by the loader from ``driver``; not in the file.
    driver_config: DriverConfig | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _kind_section(self) -> MachineProfile:
        wanted = _SECTION_FOR_KIND[self.kind]
        for section in _SECTION_FOR_KIND.values():
            if section != wanted and getattr(self, section) is not None:
                raise ValueError(f"a {self.kind.value} profile has no [{section}] table")
        if getattr(self, wanted) is None:
            defaults: dict[str, type[MachineParams]] = {
                "printer": PrinterParams,
                "cutter": CutterParams,
                "embroidery": EmbroideryParams,
            }
            setattr(self, wanted, defaults[wanted]())
        if "type" not in self.driver:
            raise ValueError('the [driver] table needs a type (e.g. type = "sim")')
        return self

    @property
    def driver_type(self) -> str:
        return str(self.driver["type"])

    @property
    def params(self) -> MachineParams:
        value = getattr(self, _SECTION_FOR_KIND[self.kind])
        assert value is not None
        return value  # type: ignore[no-any-return]


MaterialUnit = Literal["kg", "m2", "1000m", "piece"]


class MaterialProfile(BaseModel):
    """``profiles/materials/<slug>.toml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    kind: MachineKind
    """The kind of machine that uses it."""
    type: str = Field(min_length=1, max_length=40)
    """Family: PLA, PETG, vinyle polymère, flex thermocollant, polyester 40…"""
    colour: str = ""
    colour_hex: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    unit: MaterialUnit
    unit_price: Decimal = Field(ge=0)
    """€ HT per unit."""
    density_g_cm3: float | None = Field(None, gt=0)
    diameter_mm: float | None = Field(None, gt=0)
    width_mm: float | None = Field(None, gt=0)
    """Roll width (vinyl)."""
    cut_mirrored: bool = False
    """Cut the design mirrored whatever the machine's setting: heat-transfer flex is cut
    from its back, and a forgotten mirror spoils a garment."""
