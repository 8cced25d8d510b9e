"""SVG path data and basic shapes as cubic Bézier control points, in user units.

Every segment becomes a cubic (lines as degenerate cubics, quadratics raised exactly,
elliptical arcs approximated by cubics of at most 45° each, error < 5e-6 × radius)
*before* any transform: an affine transform of a cubic's control points is exact, while
transforming arcs is where svgpathtools goes wrong under mirror or skew (upstream #126).

Malformed data is handled as the SVG spec says: the path is drawn up to the error, and
the error is reported so the user hears about it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_TOKEN = re.compile(r"[A-Za-z]|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[^\s,]")
_ARGS = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "t": 2, "a": 7, "z": 0}
MAX_ARC_STEP = math.pi / 4


@dataclass
class Subpath:
    ctrl: NDArray[np.float64]
    """(segments, 4, 2) cubic control points."""
    closed: bool


class PathDataError(ValueError):
    pass


class _Builder:
    def __init__(self) -> None:
        self.done: list[Subpath] = []
        self.flat: list[float] = []
        self.start = (0.0, 0.0)
        self.cur = (0.0, 0.0)

    def move(self, x: float, y: float) -> None:
        self.finish(False)
        self.start = self.cur = (x, y)

    def line(self, x: float, y: float) -> None:
        x0, y0 = self.cur
        dx, dy = (x - x0) / 3, (y - y0) / 3
        self.flat += (x0, y0, x0 + dx, y0 + dy, x - dx, y - dy, x, y)
        self.cur = (x, y)

    def cubic(self, x1: float, y1: float, x2: float, y2: float, x: float, y: float) -> None:
        self.flat += (*self.cur, x1, y1, x2, y2, x, y)
        self.cur = (x, y)

    def close(self) -> None:
        if self.cur != self.start:
            self.line(*self.start)
        self.finish(True)
        self.cur = self.start

    def finish(self, closed: bool) -> None:
        if self.flat:
            ctrl = np.array(self.flat, dtype=np.float64).reshape(-1, 4, 2)
            self.done.append(Subpath(ctrl, closed))
            self.flat = []


def parse_path(d: str, max_segments: int) -> tuple[list[Subpath], str | None]:
    """The subpaths of ``d`` and the first error met (None when the data is clean)."""
    tokens: list[str] = _TOKEN.findall(d)
    b = _Builder()
    i = 0
    n = len(tokens)
    cmd = ""
    last_ctrl: tuple[float, float] | None = None
    last_cmd = ""
    error: str | None = None
    segments = 0

    def number() -> float:
        nonlocal i
        if i >= n:
            raise PathDataError("the data ends in the middle of a command")
        tok = tokens[i]
        if tok[0].isalpha():
            raise PathDataError(f"command {cmd!r} is missing numbers before {tok!r}")
        try:
            value = float(tok)
        except ValueError:
            raise PathDataError(f"{tok!r} is not a number") from None
        if not math.isfinite(value):
            raise PathDataError(f"{tok!r} is not a finite number")
        i += 1
        return value

    def flag() -> bool:
        nonlocal i
        if i >= n:
            raise PathDataError("the data ends in the middle of an arc")
        tok = tokens[i]
        if tok[0] not in "01":
            raise PathDataError(f"arc flag {tok!r} is neither 0 nor 1")
        # Flags need no separator ("a10 10 0 0110 10"): the rest of the token is next.
        if len(tok) > 1:
            tokens[i] = tok[1:]
        else:
            i += 1
        return tok[0] == "1"

    try:
        while i < n:
            tok = tokens[i]
            if tok[0].isalpha():
                if tok.lower() not in _ARGS:
                    raise PathDataError(f"unknown path command {tok!r}")
                if not cmd and tok not in "mM":
                    raise PathDataError("path data must start with a moveto (M)")
                cmd = tok
                i += 1
                if cmd in "zZ":
                    b.close()
                    last_cmd, last_ctrl = cmd, None
                    continue
            elif not cmd:
                raise PathDataError("path data must start with a moveto (M)")
            elif cmd in "zZ":
                raise PathDataError(f"numbers after {cmd!r}")
            segments += 1
            if segments > max_segments:
                raise PathDataError(f"more than {max_segments} segments")
            rel = cmd.islower()
            ox, oy = b.cur if rel else (0.0, 0.0)
            c = cmd.lower()
            ctrl: tuple[float, float] | None = None
            if c == "m":
                x, y = number() + ox, number() + oy
                b.move(x, y)
                cmd = "l" if rel else "L"  # further pairs are implicit lineto
            elif c == "l":
                b.line(number() + ox, number() + oy)
            elif c == "h":
                b.line(number() + ox, b.cur[1])
            elif c == "v":
                b.line(b.cur[0], number() + oy)
            elif c == "c":
                x1, y1, x2, y2 = number() + ox, number() + oy, number() + ox, number() + oy
                x, y = number() + ox, number() + oy
                b.cubic(x1, y1, x2, y2, x, y)
                ctrl = (x2, y2)
            elif c == "s":
                x1, y1 = _reflect(b.cur, last_ctrl if last_cmd.lower() in "cs" else None)
                x2, y2, x, y = number() + ox, number() + oy, number() + ox, number() + oy
                b.cubic(x1, y1, x2, y2, x, y)
                ctrl = (x2, y2)
            elif c in "qt":
                if c == "q":
                    qx, qy = number() + ox, number() + oy
                else:
                    qx, qy = _reflect(b.cur, last_ctrl if last_cmd.lower() in "qt" else None)
                x, y = number() + ox, number() + oy
                x0, y0 = b.cur
                b.cubic(
                    x0 + 2 / 3 * (qx - x0),
                    y0 + 2 / 3 * (qy - y0),
                    x + 2 / 3 * (qx - x),
                    y + 2 / 3 * (qy - y),
                    x,
                    y,
                )
                ctrl = (qx, qy)
            else:  # arc
                rx, ry, phi = abs(number()), abs(number()), number()
                large, sweep = flag(), flag()
                x, y = number() + ox, number() + oy
                arc_to(b, rx, ry, phi, large, sweep, x, y)
            last_cmd, last_ctrl = cmd, ctrl
    except PathDataError as exc:
        error = str(exc)
    b.finish(False)
    return b.done, error


def _reflect(cur: tuple[float, float], ctrl: tuple[float, float] | None) -> tuple[float, float]:
    if ctrl is None:
        return cur
    return 2 * cur[0] - ctrl[0], 2 * cur[1] - ctrl[1]


def arc_to(
    b: _Builder, rx: float, ry: float, phi_deg: float, large: bool, sweep: bool, x: float, y: float
) -> None:
    """SVG 1.1 implementation notes F.6.5 (endpoint to centre) and F.6.6 (radii out of
    range), then cubics of at most 45° each."""
    x1, y1 = b.cur
    if (x1, y1) == (x, y):
        return
    if rx == 0 or ry == 0:
        b.line(x, y)
        return
    phi = math.radians(phi_deg % 360)
    cp, sp = math.cos(phi), math.sin(phi)
    dx2, dy2 = (x1 - x) / 2, (y1 - y) / 2
    x1p = cp * dx2 + sp * dy2
    y1p = -sp * dx2 + cp * dy2
    lam = (x1p / rx) ** 2 + (y1p / ry) ** 2
    if lam > 1:
        s = math.sqrt(lam)
        rx, ry = rx * s, ry * s
    num = rx * rx * ry * ry - rx * rx * y1p * y1p - ry * ry * x1p * x1p
    den = rx * rx * y1p * y1p + ry * ry * x1p * x1p
    coef = math.sqrt(max(0.0, num / den)) if den else 0.0
    if large == sweep:
        coef = -coef
    cxp, cyp = coef * rx * y1p / ry, -coef * ry * x1p / rx
    cx = cp * cxp - sp * cyp + (x1 + x) / 2
    cy = sp * cxp + cp * cyp + (y1 + y) / 2
    theta1 = math.atan2((y1p - cyp) / ry, (x1p - cxp) / rx)
    theta2 = math.atan2((-y1p - cyp) / ry, (-x1p - cxp) / rx)
    delta = theta2 - theta1
    if sweep and delta < 0:
        delta += 2 * math.pi
    elif not sweep and delta > 0:
        delta -= 2 * math.pi
    ellipse_to(b, cx, cy, rx, ry, phi, theta1, delta, (x, y))


def ellipse_to(
    b: _Builder,
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    phi: float,
    theta: float,
    delta: float,
    end: tuple[float, float] | None = None,
) -> None:
    """Append the arc of the ellipse from angle ``theta`` over ``delta`` (radians) as
    cubics; ``end`` pins the last point exactly."""
    pieces = max(1, math.ceil(abs(delta) / MAX_ARC_STEP - 1e-9))
    step = delta / pieces
    alpha = 4 / 3 * math.tan(step / 4)
    cp, sp = math.cos(phi), math.sin(phi)

    def point(t: float) -> tuple[float, float, float, float]:
        ct, st = math.cos(t), math.sin(t)
        px = cx + rx * ct * cp - ry * st * sp
        py = cy + rx * ct * sp + ry * st * cp
        tx = -rx * st * cp - ry * ct * sp
        ty = -rx * st * sp + ry * ct * cp
        return px, py, tx, ty

    t = theta
    p0x, p0y, t0x, t0y = point(t)
    for k in range(pieces):
        t += step
        p1x, p1y, t1x, t1y = point(t)
        if end is not None and k == pieces - 1:
            p1x, p1y = end
        b.cubic(
            p0x + alpha * t0x,
            p0y + alpha * t0y,
            p1x - alpha * t1x,
            p1y - alpha * t1y,
            p1x,
            p1y,
        )
        p0x, p0y, t0x, t0y = p1x, p1y, t1x, t1y


def rect(x: float, y: float, w: float, h: float, rx: float, ry: float) -> list[Subpath]:
    b = _Builder()
    rx, ry = min(rx, w / 2), min(ry, h / 2)
    if rx <= 0 or ry <= 0:
        b.move(x, y)
        b.line(x + w, y)
        b.line(x + w, y + h)
        b.line(x, y + h)
        b.close()
        return b.done
    half = math.pi / 2
    b.move(x + rx, y)
    b.line(x + w - rx, y)
    ellipse_to(b, x + w - rx, y + ry, rx, ry, 0, -half, half)
    b.line(x + w, y + h - ry)
    ellipse_to(b, x + w - rx, y + h - ry, rx, ry, 0, 0, half)
    b.line(x + rx, y + h)
    ellipse_to(b, x + rx, y + h - ry, rx, ry, 0, half, half)
    b.line(x, y + ry)
    ellipse_to(b, x + rx, y + ry, rx, ry, 0, math.pi, half, (x + rx, y))
    b.close()
    return b.done


def ellipse(cx: float, cy: float, rx: float, ry: float) -> list[Subpath]:
    b = _Builder()
    b.move(cx + rx, cy)
    ellipse_to(b, cx, cy, rx, ry, 0, 0, 2 * math.pi, (cx + rx, cy))
    b.close()
    return b.done


def polyline(points: list[float], closed: bool) -> list[Subpath]:
    b = _Builder()
    if len(points) < 4:
        return []
    b.move(points[0], points[1])
    for k in range(2, len(points) - 1, 2):
        b.line(points[k], points[k + 1])
    if closed:
        b.close()
    b.finish(False)
    return b.done


def parse_points(text: str) -> tuple[list[float], str | None]:
    """A ``points`` attribute; an odd count drops the last number (as the spec says)."""
    values: list[float] = []
    for tok in _TOKEN.findall(text):
        try:
            values.append(float(tok))
        except ValueError:
            return values[: len(values) // 2 * 2], f"{tok!r} in points is not a number"
    if len(values) % 2:
        return values[:-1], "points holds an odd number of coordinates"
    return values, None
