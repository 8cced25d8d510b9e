"""SVG lengths, viewports and affine transforms, as the SVG spec defines them.

Everything here is pure. Affine matrices are 3×3 numpy arrays acting on column
vectors (x, y, 1), so ``a @ b`` applies ``b`` first, like SVG's nested transforms.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Affine = NDArray[np.float64]

CSS_PPI = 96.0
LEGACY_INKSCAPE_PPI = 90.0
"""Inkscape before 0.92 drew px (and unitless documents) at 90 per inch."""
MM_PER_IN = 25.4

_UNIT_PER_INCH = {"in": 1.0, "cm": 2.54, "mm": 25.4, "q": 101.6, "pt": 72.0, "pc": 6.0}
_LENGTH = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z%]*)\s*$")


class LengthError(ValueError):
    """A length attribute that is not a number with a unit SVG knows."""


@dataclass(frozen=True)
class Viewport:
    """The box percentages refer to, in user units, and the resolution of absolute units."""

    width: float
    height: float
    ppi: float = CSS_PPI
    font_size: float = 16.0

    @property
    def diagonal(self) -> float:
        return math.sqrt((self.width**2 + self.height**2) / 2)


def identity() -> Affine:
    return np.eye(3)


def matrix(a: float, b: float, c: float, d: float, e: float, f: float) -> Affine:
    """SVG's ``matrix(a b c d e f)``."""
    return np.array([[a, c, e], [b, d, f], [0.0, 0.0, 1.0]])


def translate(x: float, y: float = 0.0) -> Affine:
    return matrix(1, 0, 0, 1, x, y)


def scale(x: float, y: float | None = None) -> Affine:
    return matrix(x, 0, 0, x if y is None else y, 0, 0)


def rotate(deg: float, cx: float = 0.0, cy: float = 0.0) -> Affine:
    r = math.radians(deg)
    c, s = math.cos(r), math.sin(r)
    return translate(cx, cy) @ matrix(c, s, -s, c, 0, 0) @ translate(-cx, -cy)


def determinant(m: Affine) -> float:
    return float(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])


def parse_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise LengthError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise LengthError(f"{text!r} is not a finite number")
    return value


def split_length(text: str) -> tuple[float, str]:
    m = _LENGTH.match(text)
    if m is None:
        raise LengthError(f"{text!r} is not a length")
    return parse_number(m.group(1)), m.group(2).lower()


def to_user(text: str, axis: str, vp: Viewport) -> float:
    """A length attribute in user units. ``axis`` is 'x', 'y' or 'other' (percentages
    of width, height, or the normalised diagonal)."""
    value, unit = split_length(text)
    if unit in ("", "px"):
        return value
    if unit == "%":
        ref = {"x": vp.width, "y": vp.height}.get(axis, vp.diagonal)
        return value * ref / 100.0
    if unit == "em":
        return value * vp.font_size
    if unit == "ex":
        return value * vp.font_size / 2
    per_inch = _UNIT_PER_INCH.get(unit)
    if per_inch is None:
        raise LengthError(f"unknown unit {unit!r} in {text!r}")
    return value * vp.ppi / per_inch


def to_mm(text: str, ppi: float) -> tuple[float, bool]:
    """A root ``width``/``height`` in millimetres, and whether it had an absolute unit."""
    value, unit = split_length(text)
    if unit in ("", "px"):
        return value * MM_PER_IN / ppi, False
    per_inch = _UNIT_PER_INCH.get(unit)
    if per_inch is None:
        raise LengthError(f"the document size {text!r} has no physical unit fabqueue knows")
    return value * MM_PER_IN / per_inch, True


def legacy_ppi(inkscape_version: str | None) -> float:
    """90 for files saved by Inkscape up to 0.91 (Inkcut's rule), 96 otherwise."""
    if not inkscape_version:
        return CSS_PPI
    m = re.match(r"\s*(\d+)\.(\d+)", inkscape_version)
    if m is None:
        return CSS_PPI
    major, minor = int(m.group(1)), int(m.group(2))
    return LEGACY_INKSCAPE_PPI if (major, minor) < (0, 92) else CSS_PPI


def parse_view_box(text: str | None) -> tuple[float, float, float, float] | None:
    """(min-x, min-y, width, height), or None when absent or unusable (as the spec says:
    a zero or negative size disables the viewBox)."""
    if text is None:
        return None
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    if len(parts) != 4:
        return None
    try:
        x, y, w, h = (parse_number(p) for p in parts)
    except LengthError:
        return None
    if w <= 0 or h <= 0:
        return None
    return x, y, w, h


def view_box_transform(
    view_box: tuple[float, float, float, float],
    width: float,
    height: float,
    preserve: str | None,
) -> Affine:
    """Map ``view_box`` onto a ``width`` × ``height`` viewport (SVG 1.1 §7.8)."""
    vx, vy, vw, vh = view_box
    sx, sy = width / vw, height / vh
    words = (preserve or "xMidYMid meet").split()
    if words and words[0] == "defer":
        words = words[1:]
    align = words[0] if words else "xMidYMid"
    mode = words[1] if len(words) > 1 else "meet"
    if align == "none":
        return scale(sx, sy) @ translate(-vx, -vy)
    s = max(sx, sy) if mode == "slice" else min(sx, sy)
    tx = -vx * s
    ty = -vy * s
    if "xMid" in align:
        tx += (width - vw * s) / 2
    elif "xMax" in align:
        tx += width - vw * s
    if "YMid" in align:
        ty += (height - vh * s) / 2
    elif "YMax" in align:
        ty += height - vh * s
    return matrix(s, 0, 0, s, tx, ty)


_TRANSFORM = re.compile(r"\s*(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)\s*,?")
_NUMBERS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def parse_transform(text: str) -> Affine:
    """A ``transform`` attribute. Raises ValueError on bad syntax (the spec then ignores
    the attribute; the caller decides)."""
    m = identity()
    pos = 0
    text = text.strip()
    while pos < len(text):
        found = _TRANSFORM.match(text, pos)
        if found is None:
            raise ValueError(f"cannot read the transform {text[pos : pos + 40]!r}")
        name = found.group(1)
        args = [float(v) for v in _NUMBERS.findall(found.group(2))]
        m = m @ _one_transform(name, args)
        pos = found.end()
    if not np.all(np.isfinite(m)):
        raise ValueError("the transform is not finite")
    return m


def _one_transform(name: str, a: list[float]) -> Affine:
    n = len(a)
    if name == "matrix" and n == 6:
        return matrix(*a)
    if name == "translate" and n in (1, 2):
        return translate(*a)
    if name == "scale" and n in (1, 2):
        return scale(*a)
    if name == "rotate" and n in (1, 3):
        return rotate(*a)
    if name == "skewX" and n == 1:
        return matrix(1, 0, math.tan(math.radians(a[0])), 1, 0, 0)
    if name == "skewY" and n == 1:
        return matrix(1, math.tan(math.radians(a[0])), 0, 1, 0, 0)
    raise ValueError(f"{name}() takes other arguments than {a}")


def apply(m: Affine, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Transform an (..., 2) array of points."""
    out = points @ m[:2, :2].T
    out += m[:2, 2]
    return out
