"""Price rules, one table per job kind. Every expected price is worked out by hand in
the comment beside it, from the rules in ``RULES`` (not from the shipped prices.toml)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from fabqueue.pricing import PriceInput, price_line
from fabqueue.profiles.models import MaterialProfile
from fabqueue.profiles.prices import PriceProfile
from jobs.base import Analysis, MachineKind

RULES = PriceProfile.model_validate(
    {
        "rounding_step": "0.10",
        "rounding_mode": "up",
        "labour": {"hourly_rate": "30.00", "design_hourly_rate": "36.00"},
        "fdm_printer": {
            "setup_fee": "2.00",
            "time_increment_min": 15,
            "minimum": "3.00",
            "material_waste_percent": "10",
        },
        "vinyl_cutter": {
            "setup_fee": "5.00",
            "time_increment_min": 5,
            "minimum": "8.00",
            "material_waste_percent": "15",
            "transfer_tape_per_m2": "6.00",
            "weeding_s_per_piece": "20",
            "weeding_s_per_counter": "15",
            "weeding_s_per_m": "30",
        },
        "embroidery": {
            "setup_fee": "10.00",
            "time_increment_min": 5,
            "minimum": "12.00",
            "material_waste_percent": "10",
            "stabilizer_per_hooping": "0.30",
            "hooping_s": "90",
            "bobbin_per_1000m": "2.00",
        },
    }
)


def material(slug: str, kind: str, unit: str, price: str, **extra: Any) -> MaterialProfile:
    return MaterialProfile.model_validate(
        {
            "slug": slug,
            "name": slug,
            "kind": kind,
            "type": extra.pop("type", slug),
            "unit": unit,
            "unit_price": price,
            **extra,
        }
    )


PLA = material("pla", "fdm_printer", "kg", "22.00", density_g_cm3=1.24, diameter_mm=1.75)
VINYL = material("vinyle", "vinyl_cutter", "m2", "12.00", type="vinyle polymère")
FLEX = material("flex", "vinyl_cutter", "m2", "18.00", type="flex thermocollant")
THREAD = material("fil", "embroidery", "1000m", "3.50")


def analysis(kind: MachineKind, duration: float | None, **q: float) -> Analysis:
    counts = {
        k: int(v) for k, v in q.items() if k in {"pieces", "counters", "stitches", "hoopings"}
    }
    mat = {k: v for k, v in q.items() if k not in counts}
    return Analysis(
        kind=kind, file_type="x", analyzer="test", duration_s=duration, material=mat, counts=counts
    )


FDM = MachineKind.fdm_printer
CUT = MachineKind.vinyl_cutter
EMB = MachineKind.embroidery

PRINTER_CASES = [
    # Benchy: 2323 s → 45 min × 1.50 = 1.125; 12.77 g × 22 €/kg × 1.1 = 0.309034;
    # + setup 2 = 3.434034 → 3.50.
    ("benchy", {"duration": 2323, "filament_g": 12.77}, 1, {}, "3.50", "3.50"),
    # × 3: 2 + 3 × 1.125 + 3 × 0.309034 = 6.302102; / 3 = 2.1007 → 2.20; × 3 = 6.60.
    ("benchy x3", {"duration": 2323, "filament_g": 12.77}, 3, {}, "2.20", "6.60"),
    # 60 s → 15 min = 0.375; 0.42 g → 0.010164; + 2 = 2.385164 → minimum 3.00.
    ("tiny part hits the minimum", {"duration": 60, "filament_g": 0.42}, 1, {}, "3.00", "3.00"),
    # 900 s is exactly 15 min: 0.375 + 2 = 2.375 → 3.00 (min); 901 s → 30 min = 0.75.
    ("exact increment", {"duration": 900, "filament_g": 0}, 1, {}, "3.00", "3.00"),
    (
        "started increment",
        {"duration": 901, "filament_g": 100},
        1,
        {},
        # 0.75 + 100 g × 0.0242 = 2.42 + 2 = 5.17 → 5.20
        "5.20",
        "5.20",
    ),
    # Member −20 %: 3.434034 × 0.8 = 2.747 → under the minimum → 3.00.
    (
        "discount never goes under the minimum",
        {"duration": 2323, "filament_g": 12.77},
        1,
        {"adjustment_percent": D("-20")},
        "3.00",
        "3.00",
    ),
    # × 10, −20 %: 2 + 11.25 + 3.09034 = 16.34034 × 0.8 = 13.072272; / 10 → 1.40; 14.00.
    (
        "discount on a series",
        {"duration": 2323, "filament_g": 12.77},
        10,
        {"adjustment_percent": D("-20")},
        "1.40",
        "14.00",
    ),
    # +10 % and 30 min of design at 36 €/h = 18: (3.434034 + 18) × 1.1 = 23.5774 → 23.60.
    (
        "surcharge and design time",
        {"duration": 2323, "filament_g": 12.77},
        1,
        {"adjustment_percent": D("10"), "design_minutes": D("30")},
        "23.60",
        "23.60",
    ),
    # Grams from 1000 mm of 1.75 mm PLA: π × 0.875² × 1000 / 1000 = 2.405282 cm³ ×
    # 1.24 = 2.98255 g × 0.0242 = 0.072178; 3600 s = 1.50; + 2 = 3.572178 → 3.60.
    ("grams from filament length", {"duration": 3600, "filament_mm": 1000}, 1, {}, "3.60", "3.60"),
]

VINYL_CASES = [
    # Window lettering: 240 s → 5 min × 6 €/h = 0.50; 0.5 m² × 12 × 1.15 = 6.90;
    # tape 0.5 × 6 = 3.00; weeding 32×20 + 12×15 + 3.84 m × 30 = 935.2 s × 30 €/h =
    # 7.793333; + setup 5 = 23.193333 → 23.20.
    (
        "window lettering",
        VINYL,
        {
            "duration": 240,
            "vinyl_area_mm2": 500_000,
            "pieces": 32,
            "counters": 12,
            "cut_length_mm": 3840,
        },
        1,
        "23.20",
        "23.20",
    ),
    # Flex, no tape, × 2: machine 0.50 each; 0.04 m² × 18 × 1.15 = 0.828 each; weeding
    # 3×20 + 1×15 + 1.2×30 = 111 s = 0.925 each; 5 + 2 × 2.253 = 9.506; / 2 → 4.80.
    (
        "flex for two shirts",
        FLEX,
        {
            "duration": 90,
            "vinyl_area_mm2": 40_000,
            "pieces": 3,
            "counters": 1,
            "cut_length_mm": 1200,
        },
        2,
        "4.80",
        "9.60",
    ),
    # 20 stickers: 0.50 + 0.138 + tape 0.06 + weeding (20 + 0.4×30 = 32 s) 0.266667 per
    # copy = 0.964667 × 20 = 19.293333 + 5 = 24.293333; / 20 = 1.214667 → 1.30; 26.00.
    (
        "twenty stickers",
        VINYL,
        {
            "duration": 20,
            "vinyl_area_mm2": 10_000,
            "pieces": 1,
            "counters": 0,
            "cut_length_mm": 400,
        },
        20,
        "1.30",
        "26.00",
    ),
]

EMBROIDERY_CASES = [
    # 10 shirts, Cake-3-like: 1698 s → 30 min × 4 €/h = 2.00; thread 74.6 m × 3.5/1000 ×
    # 1.1 = 0.28721; bobbin 44.8 m × 2/1000 = 0.0896; stabiliser 0.30; hooping 90 s ×
    # 30 €/h = 0.75 → 3.42681 each × 10 = 34.2681 + 10 = 44.2681; / 10 → 4.50; 45.00.
    (
        "ten work shirts",
        {"duration": 1698, "stitches": 14922, "thread_m": 74.6, "bobbin_m": 44.8, "hoopings": 1},
        10,
        {},
        "4.50",
        "45.00",
    ),
    # Thread from stitches (5 m per 1000): 17 m → 0.06545; 414 s → 10 min = 0.666667;
    # 0.30 + 0.75 (one hooping assumed) + 10 = 11.782117 × 0.9 = 10.6039 → min 12.00.
    (
        "group discount under the minimum",
        {"duration": 414, "stitches": 3400},
        1,
        {"adjustment_percent": D("-10")},
        "12.00",
        "12.00",
    ),
    # Two hoopings and 45 min of digitising at 36 €/h = 27: 40 min = 2.666667; 100 m →
    # 0.385; 2 × 0.30 + 2 × 0.75 = 2.10; + 10 + 27 = 42.151667 → 42.20.
    (
        "two hoopings and digitising",
        {"duration": 2400, "stitches": 20000, "thread_m": 100, "hoopings": 2},
        1,
        {"design_minutes": D("45")},
        "42.20",
        "42.20",
    ),
]


@pytest.mark.parametrize(("name", "q", "copies", "extra", "unit", "total"), PRINTER_CASES)
def test_printer_prices(
    name: str, q: dict[str, float], copies: int, extra: dict[str, Any], unit: str, total: str
) -> None:
    duration = q.pop("duration")
    a = analysis(FDM, duration, **q)
    r = price_line(PriceInput(a, copies, D("1.50"), PLA, **extra), RULES)
    assert (r.unit_price, r.total) == (D(unit), D(total)), name
    assert r.complete
    assert sum(c.amount for c in r.components) == r.total


@pytest.mark.parametrize(("name", "mat", "q", "copies", "unit", "total"), VINYL_CASES)
def test_vinyl_prices(
    name: str, mat: MaterialProfile, q: dict[str, float], copies: int, unit: str, total: str
) -> None:
    duration = q.pop("duration")
    r = price_line(PriceInput(analysis(CUT, duration, **q), copies, D("6.00"), mat), RULES)
    assert (r.unit_price, r.total) == (D(unit), D(total)), name
    assert ("transfer_tape" in {c.code for c in r.components}) == (mat is VINYL)
    assert r.complete


@pytest.mark.parametrize(("name", "q", "copies", "extra", "unit", "total"), EMBROIDERY_CASES)
def test_embroidery_prices(
    name: str, q: dict[str, float], copies: int, extra: dict[str, Any], unit: str, total: str
) -> None:
    duration = q.pop("duration")
    r = price_line(
        PriceInput(analysis(EMB, duration, **q), copies, D("4.00"), THREAD, **extra), RULES
    )
    assert (r.unit_price, r.total) == (D(unit), D(total)), name
    assert r.complete


def test_component_amounts_of_the_window_lettering() -> None:
    a = analysis(CUT, 240, vinyl_area_mm2=500_000, pieces=32, counters=12, cut_length_mm=3840)
    r = price_line(PriceInput(a, 1, D("6.00"), VINYL), RULES)
    assert r.amount("machine") == D("0.50")
    assert r.amount("material") == D("6.90")
    assert r.amount("transfer_tape") == D("3.00")
    assert r.amount("weeding").quantize(D("0.000001")) == D("7.793333")
    assert r.amount("setup") == D("5.00")


@pytest.mark.parametrize(
    ("kind", "rate", "mat", "missing", "price"),
    [
        # Size-only analyses: only the setup fee is known; the minimum fills the rest.
        (FDM, "1.50", PLA, {"machine_time", "material_quantity"}, "3.00"),
        (CUT, "6.00", VINYL, {"machine_time", "material_quantity", "weeding"}, "8.00"),
        # Embroidery still knows the garment is hooped once: 10 + 0.30 + 0.75 → 12 (min).
        (EMB, "4.00", THREAD, {"machine_time", "material_quantity"}, "12.00"),
    ],
)
def test_size_only_analysis_is_flagged_not_free(
    kind: MachineKind, rate: str, mat: MaterialProfile, missing: set[str], price: str
) -> None:
    a = Analysis(kind=kind, file_type="x", analyzer="size-only", counts={"bytes": 1234})
    r = price_line(PriceInput(a, 1, D(rate), mat), RULES)
    assert {m.code for m in r.missing} == missing
    assert not r.complete
    assert r.unit_price == D(price)


def test_no_material_chosen_is_flagged() -> None:
    a = analysis(FDM, 3600, filament_g=50)
    r = price_line(PriceInput(a, 1, D("1.50"), None), RULES)
    assert [m.code for m in r.missing] == ["material_price"]


def test_nearest_rounding() -> None:
    rules = RULES.model_copy(update={"rounding_mode": "nearest"})
    a = analysis(FDM, 2323, filament_g=12.77)
    # 3.434034 → 3.40 to the nearest ten cents (up would give 3.50).
    assert price_line(PriceInput(a, 1, D("1.50"), PLA), rules).unit_price == D("3.40")
    # 6.302102 / 3 = 2.1007 → 2.10.
    assert price_line(PriceInput(a, 3, D("1.50"), PLA), rules).unit_price == D("2.10")


def test_nearest_rounding_never_goes_under_the_minimum() -> None:
    rules = RULES.model_copy(update={"rounding_mode": "nearest", "rounding_step": D("1.00")})
    # minimum 3.00 over 7 copies = 0.4286 each: nearest whole euro would be 0 → up: 1.00.
    a = analysis(FDM, 10, filament_g=0)
    r = price_line(PriceInput(a, 7, D("0"), PLA), rules)
    assert r.unit_price == D("1.00")
    assert r.total >= D("3.00")


@pytest.mark.parametrize(
    "bad",
    [
        {"copies": 0},
        {"design_minutes": D("-1")},
        {"adjustment_percent": D("-100")},
        {"adjustment_percent": D("-150")},
        {"adjustment_percent": D("201")},
        {"hourly_rate": D("-1")},
    ],
)
def test_bad_input_is_refused(bad: dict[str, Any]) -> None:
    inp = {"analysis": analysis(FDM, 60, filament_g=1), "material": PLA, **bad}
    with pytest.raises(ValueError):
        price_line(PriceInput(**inp), RULES)


def test_negative_or_infinite_quantities_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        price_line(PriceInput(analysis(FDM, 60, filament_g=-3), 1, D("1"), PLA), RULES)
    with pytest.raises(ValueError, match="negative"):
        price_line(PriceInput(analysis(FDM, -60, filament_g=3), 1, D("1"), PLA), RULES)
    with pytest.raises(ValueError, match="finite"):
        price_line(PriceInput(analysis(FDM, 60, filament_g=float("inf")), 1, D("1"), PLA), RULES)
