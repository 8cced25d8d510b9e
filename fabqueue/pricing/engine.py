"""The price of one design line: pure, ``Decimal``, every step shown.

Order of application (``docs/quotes.md`` has a worked example per kind):

1. Per copy: machine time rounded up to the started increment × the machine's hourly
   rate; material (quantity × unit price × (1 + waste)); handling labour derived from
   the design's counts (vinyl weeding; embroidery hooping and stabiliser).
2. Per line: setup fee + copies × (1) + design time entered by hand.
3. The client's or its group's adjustment (negative = discount), on (2).
4. The minimum per line, as a floor after the adjustment: a discount never takes a
   line under what any job costs the café.
5. The unit price (3-4 divided by the copies) is rounded to the rounding step; the line
   total is that unit price × copies, so what the quote prints always multiplies out.

What the analysis does not say (a size-only analysis has no duration, no area…) is left
out and listed in :attr:`PriceResult.missing`: the line is flagged for a staff estimate
instead of being priced as if it were free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from fabqueue.pricing.money import CENT, ceil_div, percent_of, round_to_step
from fabqueue.profiles.models import MaterialProfile
from fabqueue.profiles.prices import CutterPrices, EmbroideryPrices, PriceProfile
from jobs.base import Analysis, MachineKind, Quantity

ZERO = Decimal(0)
HOUR = Decimal(3600)
MAX_ADJUSTMENT = Decimal(200)


@dataclass(frozen=True)
class Component:
    code: str
    """setup, machine, material, transfer_tape, weeding, hooping, stabilizer, bobbin,
    design, adjustment, minimum, rounding."""
    label: str
    amount: Decimal
    """€ HT for the whole line (all copies), before rounding."""
    basis: str
    """How it was computed, for the person checking the quote."""


@dataclass(frozen=True)
class Missing:
    code: str
    """machine_time, material_quantity, material_price, weeding."""
    message: str


@dataclass(frozen=True)
class PriceInput:
    analysis: Analysis
    copies: int = 1
    hourly_rate: Decimal = ZERO
    """The machine's € HT per hour (machine profile ``hourly_rate``)."""
    material: MaterialProfile | None = None
    design_minutes: Decimal = ZERO
    adjustment_percent: Decimal = ZERO
    adjustment_label: str = ""


