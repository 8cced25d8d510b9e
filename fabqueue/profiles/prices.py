"""``profiles/prices.toml``: the café's price rules, as data.

Every figure is € HT (VAT is added on the quote, per the site's regime). The rules are
applied by :mod:`fabqueue.pricing`; ``docs/quotes.md`` shows a worked example per kind.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jobs.base import MachineKind

Money = Decimal
Percent = Decimal
NoShowRule = Literal["free", "as_booked", "fee"]
Rate = Annotated[Decimal, Field(ge=0, decimal_places=2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KindPrices(_Strict):
    """What every kind has: a setup fee, machine-time rounding, a minimum, waste."""

    setup_fee: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """Once per job line (file preparation, loading material), whatever the copies."""
    time_increment_min: int = Field(1, ge=1, le=240)
    """Machine time is billed per started increment (e.g. 15 = per started quarter hour)."""
    minimum: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """Least a job line costs (all copies together), after any discount."""
    material_waste_percent: Percent = Field(Decimal("0"), ge=0, le=200)
    """Material bought but not in the part: purge, supports, offcuts, failed starts."""
    default_material: str | None = None
    """Material used to price a design when the customer did not choose one."""


class PrinterPrices(KindPrices):
    pass


class CutterPrices(KindPrices):
    transfer_tape_per_m2: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """Application tape over the vinyl area (it can cost more than the vinyl itself)."""
    no_transfer_tape_types: list[str] = Field(default_factory=lambda: ["flex thermocollant"])
    """Material types that need no application tape (heat-transfer flex has its carrier)."""
    weeding_s_per_piece: Decimal = Field(Decimal("0"), ge=0)
    """Seconds of weeding and handling per separate piece."""
    weeding_s_per_counter: Decimal = Field(Decimal("0"), ge=0)
    """Seconds per hole to pick out (the inside of an o, a, e…)."""
    weeding_s_per_m: Decimal = Field(Decimal("0"), ge=0)
    """Seconds per metre of cut line (long intricate outlines weed slowly)."""


class EmbroideryPrices(KindPrices):
    stabilizer_per_hooping: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """Backing (tear-away, cut-away) used for each hooping."""
    hooping_s: Decimal = Field(Decimal("0"), ge=0)
    """Seconds of labour to hoop (and unhoop) a garment, per hooping."""
    bobbin_per_1000m: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """Bobbin thread, when the analysis reports it separately."""


class LabourPrices(_Strict):
    hourly_rate: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """Staff time: weeding, hooping (derived from counts) and design (entered by hand)."""
    design_hourly_rate: Money | None = Field(None, ge=0, decimal_places=2)
    """Design/digitising time, when it is priced differently from handling."""


class MemberPrices(_Strict):
    """What a member's own machine time costs (``[members]``); 0 = free, as most cafés."""

    hourly_rate: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """€ HT per hour of machine time of a member's own job."""
    time_increment_min: int = Field(15, ge=1, le=240)
    """Machine time is billed per started increment."""
    booking_hourly_rate: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """€ HT per hour of a member's booked autonomous machine time (0 = bookings free)."""
    booking_machine_rates: dict[str, Rate] = Field(default_factory=dict)
    """Per machine (its profile's file name): € HT per booked hour, instead of
    ``booking_hourly_rate`` (0 = that machine's bookings are free)."""
    booking_increment_min: int = Field(30, ge=1, le=240)
    """Booked time is billed per started increment."""
    no_show: NoShowRule = "free"
    """A booking the member did not come to: ``free``, ``as_booked`` (billed as if
    honoured: the machine was kept for them) or ``fee`` (``no_show_fee``, once)."""
    no_show_fee: Money = Field(Decimal("0"), ge=0, decimal_places=2)
    """€ HT billed once per booking missed, when ``no_show = "fee"``."""

    @model_validator(mode="after")
    def _fee_is_set(self) -> MemberPrices:
        if self.no_show == "fee" and self.no_show_fee <= 0:
            raise ValueError('no_show = "fee" needs a no_show_fee above 0 (€ HT)')
        if self.no_show != "fee" and self.no_show_fee > 0:
            raise ValueError('no_show_fee is only billed with no_show = "fee"')
        return self

    def booking_rate(self, machine: str) -> Money:
        """€ HT per booked hour on ``machine``."""
        return self.booking_machine_rates.get(machine, self.booking_hourly_rate)

    @property
    def charges_bookings(self) -> bool:
        return self.booking_hourly_rate > 0 or any(
            r > 0 for r in self.booking_machine_rates.values()
        )


class Group(_Strict):
    label: str = Field(min_length=1, max_length=80)
    adjustment_percent: Percent = Field(gt=-100, le=200)
    """Negative = discount (−20 = 20 % off), positive = surcharge."""


RoundingMode = Literal["up", "nearest"]


class PriceProfile(_Strict):
    """``profiles/prices.toml``. Missing file = everything at zero but machine time."""

    schema_version: Literal[1] = 1
    rounding_step: Money = Field(Decimal("0.01"), gt=0, le=100, decimal_places=2)
    """Unit prices are rounded to a multiple of this (0.10 = to the next ten cents)."""
    rounding_mode: RoundingMode = "up"
    labour: LabourPrices = Field(default_factory=LabourPrices)
    fdm_printer: PrinterPrices = Field(default_factory=PrinterPrices)
    vinyl_cutter: CutterPrices = Field(default_factory=CutterPrices)
    embroidery: EmbroideryPrices = Field(default_factory=EmbroideryPrices)
    members: MemberPrices = Field(default_factory=MemberPrices)
    groups: dict[str, Group] = Field(default_factory=dict)
    """Price groups a client organisation (or member) belongs to, by key."""

    def for_kind(self, kind: MachineKind) -> KindPrices:
        table: KindPrices = getattr(self, kind.value)
        return table
