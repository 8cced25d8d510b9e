"""HP-GL for cutters: the writer (profile-driven dialect) and a reader.

The writer takes blade-down strokes in device steps and the machine's dialect. The
reader reads HP-GL as cutters and plotters take it (``PU``/``PD``/``PA``/``PR``,
settings, ``ESC.`` device-control sequences skipped) back into strokes: it checks what
we write, and it analyses HP-GL files people bring.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from jobs.params.cutter import HpglDialect

Steps = NDArray[np.int64]

MAX_HPGL_BYTES = 64 * 1024 * 1024
MAX_HPGL_POINTS = 5_000_000


class HpglError(ValueError):
    pass


# --- writing ----------------------------------------------------------------------------


def velocity_value(dialect: HpglDialect, speed_mm_s: float) -> int:
    value = speed_mm_s / 10 if dialect.vs_unit == "cm_s" else speed_mm_s
    return max(1, round(value))


def write(strokes: list[Steps], dialect: HpglDialect, speed_mm_s: float) -> bytes:
    """The job: init, settings, every stroke (blade up to its start, down along it),
    end move, end sequence. Coordinates must be ≥ 0 (checked)."""
    term = ";\n" if dialect.newline else ";"
    out: list[str] = []
    if dialect.init:
        out.append(dialect.init + ("\n" if dialect.newline else ""))
    out.extend(c + term for c in _settings(dialect, speed_mm_s))
    max_x = 0
    for stroke in strokes:
        kept = _distinct(stroke)
        if len(kept) < 2:
            continue
        if int(kept.min()) < 0:
            raise HpglError("a coordinate is negative: the layout must keep the job at ≥ 0")
        max_x = max(max_x, int(kept[:, 0].max()))
        out.extend(c + term for c in _stroke(kept, dialect))
    if dialect.coordinates == "relative":
        out.append("PA" + term)
    out.extend(c + term for c in _end_moves(dialect, max_x))
    if dialect.end:
        out.append(dialect.end + ("\n" if dialect.newline else ""))
    return "".join(out).encode("ascii")


def _settings(dialect: HpglDialect, speed_mm_s: float) -> list[str]:
    out = []
    if dialect.pen is not None:
        out.append(f"SP{dialect.pen}")
    if dialect.takes_vs:
        out.append(f"VS{velocity_value(dialect, speed_mm_s)}")
    if dialect.takes_fs and dialect.force_g is not None:
        out.append(f"FS{dialect.force_g}")
    return out


def _distinct(stroke: Steps) -> Steps:
    """Rounding to steps makes neighbours coincide: a repeated point is a wasted command."""
    if len(stroke) < 2:
        return stroke
    moved = np.any(stroke[1:] != stroke[:-1], axis=1)
    kept: Steps = stroke[np.concatenate([[True], moved])]
    return kept


def _stroke(stroke: Steps, dialect: HpglDialect) -> list[str]:
    """Blade up to the stroke's start, then down along it, in the dialect's words."""
    relative = dialect.coordinates == "relative"
    separate = dialect.pen_moves == "separate"
    x0, y0 = int(stroke[0, 0]), int(stroke[0, 1])
    out = ["PA"] if relative else []
    out += ["PU", f"PA{x0},{y0}", "PD"] if separate else [f"PU{x0},{y0}"]
    if relative:
        out.append("PR")
    pts = np.diff(stroke, axis=0) if relative else stroke[1:]
    word = ("PR" if relative else "PA") if separate else "PD"
    flat = pts.tolist()
    n = dialect.pairs_per_command
    for k in range(0, len(flat), n):
        out.append(word + ",".join(f"{x},{y}" for x, y in flat[k : k + n]))
    return out


def _end_moves(dialect: HpglDialect, max_x: int) -> list[str]:
    """The head's last move, blade up. A bare ``PU`` is left out when the end sequence
    lifts the blade itself (``PU;PU;SP0;`` is what the writer sent before)."""
    separate = dialect.pen_moves == "separate"
    if dialect.end_move == "stay":
        return [] if dialect.end.lstrip().upper().startswith("PU") else ["PU"]
    x = 0
    if dialect.end_move == "past_job":
        x = max_x + round(10 * dialect.steps_per_mm * dialect.calibration_x)
    return ["PU", f"PA{x},0"] if separate else [f"PU{x},0"]


# --- the device frame ----------------------------------------------------------------


@dataclass(frozen=True)
class DeviceFrame:
    """Layout millimetres (u along the roll, v across) <-> device steps."""

    dialect: HpglDialect
    extent_u: float
    extent_v: float

    def _axes(self, u: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        d = self.dialect
        x, y = u, (self.extent_v - v) if d.y_axis_up else v
        ex, ey = self.extent_u, self.extent_v
        if d.swap_xy:
            x, y, ex, ey = y, x, ey, ex
        if d.mirror_x:
            x = ex - x
        if d.mirror_y:
            y = ey - y
        return np.stack([x + d.origin_x_mm, y + d.origin_y_mm], axis=-1)

    def to_steps(self, points: NDArray[np.float64]) -> Steps:
        d = self.dialect
        mm = self._axes(points[:, 0], points[:, 1])
        sx = d.steps_per_mm * d.calibration_x
        sy = d.steps_per_mm * d.calibration_y
        # Never clamped: the plan keeps every holder position at ≥ 0 (a point exactly on
        # the edge rounds to 0), and the writer refuses anything that is not.
        steps: Steps = np.rint(mm * np.array([sx, sy])).astype(np.int64)
        return steps

    def to_layout(self, steps: NDArray[np.float64]) -> NDArray[np.float64]:
        """The inverse of :meth:`to_steps` (for checks and previews of HP-GL)."""
        d = self.dialect
        sx = d.steps_per_mm * d.calibration_x
        sy = d.steps_per_mm * d.calibration_y
        x = steps[:, 0] / sx - d.origin_x_mm
        y = steps[:, 1] / sy - d.origin_y_mm
        ex, ey = (self.extent_v, self.extent_u) if d.swap_xy else (self.extent_u, self.extent_v)
        if d.mirror_x:
            x = ex - x
        if d.mirror_y:
            y = ey - y
        if d.swap_xy:
            x, y = y, x
        v = (self.extent_v - y) if d.y_axis_up else y
        return np.stack([x, v], axis=-1)


# --- reading -------------------------------------------------------------------------

_TOKEN = re.compile(
    rb"(\x1b\.(?:[@HIMNPST][^:\x1b]{0,40}:|[A-Za-z()]:?))"  # device control (ESC .)
    rb"|(LB[^\x03]*\x03?)"  # label text, up to ETX
    rb"|([A-Za-z]{2})([-+0-9., \t]*)"  # mnemonic and parameters
    rb"|([;\s\x00]+)"  # terminators, padding
    rb"|(.)",
    re.S,
)
_DRAWING_UNSUPPORTED = frozenset({b"CI", b"AA", b"AR", b"RA", b"RR", b"EA", b"ER", b"EW", b"WG"})


@dataclass
class HpglDocument:
    strokes: list[NDArray[np.float64]] = field(default_factory=list)
    """Blade-down polylines, in plotter units."""
    ups: list[NDArray[np.float64]] = field(default_factory=list)
    """Blade-up moves (from, to), in plotter units."""
    commands: Counter[str] = field(default_factory=Counter)
    settings: dict[str, list[float]] = field(default_factory=dict)
    preamble_end: int = 0
    """Byte offset of the first motion command (what precedes it sets the machine up)."""
    unsupported: Counter[str] = field(default_factory=Counter)
    garbage: int = 0


def read(data: bytes) -> HpglDocument:
    if len(data) > MAX_HPGL_BYTES:
        raise HpglError(f"the file is over {MAX_HPGL_BYTES // 2**20} MB")
    reader = _Reader()
    for m in _TOKEN.finditer(data):
        if m.group(1) or m.group(5):
            continue
        if m.group(2):
            reader.doc.unsupported["LB"] += 1
        elif m.group(6):
            reader.doc.garbage += 1
        else:
            reader.command(m.group(3).upper(), m.group(4), m.start())
    reader.flush()
    return reader.doc


class _Reader:
    """The plotter's state while reading: pen, absolute or relative, position."""

    def __init__(self) -> None:
        self.doc = HpglDocument()
        self.absolute = True
        self.down = False
        self.x = self.y = 0.0
        self.stroke: list[tuple[float, float]] = []
        self.points = 0
        self.motion_seen = False

    def flush(self) -> None:
        if len(self.stroke) >= 2:
            self.doc.strokes.append(np.array(self.stroke))
        self.stroke = []

    def command(self, name: bytes, params: bytes, at: int) -> None:
        key = name.decode()
        self.doc.commands[key] += 1
        values = _numbers(params)
        if name in (b"PU", b"PD", b"PA", b"PR"):
            self.motion(name, values, at)
        elif name in (b"IN", b"DF"):
            self.flush()
            self.down = False
            self.absolute = True
            if name == b"IN":
                self.x = self.y = 0.0
        elif name in _DRAWING_UNSUPPORTED:
            self.doc.unsupported[key] += 1
        else:
            self.doc.settings[key] = values

    def motion(self, name: bytes, values: list[float], at: int) -> None:
        if not self.motion_seen:
            self.motion_seen = True
            self.doc.preamble_end = at
        if name in (b"PA", b"PR"):
            self.absolute = name == b"PA"
        elif name == b"PU":
            self.down = False
            self.flush()
        else:
            if not self.down:
                self.stroke = [(self.x, self.y)]
            self.down = True
        if len(values) % 2:
            raise HpglError(f"{name.decode()} has an odd number of coordinates at byte {at}")
        self.points += len(values) // 2
        if self.points > MAX_HPGL_POINTS:
            raise HpglError(f"more than {MAX_HPGL_POINTS:,} coordinates")
        for k in range(0, len(values), 2):
            self.move_to(values[k], values[k + 1])

    def move_to(self, u: float, v: float) -> None:
        nx, ny = (u, v) if self.absolute else (self.x + u, self.y + v)
        if self.down:
            self.stroke.append((nx, ny))
        else:
            self.doc.ups.append(np.array([(self.x, self.y), (nx, ny)]))
        self.x, self.y = nx, ny


def _numbers(params: bytes) -> list[float]:
    text = params.strip()
    if not text:
        return []
    try:
        return [float(v) for v in re.split(rb"[,\s]+", text) if v]
    except ValueError:
        raise HpglError(f"cannot read the parameters {text[:40]!r}") from None
