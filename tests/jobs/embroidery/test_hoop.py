"""Hoop choice and fit problems: pure arithmetic, tables of numbers."""

from __future__ import annotations

import pytest

from jobs.base import Analysis, Bounds, MachineKind, Quantity
from jobs.embroidery.hoop import choose_hoop, fit_problem
from jobs.params.embroidery import EmbroideryParams, Hoop

HOOPS = [
    Hoop(name="4x4", width_mm=100, height_mm=100),
    Hoop(name="5x7", width_mm=130, height_mm=180),
    Hoop(name="6x10", width_mm=160, height_mm=260),
]


@pytest.mark.parametrize(
    ("w", "h", "margin", "turn", "hoop", "rotated"),
    [
        (50, 50, 3, False, "4x4", False),
        (94, 94, 3, False, "4x4", False),  # exactly the field less 2 × 3 mm
        (94.1, 94, 3, False, "5x7", False),  # 0.1 mm over: the next hoop
        (120, 170, 3, False, "5x7", False),
        (170, 120, 3, False, None, False),  # fits 5x7 only turned: not silently
        (170, 120, 3, True, "5x7", True),
        (222.5, 51.4, 3, False, None, False),  # the Embroidermodder logo
        (222.5, 51.4, 3, True, "6x10", True),
        (154, 254, 3, False, "6x10", False),
        (150, 250, 10, False, None, False),  # a wide margin leaves 140 × 240
    ],
)
def test_smallest_hoop_that_fits(w, h, margin, turn, hoop, rotated) -> None:
    fit = choose_hoop(HOOPS, margin, w, h, turn)
    assert (fit.hoop.name if fit.hoop else None) == hoop
    assert fit.rotated == rotated


def test_upright_beats_a_smaller_hoop_turned() -> None:
    hoops = [
        Hoop(name="long", width_mm=200, height_mm=60),
        Hoop(name="big", width_mm=200, height_mm=200),
    ]
    fit = choose_hoop(hoops, 0, 50, 150, allow_turn=True)
    assert fit.hoop is not None and fit.hoop.name == "big" and not fit.rotated


@pytest.mark.parametrize(
    ("w", "h", "over_w", "over_h", "turned"),
    [
        (300, 100, 0.0, 46.0, True),  # best turned in 6x10: 100 wide, 300 tall vs 154 × 254
        (170, 300, 16.0, 46.0, False),
        (160, 250, 6.0, 0.0, False),
    ],
)
def test_overshoot_of_the_closest_hoop(w, h, over_w, over_h, turned) -> None:
    fit = choose_hoop(HOOPS, 3, w, h, allow_turn=False)
    assert fit.hoop is None
    assert fit.overshoot_mm == pytest.approx((over_w, over_h))
    assert fit.closest_rotated == turned
    text = fit_problem(fit, w, h, 3)
    assert text is not None and "fits no hoop" in text
    if over_h:
        assert f"{over_h:.1f} mm too tall" in text
    if over_w:
        assert f"{over_w:.1f} mm too wide" in text


def test_turning_is_suggested_in_words() -> None:
    fit = choose_hoop(HOOPS, 3, 222.5, 51.4, allow_turn=False)
    assert fit.turn_to_fit is not None and fit.turn_to_fit.name == "6x10"
    text = fit_problem(fit, 222.5, 51.4, 3)
    assert text is not None
    assert "only turned by 90°" in text and "6x10" in text and "rotate_to_fit" in text


def analysis(w: float, h: float, stitches: int = 1000, changes: int = 0) -> Analysis:
    return Analysis(
        kind=MachineKind.embroidery,
        file_type="dst",
        analyzer="test",
        bounds=Bounds(min_x=-w / 2, min_y=-h / 2, max_x=w / 2, max_y=h / 2),
        counts={Quantity.STITCHES: stitches, Quantity.COLOUR_CHANGES: changes},
    )


def test_fit_problems_of_a_profile() -> None:
    params = EmbroideryParams(hoops=HOOPS, max_stitches=50_000, max_colour_changes=15)
    assert params.fit_problems(analysis(80, 80)) == []
    assert "fits no hoop" in params.fit_problems(analysis(300, 300))[0]
    assert "50,000" in params.fit_problems(analysis(80, 80, stitches=60_000))[0]
    assert "16 colour changes" in params.fit_problems(analysis(80, 80, changes=16))[0]


def test_pes_holds_at_most_255_colour_changes() -> None:
    pes = EmbroideryParams(native_format="pes")
    dst = EmbroideryParams(native_format="dst")
    assert pes.fit_problems(analysis(50, 50, changes=256))
    assert not pes.fit_problems(analysis(50, 50, changes=255))
    assert not dst.fit_problems(analysis(50, 50, changes=256))


def test_profile_validation() -> None:
    with pytest.raises(ValueError, match="no version"):
        EmbroideryParams(native_format="jef", format_version="6")
    with pytest.raises(ValueError, match="same name"):
        EmbroideryParams(hoops=[HOOPS[0], HOOPS[0]])
    with pytest.raises(ValueError, match="no room"):
        EmbroideryParams(hoops=[HOOPS[0]], hoop_margin_mm=50)
    assert EmbroideryParams(native_format="pes", format_version="6").format_version == "6"
    # An old profile (hoops and needles only) is still valid.
    old = EmbroideryParams.model_validate(
        {"needles": 1, "hoops": [{"name": "a", "width_mm": 100, "height_mm": 100}]}
    )
    assert old.native_format == "pes" and old.spm == 700


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("SA432 (130 × 180)", "SA432 (130 × 180)"),  # the size is in the name: once
        ("SA432 130x180", "SA432 130x180"),
        ("SA432", "SA432 (130 × 180 mm)"),
    ],
)
def test_hoop_named_by_its_size_is_not_sized_twice(name: str, said: str) -> None:
    big = Hoop(name=name, width_mm=130, height_mm=180)
    problem = fit_problem(choose_hoop([big], 3, 170, 120, False), 170, 120, 3)
    assert problem is not None
    assert f"fits {said} only turned" in problem
    assert "(130 × 180) (130 × 180 mm)" not in problem