@dataclass(frozen=True)
class PriceResult:
    components: tuple[Component, ...]
    quantity: int
    unit_price: Decimal
    """€ HT per copy, rounded per the rules."""
    missing: tuple[Missing, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def complete(self) -> bool:
        return not self.missing

    def amount(self, code: str) -> Decimal:
        return sum((c.amount for c in self.components if c.code == code), ZERO)


def dec(value: float | int) -> Decimal:
    """A float from an analysis as the decimal it prints as (12.77, not 12.7699999…)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite quantity: {value}")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def quantity(analysis: Analysis, key: str) -> Decimal | None:
    """A quantity from the analysis' material or counts, or None when it is unknown."""
    value: float | int | None = analysis.material.get(key)
    if value is None:
        value = analysis.counts.get(key)
    if value is None:
        return None
    result = dec(value)
    if result < 0:
        raise ValueError(f"the analysis reports a negative {key}: {value}")
    return result


def _fmt(value: Decimal, places: str = "0.01") -> str:
    return str(value.quantize(Decimal(places)))


class _Builder:
    def __init__(self, copies: int) -> None:
        self.copies = copies
        self.components: list[Component] = []
        self.missing: list[Missing] = []

    def per_copy(self, code: str, label: str, each: Decimal, basis: str) -> None:
        amount = each * self.copies
        if self.copies > 1:
            basis = f"{basis} ; × {self.copies} exemplaires"
        self.components.append(Component(code, label, amount, basis))

    def once(self, code: str, label: str, amount: Decimal, basis: str) -> None:
        self.components.append(Component(code, label, amount, basis))

    def lack(self, code: str, message: str) -> None:
        self.missing.append(Missing(code, message))

    @property
    def subtotal(self) -> Decimal:
        return sum((c.amount for c in self.components), ZERO)


def _machine(b: _Builder, inp: PriceInput, increment_min: int) -> None:
    duration = inp.analysis.duration_s
    if duration is None:
        b.lack("machine_time", "durée machine inconnue : à estimer")
        return
    seconds = dec(duration)
    if seconds < 0:
        raise ValueError("the analysis reports a negative duration")
    step = Decimal(increment_min * 60)
    billed = ceil_div(seconds, step) * step
    each = billed / HOUR * inp.hourly_rate
    basis = (
        f"{_fmt(seconds / 60, '0.1')} min → {billed / 60:.0f} min "
        f"(par tranche de {increment_min} min) × {_fmt(inp.hourly_rate)} €/h"
    )
    b.per_copy("machine", "Temps machine", each, basis)


def _filament_g(analysis: Analysis, material: MaterialProfile | None) -> Decimal | None:
    grams = quantity(analysis, Quantity.FILAMENT_G)
    if grams is not None:
        return grams
    length = quantity(analysis, Quantity.FILAMENT_MM)
    if length is None or material is None:
        return None
    if material.density_g_cm3 is None or material.diameter_mm is None:
        return None
    radius = dec(material.diameter_mm) / 2
    # π r² × length in mm³, /1000 → cm³, × density → g.
    volume_cm3 = Decimal(repr(math.pi)) * radius * radius * length / 1000
    return volume_cm3 * dec(material.density_g_cm3)


_UNIT_SCALE = {"kg": Decimal(1000), "m2": Decimal(1_000_000), "1000m": Decimal(1000)}
"""Analysis quantity (g, mm², m) per material unit."""
_UNIT_NAME = {"kg": "kg", "m2": "m²", "1000m": "1000 m"}


def _material(b: _Builder, inp: PriceInput, waste: Decimal, qty: Decimal | None) -> None:
    material = inp.material
    if qty is None:
        b.lack("material_quantity", "quantité de matière inconnue : à estimer")
        return
    if material is None:
        b.lack("material_price", "aucune matière choisie : prix de la matière inconnu")
        return
    if material.unit not in _UNIT_SCALE:
        b.lack("material_price", f"{material.name} est vendu à l'unité ({material.unit})")
        return
    units = qty / _UNIT_SCALE[material.unit]
    each = units * material.unit_price * (1 + waste / 100)
    unit_name = _UNIT_NAME[material.unit]
    basis = f"{_fmt(units, '0.0001')} {unit_name} × {_fmt(material.unit_price)} €/{unit_name}"
    if waste:
        basis += f" + {_fmt(waste, '0.1')} % de chute"
    b.per_copy("material", f"Matière : {material.name}", each, basis)


def _vinyl(b: _Builder, inp: PriceInput, rules: PriceProfile, cutter: CutterPrices) -> None:
    area = quantity(inp.analysis, Quantity.VINYL_AREA_MM2)
    _material(b, inp, cutter.material_waste_percent, area)
    tape_needed = inp.material is None or inp.material.type not in cutter.no_transfer_tape_types
    if area is not None and tape_needed and cutter.transfer_tape_per_m2:
        m2 = area / _UNIT_SCALE["m2"]
        b.per_copy(
            "transfer_tape",
            "Papier transfert",
            m2 * cutter.transfer_tape_per_m2,
            f"{_fmt(m2, '0.0001')} m² × {_fmt(cutter.transfer_tape_per_m2)} €/m²",
        )
    pieces = quantity(inp.analysis, Quantity.PIECES)
    counters = quantity(inp.analysis, Quantity.COUNTERS)
    cut_mm = quantity(inp.analysis, Quantity.CUT_LENGTH_MM)
    if pieces is None and counters is None and cut_mm is None:
        b.lack("weeding", "pièces, contre-formes et longueur de coupe inconnues : à estimer")
        return
    cut_m = (cut_mm or ZERO) / 1000
    seconds = (
        (pieces or ZERO) * cutter.weeding_s_per_piece
        + (counters or ZERO) * cutter.weeding_s_per_counter
        + cut_m * cutter.weeding_s_per_m
    )
    rate = rules.labour.hourly_rate
    basis = (
        f"{pieces or 0} pièces, {counters or 0} contre-formes, {_fmt(cut_m)} m de coupe "
        f"→ {_fmt(seconds / 60, '0.1')} min × {_fmt(rate)} €/h"
    )
    b.per_copy("weeding", "Échenillage et pose du transfert", seconds / HOUR * rate, basis)


def _embroidery(b: _Builder, inp: PriceInput, rules: PriceProfile, emb: EmbroideryPrices) -> None:
    thread = quantity(inp.analysis, Quantity.THREAD_M)
    if thread is None:
        stitches = quantity(inp.analysis, Quantity.STITCHES)
        if stitches is not None:
            # Madeira's rule of thumb: about 5 m of top thread per 1000 stitches.
            thread = stitches * 5 / 1000
    _material(b, inp, emb.material_waste_percent, thread)
    bobbin = quantity(inp.analysis, Quantity.BOBBIN_M)
    if bobbin is not None and emb.bobbin_per_1000m:
        b.per_copy(
            "bobbin",
            "Fil de canette",
            bobbin / 1000 * emb.bobbin_per_1000m,
            f"{_fmt(bobbin, '0.1')} m × {_fmt(emb.bobbin_per_1000m)} €/1000 m",
        )
    known = quantity(inp.analysis, Quantity.HOOPINGS)
    hoopings = known if known is not None else Decimal(1)
    note = "" if known is not None else " (au moins un encadrement par pièce)"
    if emb.stabilizer_per_hooping:
        b.per_copy(
            "stabilizer",
            "Entoilage (stabilisateur)",
            hoopings * emb.stabilizer_per_hooping,
            f"{hoopings} encadrement(s) × {_fmt(emb.stabilizer_per_hooping)} €{note}",
        )
    if emb.hooping_s:
        rate = rules.labour.hourly_rate
        seconds = hoopings * emb.hooping_s
        b.per_copy(
            "hooping",
            "Encadrement du textile",
            seconds / HOUR * rate,
            f"{hoopings} × {emb.hooping_s} s × {_fmt(rate)} €/h{note}",
        )


def _printer(b: _Builder, inp: PriceInput, rules: PriceProfile) -> None:
    grams = _filament_g(inp.analysis, inp.material)
    _material(b, inp, rules.fdm_printer.material_waste_percent, grams)


def validate_input(inp: PriceInput) -> None:
    if inp.copies < 1:
        raise ValueError("the number of copies must be at least 1")
    if inp.design_minutes < 0:
        raise ValueError("design time cannot be negative")
    if inp.hourly_rate < 0:
        raise ValueError("the machine's hourly rate cannot be negative")
    if not -100 < inp.adjustment_percent <= MAX_ADJUSTMENT:
        raise ValueError("an adjustment must be more than −100 % and at most +200 %")


def price_line(inp: PriceInput, rules: PriceProfile) -> PriceResult:
    """Price ``inp.copies`` copies of one design. Raises ``ValueError`` on bad input."""
    validate_input(inp)
    kind = inp.analysis.kind
    table = rules.for_kind(kind)
    b = _Builder(inp.copies)
    if table.setup_fee:
        b.once("setup", "Mise en route", table.setup_fee, "forfait par ligne")
    _machine(b, inp, table.time_increment_min)
    if kind == MachineKind.fdm_printer:
        _printer(b, inp, rules)
    elif kind == MachineKind.vinyl_cutter:
        _vinyl(b, inp, rules, rules.vinyl_cutter)
    else:
        _embroidery(b, inp, rules, rules.embroidery)
    if inp.design_minutes:
        rate = rules.labour.design_hourly_rate or rules.labour.hourly_rate
        b.once(
            "design",
            "Création / préparation du fichier",
            inp.design_minutes / 60 * rate,
            f"{_fmt(inp.design_minutes, '0.1')} min × {_fmt(rate)} €/h",
        )
    subtotal = b.subtotal
    if inp.adjustment_percent:
        label = inp.adjustment_label or "Ajustement client"
        sign = "+" if inp.adjustment_percent > 0 else "−"
        b.once(
            "adjustment",
            label,
            percent_of(subtotal, inp.adjustment_percent),
            f"{sign}{_fmt(abs(inp.adjustment_percent), '0.1')} % de {_fmt(subtotal)} €",
        )
    adjusted = b.subtotal
    if adjusted < table.minimum:
        b.once(
            "minimum",
            "Complément au minimum par ligne",
            table.minimum - adjusted,
            f"minimum {_fmt(table.minimum)} € par ligne",
        )
    floor = b.subtotal
    unit = round_to_step(floor / inp.copies, rules.rounding_step, rules.rounding_mode)
    if unit * inp.copies < table.minimum:
        unit = round_to_step(floor / inp.copies, rules.rounding_step, "up")
    b.once(
        "rounding",
        "Arrondi",
        unit * inp.copies - floor,
        f"prix unitaire arrondi à {_fmt(rules.rounding_step)} € ({rules.rounding_mode})",
    )
    return PriceResult(
        components=tuple(b.components),
        quantity=inp.copies,
        unit_price=unit.quantize(CENT),
        missing=tuple(b.missing),
    )
