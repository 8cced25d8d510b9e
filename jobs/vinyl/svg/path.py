"""SVG path data and basic shapes as cubic Bézier control points, in user units.

Path data is read by svgpathtools, one moveto at a time (it keeps no subpath
boundaries). Every segment then becomes a cubic (lines as degenerate cubics, quadratics
raised exactly, elliptical arcs approximated by cubics of at most 45° each, error
< 5e-6 × radius) *before* any transform: an affine transform of a cubic's control
points is exact, while transforming arcs is where svgpathtools goes wrong under mirror
or skew (upstream #126).

Measured cost: the 1,219 paths (1.4 MB) of the stencil corpus file take 0.53–1.19 s
(best–median of 15 runs interleaved, 2 cores at load 11) this way, against 0.29–0.66 s
with the strict reader below; svgpathtools' own parse is 0.20–0.42 s of it.

Malformed data is handled as the SVG spec says: the path is drawn up to the error, and
the error is reported so the user hears about it. svgpathtools does not do that (it
skips what it cannot read: ``L 30 x 40`` becomes ``L 30 40``, a cut the file never
asked for), so data it refuses, or holding anything outside the path grammar, goes
through the strict reader here, which stops at the error and says what it was.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

_TOKEN = re.compile(r"[A-Za-z]|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[^\s,]")
_ARGS = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "t": 2, "a": 7, "z": 0}
MAX_ARC_STEP = math.pi / 4
_OUTSIDE_GRAMMAR = re.compile(r"[^MmZzLlHhVvCcSsQqTtAa0-9.eE+\-,\s]")
_LOOSE_EXPONENT = re.compile(r"(?<![0-9.])[eE]|[eE](?![+-]?[0-9])")
_MOVETO = re.compile(r"(?=[Mm])")
_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ARC_ARGS = re.compile(r"[Aa]([^A-DF-Za-df-z]*)")
_ARC_GROUPS = re.compile(
    rf"(?:[\s,]*{_NUM}[\s,]*{_NUM}[\s,]*{_NUM}[\s,]*[01][\s,]*[01][\s,]*{_NUM}[\s,]*{_NUM})+[\s,]*"
)
"""Arc arguments, flags included: svgpathtools takes any number as a flag (``-1`` or
``7`` become True) where the spec says the data is in error there."""
_REOPENED = re.compile(r"[Zz][\s,]*[LlHhVvCcSsQqTtAa0-9.+-]")
"""Drawing right after a closepath, without a moveto: a new subpath from the start."""
_SUBPATH_START = re.compile(r"[Mm]|[Zz](?=[\s,]*[LlHhVvCcSsQqTtAa])")
"""Where a subpath begins: every moveto, and a drawing command right after a closepath."""


@dataclass
class Subpath:
    ctrl: NDArray[np.float64]
    """(segments, 4, 2) cubic control points."""
    closed: bool


class PathDataError(ValueError):
    pass


class OverBudget(ValueError):
    """The document holds more than a cutting file can: refused, not cut in part."""


class Budget:
    """Contours and segments the whole document may still hold. Counted as each path's
    data is read, so a file over the limit is refused before any geometry is built."""

    def __init__(self, subpaths: int, segments: int) -> None:
        self.subpaths_left = subpaths
        self.segments_left = segments
        self.limits = (subpaths, segments)

    def take_subpaths(self, count: int) -> None:
        self.subpaths_left -= count
        if self.subpaths_left < 0:
            raise OverBudget(
                f"the drawing holds more than {self.limits[0]:,} contours (every subpath of "
                "a path counts); that is not a cutting file: simplify it before cutting"
            )

    def take_segments(self, count: int) -> None:
        self.segments_left -= count
        if self.segments_left < 0:
            raise OverBudget(
                f"the drawing has more than {self.limits[1]:,} path segments; simplify it "
                "(Inkscape: Path ▸ Simplify) before cutting"
            )


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

    def quadratic(self, qx: float, qy: float, x: float, y: float) -> None:
        """Raised to a cubic exactly: control points two thirds of the way to ``q``."""
        x0, y0 = self.cur
        k = 2 / 3
        self.cubic(x0 + k * (qx - x0), y0 + k * (qy - y0), x + k * (qx - x), y + k * (qy - y), x, y)

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


def parse_path(d: str, budget: Budget) -> tuple[list[Subpath], str | None]:
    """The subpaths of ``d`` and the first error met (None when the data is clean)."""
    budget.take_subpaths(_count_subpaths(d))
    subpaths = _read_with_svgpathtools(d)
    if subpaths is not None:
        budget.take_segments(sum(len(sp.ctrl) for sp in subpaths))
        return subpaths, None
    reader = _StrictReader(d, budget)
    error = reader.run()
    return reader.b.done, error


def _count_subpaths(d: str) -> int:
    moves = d.count("M") + d.count("m")
    if "z" not in d and "Z" not in d:
        return moves
    return len(_SUBPATH_START.findall(d))


def _read_with_svgpathtools(d: str) -> list[Subpath] | None:
    """None when the strict reader must decide (anything svgpathtools would misread)."""
    if _OUTSIDE_GRAMMAR.search(d) or d.lstrip()[:1] not in ("M", "m"):
        return None
    if ("e" in d or "E" in d) and _LOOSE_EXPONENT.search(d):
        return None
    if ("a" in d or "A" in d) and not all(
        _ARC_GROUPS.fullmatch(m.group(1)) for m in _ARC_ARGS.finditer(d)
    ):
        return None
    try:
        pieces = _pieces(d)
        if pieces is None:
            return None
        with np.errstate(all="ignore"):  # 1e999 and its kind are caught just below
            subpaths = _cubics(*pieces)
    except (ValueError, ArithmeticError, IndexError):
        return None
    if not all(np.isfinite(sp.ctrl).all() for sp in subpaths):
        return None  # 1e999 and its kind: the strict reader stops the path there
    return subpaths


def _pieces(d: str) -> tuple[list[Any], list[int], list[bool]] | None:
    """svgpathtools keeps no subpath boundaries: each moveto is read on its own, from
    the current point (a relative ``m`` starts where the last subpath ended). Returns
    every segment, where each moveto's begin, and whether it draws on after a
    closepath; None for a lone moveto (it moves the current point unseen)."""
    # Imported here: svgpathtools brings scipy (~30 MB), and every process that imports
    # the analyzer registry (embroidery workers too) would pay for it.
    import svgpathtools

    segs: list[Any] = []
    firsts: list[int] = []
    reopened: list[bool] = []
    at = 0j
    for piece in _MOVETO.split(d):
        if not piece.strip():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it warns about zero-radius arcs it mends
            segments = svgpathtools.parse_path(piece, current_pos=at)
        if not len(segments):
            return None
        firsts.append(len(segs))
        reopened.append(_REOPENED.search(piece) is not None)
        segs.extend(segments)
        at = segments[-1].end
    return segs, firsts, reopened


def _cubics(segs: list[Any], firsts: list[int], reopened: list[bool]) -> list[Subpath]:
    """svgpathtools segments as cubics, converted with numpy all at once (one segment
    at a time, the conversion cost more than the parse). Arcs go through
    :func:`arc_to`, one segment at a time."""
    if not segs:
        return []
    table = _kinds()
    kinds = [table.get(type(seg), -1) for seg in segs]
    if -1 in kinds:
        return _cubics_one_by_one(segs, firsts, reopened)
    kind = np.array(kinds)
    z = np.empty((len(segs), 4), dtype=complex)
    z[:, 0] = [seg.start for seg in segs]
    z[:, 3] = [seg.end for seg in segs]
    curve = np.flatnonzero(kind == 1)
    z[curve, 1] = [segs[k].control1 for k in curve.tolist()]
    z[curve, 2] = [segs[k].control2 for k in curve.tolist()]
    p0, p3 = z[:, 0], z[:, 3]
    q = np.flatnonzero(kind == 2)
    control = np.array([segs[k].control for k in q.tolist()], dtype=complex)
    z[q, 1] = p0[q] + 2 / 3 * (control - p0[q])
    z[q, 2] = p3[q] + 2 / 3 * (control - p3[q])
    line = np.flatnonzero(kind == 0)
    z[line, 1] = p0[line] + (p3[line] - p0[line]) / 3
    z[line, 2] = p3[line] - (p3[line] - p0[line]) / 3
    return _split(z, firsts, reopened)


def _kinds() -> dict[type, int]:
    import svgpathtools

    return {svgpathtools.Line: 0, svgpathtools.CubicBezier: 1, svgpathtools.QuadraticBezier: 2}


def _split(z: NDArray[np.complex128], firsts: list[int], reopened: list[bool]) -> list[Subpath]:
    """Subpaths: one per moveto (``firsts``: where each begins), and where a moveto's
    data draws on after a closepath (``reopened``), a new one after each segment that
    comes back to the start (the closepath; the next subpath starts there too)."""
    starts, ends = z[:, 0], z[:, 3]
    begins = np.zeros(len(z), dtype=bool)
    begins[firsts] = True
    piece = np.cumsum(begins) - 1
    first = starts[begins][piece]
    closes = ends == first
    again = np.array(reopened)[piece]
    cut = np.flatnonzero(begins[1:] | (closes[:-1] & again[:-1])) + 1
    ctrl = np.stack([z.real, z.imag], axis=-1)
    bounds = [0, *cut.tolist(), len(z)]
    return [Subpath(ctrl[a:b].copy(), bool(closes[b - 1])) for a, b in itertools.pairwise(bounds)]


def _cubics_one_by_one(segs: list[Any], firsts: list[int], reopened: list[bool]) -> list[Subpath]:
    """The same, segment by segment, for paths with arcs."""
    b = _Builder()
    first = 0j
    begins = dict(zip(firsts, reopened, strict=True))
    again = False
    for k, seg in enumerate(segs):
        if k in begins or (again and segs[k - 1].end == first):
            b.finish(k > 0 and segs[k - 1].end == first)
            first = seg.start
            b.start = b.cur = (first.real, first.imag)
            again = begins.get(k, again)
        _segment(b, seg)
    b.finish(segs[-1].end == first)
    return b.done


def _segment(b: _Builder, seg: Any) -> None:
    import svgpathtools

    kind = type(seg)
    e = seg.end
    if kind is svgpathtools.Line:
        b.line(e.real, e.imag)
    elif kind is svgpathtools.CubicBezier:
        c1, c2 = seg.control1, seg.control2
        b.cubic(c1.real, c1.imag, c2.real, c2.imag, e.real, e.imag)
    elif kind is svgpathtools.QuadraticBezier:
        b.quadratic(seg.control.real, seg.control.imag, e.real, e.imag)
    elif kind is svgpathtools.Arc:
        r = seg.radius
        arc_to(b, abs(r.real), abs(r.imag), seg.rotation, bool(seg.large_arc),
               bool(seg.sweep), e.real, e.imag)  # fmt: skip
    else:
        raise ValueError(f"unknown segment {kind.__name__}")


class _StrictReader:
    """Path data read token by token, as the spec asks: stop at the first error."""

    def __init__(self, d: str, budget: Budget) -> None:
        self.tokens: list[str] = _TOKEN.findall(d)
        self.i = 0
        self.b = _Builder()
        self.budget = budget
        self.cmd = ""
        self.last_cmd = ""
        self.last_ctrl: tuple[float, float] | None = None

    def run(self) -> str | None:
        try:
            while self.i < len(self.tokens):
                self.step()
        except PathDataError as exc:
            self.b.finish(False)
            return str(exc)
        self.b.finish(False)
        return None

    def step(self) -> None:
        tok = self.tokens[self.i]
        if tok[0].isalpha():
            self.command(tok)
            if self.cmd in "zZ":
                return
        elif not self.cmd:
            raise PathDataError("path data must start with a moveto (M)")
        elif self.cmd in "zZ":
            raise PathDataError(f"numbers after {self.cmd!r}")
        self.budget.take_segments(1)
        rel = self.cmd.islower()
        origin = self.b.cur if rel else (0.0, 0.0)
        ctrl = _DRAW[self.cmd.lower()](self, origin)
        if self.cmd in "mM":
            self.cmd = "l" if rel else "L"  # further pairs are implicit lineto
        self.last_cmd, self.last_ctrl = self.cmd, ctrl

    def command(self, tok: str) -> None:
        if tok.lower() not in _ARGS:
            raise PathDataError(f"unknown path command {tok!r}")
        if not self.cmd and tok not in "mM":
            raise PathDataError("path data must start with a moveto (M)")
        self.cmd = tok
        self.i += 1
        if tok in "zZ":
            self.b.close()
            self.last_cmd, self.last_ctrl = tok, None

    def number(self) -> float:
        if self.i >= len(self.tokens):
            raise PathDataError("the data ends in the middle of a command")
        tok = self.tokens[self.i]
        if tok[0].isalpha():
            raise PathDataError(f"command {self.cmd!r} is missing numbers before {tok!r}")
        try:
            value = float(tok)
        except ValueError:
            raise PathDataError(f"{tok!r} is not a number") from None
        if not math.isfinite(value):
            raise PathDataError(f"{tok!r} is not a finite number")
        self.i += 1
        return value

    def point(self, origin: tuple[float, float]) -> tuple[float, float]:
        return self.number() + origin[0], self.number() + origin[1]

    def flag(self) -> bool:
        if self.i >= len(self.tokens):
            raise PathDataError("the data ends in the middle of an arc")
        tok = self.tokens[self.i]
        if tok[0] not in "01":
            raise PathDataError(f"arc flag {tok!r} is neither 0 nor 1")
        # Flags need no separator ("a10 10 0 0110 10"): the rest of the token is next.
        if len(tok) > 1:
            self.tokens[self.i] = tok[1:]
        else:
            self.i += 1
        return tok[0] == "1"

    def reflected(self, kinds: str) -> tuple[float, float]:
        ctrl = self.last_ctrl if self.last_cmd.lower() in kinds else None
        return _reflect(self.b.cur, ctrl)


_Point = tuple[float, float]


def _move(r: _StrictReader, o: _Point) -> None:
    r.b.move(*r.point(o))


def _line(r: _StrictReader, o: _Point) -> None:
    r.b.line(*r.point(o))


def _horizontal(r: _StrictReader, o: _Point) -> None:
    r.b.line(r.number() + o[0], r.b.cur[1])


def _vertical(r: _StrictReader, o: _Point) -> None:
    r.b.line(r.b.cur[0], r.number() + o[1])


def _curve(r: _StrictReader, o: _Point) -> _Point:
    c1, c2, end = r.point(o), r.point(o), r.point(o)
    r.b.cubic(*c1, *c2, *end)
    return c2


def _smooth_curve(r: _StrictReader, o: _Point) -> _Point:
    c1 = r.reflected("cs")
    c2, end = r.point(o), r.point(o)
    r.b.cubic(*c1, *c2, *end)
    return c2


def _quadratic(r: _StrictReader, o: _Point) -> _Point:
    q = r.point(o)
    r.b.quadratic(*q, *r.point(o))
    return q


def _smooth_quadratic(r: _StrictReader, o: _Point) -> _Point:
    q = r.reflected("qt")
    r.b.quadratic(*q, *r.point(o))
    return q


def _arc(r: _StrictReader, o: _Point) -> None:
    rx, ry, phi = abs(r.number()), abs(r.number()), r.number()
    large, sweep = r.flag(), r.flag()
    arc_to(r.b, rx, ry, phi, large, sweep, *r.point(o))


_DRAW: dict[str, Any] = {
    "m": _move, "l": _line, "h": _horizontal, "v": _vertical, "c": _curve,
    "s": _smooth_curve, "q": _quadratic, "t": _smooth_quadratic, "a": _arc,
}  # fmt: skip


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
