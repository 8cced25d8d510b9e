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

    def cmd(text: str) -> None:
        out.append(text + term)

    if dialect.init:
        out.append(dialect.init + ("\n" if dialect.newline else ""))
    if dialect.pen is not None:
        cmd(f"SP{dialect.pen}")
    if dialect.takes_vs:
        cmd(f"VS{velocity_value(dialect, speed_mm_s)}")
    if dialect.takes_fs and dialect.force_g is not None:
        cmd(f"FS{dialect.force_g}")
    relative = dialect.coordinates == "relative"
    separate = dialect.pen_moves == "separate"
    n = dialect.pairs_per_command
    max_x = 0
    for stroke in strokes:
        if len(stroke) < 2:
            continue
        # Rounding to steps makes neighbours coincide: a repeated point is a wasted command.
        moved = np.any(stroke[1:] != stroke[:-1], axis=1)
        stroke = stroke[np.concatenate([[True], moved])]
        if len(stroke) < 2:
            continue
        if int(stroke.min()) < 0:
            raise HpglError("a coordinate is negative: the layout must keep the job at ≥ 0")
        max_x = max(max_x, int(stroke[:, 0].max()))
        x0, y0 = int(stroke[0, 0]), int(stroke[0, 1])
        if relative:
            cmd("PA")
        if separate:
            cmd("PU")
            cmd(f"PA{x0},{y0}")
            cmd("PD")
        else:
            cmd(f"PU{x0},{y0}")
        if relative:
            cmd("PR")
            pts = np.diff(stroke, axis=0)
        else:
            pts = stroke[1:]
        word = ("PR" if relative else "PA") if separate else "PD"
        flat = pts.tolist()
        if n == 1:
            out.append(term.join([f"{word}{x},{y}" for x, y in flat]) + term)
            continue
        for k in range(0, len(flat), n):
            pairs = ",".join(f"{x},{y}" for x, y in flat[k : k + n])
            cmd(word + pairs)
    if relative:
        cmd("PA")
    for text in _end_moves(dialect, max_x):
        cmd(text)
    if dialect.end:
        out.append(dialect.end + ("\n" if dialect.newline else ""))
    return "".join(out).encode("ascii")


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
    doc = HpglDocument()
    absolute = True
    down = False
    x = y = 0.0
    stroke: list[tuple[float, float]] = []
    points = 0
    motion_seen = False

    def flush() -> None:
        nonlocal stroke
        if len(stroke) >= 2:
            doc.strokes.append(np.array(stroke))
        stroke = []

    for m in _TOKEN.finditer(data):
        if m.group(1) or m.group(5):
            continue
        if m.group(2):
            doc.unsupported["LB"] += 1
            continue
        if m.group(6):
            doc.garbage += 1
            continue
        name = m.group(3).upper()
        key = name.decode()
        doc.commands[key] += 1
        params = m.group(4)
        values = _numbers(params)
        if name in (b"PU", b"PD", b"PA", b"PR"):
            if not motion_seen:
                motion_seen = True
                doc.preamble_end = m.start()
            if name == b"PA":
                absolute = True
            elif name == b"PR":
                absolute = False
            elif name == b"PU":
                down = False
                flush()
            else:
                if not down:
                    stroke = [(x, y)]
                down = True
            if len(values) % 2:
                raise HpglError(f"{key} has an odd number of coordinates at byte {m.start()}")
            points += len(values) // 2
            if points > MAX_HPGL_POINTS:
                raise HpglError(f"more than {MAX_HPGL_POINTS:,} coordinates")
            for k in range(0, len(values), 2):
                nx, ny = (
                    (values[k], values[k + 1]) if absolute else (x + values[k], y + values[k + 1])
                )
                if down:
                    stroke.append((nx, ny))
                else:
                    doc.ups.append(np.array([(x, y), (nx, ny)]))
                x, y = nx, ny
        elif name in (b"IN", b"DF"):
            flush()
            down = False
            absolute = True
            if name == b"IN":
                x = y = 0.0
        elif name in _DRAWING_UNSUPPORTED:
            doc.unsupported[key] += 1
        else:
            doc.settings[key] = values
    flush()
    return doc


def _numbers(params: bytes) -> list[float]:
    text = params.strip()
    if not text:
        return []
    try:
        return [float(v) for v in re.split(rb"[,\s]+", text) if v]
    except ValueError:
        raise HpglError(f"cannot read the parameters {text[:40]!r}") from None
