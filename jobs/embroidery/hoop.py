"""Which hoop a design goes in. Pure arithmetic on sizes in millimetres.

The rule: the smallest hoop (by area) whose usable field, less the margin on every side,
holds the design as it is. A design that fits only turned by 90° is never turned
silently: it is a suggestion, unless the machine's profile allows turning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

TOLERANCE_MM = 0.05


class HoopLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def width_mm(self) -> float: ...
    @property
    def height_mm(self) -> float: ...


@dataclass(frozen=True)
class HoopFit:
    hoop: HoopLike | None
    """The hoop to use (None: the design cannot go in any, as allowed)."""
    rotated: bool = False
    """The design is turned 90° to fit ``hoop`` (only when turning is allowed)."""
    turn_to_fit: HoopLike | None = None
    """When nothing fits as it is: the smallest hoop it would fit turned by 90°."""
    overshoot_mm: tuple[float, float] = (0.0, 0.0)
    """How much too wide and too tall the design is for the closest hoop."""
    closest: HoopLike | None = None
    closest_rotated: bool = False


def usable(hoop: HoopLike, margin_mm: float) -> tuple[float, float]:
    return (hoop.width_mm - 2 * margin_mm, hoop.height_mm - 2 * margin_mm)


def _fits(w: float, h: float, field: tuple[float, float]) -> bool:
    return w <= field[0] + TOLERANCE_MM and h <= field[1] + TOLERANCE_MM


def choose_hoop(
    hoops: list[HoopLike], margin_mm: float, width: float, height: float, allow_turn: bool
) -> HoopFit:
    by_area = sorted(hoops, key=lambda h: (h.width_mm * h.height_mm, h.width_mm))
    upright = [h for h in by_area if _fits(width, height, usable(h, margin_mm))]
    turned = [h for h in by_area if _fits(height, width, usable(h, margin_mm))]
    if upright:
        return HoopFit(hoop=upright[0])
    if turned and allow_turn:
        return HoopFit(hoop=turned[0], rotated=True)
    closest, closest_rotated, over = _closest(by_area, margin_mm, width, height)
    return HoopFit(
        hoop=None,
        turn_to_fit=turned[0] if turned else None,
        overshoot_mm=over,
        closest=closest,
        closest_rotated=closest_rotated,
    )


def _closest(
    hoops: list[HoopLike], margin_mm: float, width: float, height: float
) -> tuple[HoopLike | None, bool, tuple[float, float]]:
    best: tuple[float, HoopLike | None, bool, tuple[float, float]]
    best = (float("inf"), None, False, (0.0, 0.0))
    for hoop in hoops:
        field = usable(hoop, margin_mm)
        for turned, (w, h) in ((False, (width, height)), (True, (height, width))):
            over = (max(0.0, w - field[0]), max(0.0, h - field[1]))
            if max(over) < best[0]:
                best = (max(over), hoop, turned, over)
    return best[1], best[2], best[3]


def describe(hoop: HoopLike) -> str:
    size = f"{hoop.width_mm:g} × {hoop.height_mm:g}"
    # Profiles often name a hoop by its size already ("SA432 (130 × 180)"): say it once.
    named = re.sub(r"\s*[x×]\s*", " × ", hoop.name)
    if size in named:
        return hoop.name
    return f"{hoop.name} ({size} mm)"


def fit_problem(fit: HoopFit, width: float, height: float, margin_mm: float) -> str | None:
    """Why the design cannot be embroidered as it is, in words for the counter."""
    if fit.hoop is not None:
        return None
    size = f"the design ({width:.1f} × {height:.1f} mm)"
    if fit.turn_to_fit is not None:
        return (
            f"{size} fits {describe(fit.turn_to_fit)} only turned by 90°: turn it in the "
            "design software (ask the customer first), or allow turning in this "
            "machine's profile (rotate_to_fit)"
        )
    if fit.closest is None:
        return f"{size} fits no hoop: this machine has none configured"
    over_w, over_h = fit.overshoot_mm
    parts = []
    if over_w > 0:
        parts.append(f"{over_w:.1f} mm too wide")
    if over_h > 0:
        parts.append(f"{over_h:.1f} mm too tall")
    turned = ", turned by 90°," if fit.closest_rotated else ""
    return (
        f"{size} fits no hoop: even{turned} it is {' and '.join(parts)} for the closest, "
        f"{describe(fit.closest)} less a {margin_mm:g} mm margin on each side"
    )
