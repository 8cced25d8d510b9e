"""Where a G-code file has taken the printer: position, modes, temperatures, fan.

The Marlin driver follows the file line by line so that, at any acknowledged line, it can
say what a resumed print must restore (the checkpoint), and so that pause/resume/recover
scripts can be filled with the real position. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

_WORD = re.compile(rb"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")

LONG_RUNNING = frozenset(
    {b"G4", b"G28", b"G29", b"G30", b"G32", b"G33", b"G34", b"G35", b"G76", b"M0", b"M1"}
    | {b"M109", b"M190", b"M191", b"M303", b"M400", b"M600", b"M48", b"M226", b"M701", b"M702"}
)
"""Commands that may keep the firmware from answering for a long time (homing, probing,
heating, dwell, filament change): OctoPrint's ``longRunningCommands`` plus waits."""


@dataclass(frozen=True, slots=True)
class PrintState:
    """The printer's state as the file left it. Temperatures are targets (°C)."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    e: float = 0.0
    f: float | None = None
    """Feedrate, mm/min."""
    absolute: bool = True
    absolute_e: bool = True
    inches: bool = False
    hotend: float = 0.0
    bed: float = 0.0
    fan: int = 0
    remaining_min: float | None = None
    """From the slicer's ``M73 R`` progress lines."""

    def to_checkpoint(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("remaining_min")
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in data.items()}

    @classmethod
    def from_checkpoint(cls, data: dict[str, Any]) -> PrintState:
        """Raises ValueError (with the field) when the checkpoint is not one of ours."""
        values: dict[str, Any] = {}
        for name, default in asdict(cls()).items():
            if name not in data or name == "remaining_min":
                continue
            raw = data[name]
            if isinstance(default, bool):
                if not isinstance(raw, bool):
                    raise ValueError(f"checkpoint field {name!r} is not true/false")
                values[name] = raw
            elif name == "fan":
                values[name] = int(raw)
            elif raw is None and name == "f":
                values[name] = None
            else:
                try:
                    values[name] = float(raw)
                except (TypeError, ValueError):
                    raise ValueError(f"checkpoint field {name!r} is not a number") from None
        return cls(**values)


def command_of(code: bytes) -> bytes:
    """``G1`` from ``G1 X10``; ``M104`` from ``M104 S200``; ``T0`` from ``T0``."""
    head = code.split(b" ", 1)[0].upper()
    m = re.match(rb"[GMT]\d+", head)
    return m.group(0) if m else head


def words(code: bytes) -> dict[str, float]:
    return {k.decode(): float(v) for k, v in _WORD.findall(code.upper())}


def is_long_running(code: bytes) -> bool:
    return command_of(code) in LONG_RUNNING


class StateTracker:
    """Apply file lines in order; ``state`` is the printer's state after the last one."""

    def __init__(self, state: PrintState | None = None) -> None:
        self.state = state or PrintState()

    def apply(self, code: bytes) -> float:
        """Follow one cleaned command; return the seconds its motion should take (0 if none)."""
        cmd = command_of(code)
        if cmd in (b"G0", b"G1", b"G2", b"G3"):
            return self._move(cmd, code)
        if cmd == b"G4":
            w = words(code)
            return w.get("S", 0.0) + w.get("P", 0.0) / 1000.0
        modes = _MODES.get(cmd)
        if modes is not None:
            self.state = replace(self.state, **modes)
            return 0.0
        change = _CHANGES.get(cmd)
        if change is not None:
            self.state = change(self.state, code)
        return 0.0

    def _move(self, cmd: bytes, code: bytes) -> float:
        s = self.state
        w = words(code)
        scale = 25.4 if s.inches else 1.0
        f = w["F"] * scale if "F" in w else s.f

        def target(axis: str, current: float, absolute: bool) -> float:
            if axis not in w:
                return current
            v = w[axis] * scale
            return v if absolute else current + v

        x = target("X", s.x, s.absolute)
        y = target("Y", s.y, s.absolute)
        z = target("Z", s.z, s.absolute)
        e = target("E", s.e, s.absolute_e)
        dist = math.dist((s.x, s.y, s.z), (x, y, z))
        if cmd in (b"G2", b"G3") and ("I" in w or "J" in w):
            dist = _arc_length(s.x, s.y, x, y, w.get("I", 0.0), w.get("J", 0.0), cmd == b"G2")
        if dist == 0.0:
            dist = abs(e - s.e)
        self.state = replace(s, x=x, y=y, z=z, e=e, f=f)
        return dist / (f / 60.0) if f and f > 0 else 0.0


_MODES: dict[bytes, dict[str, bool]] = {
    b"G90": {"absolute": True, "absolute_e": True},
    b"G91": {"absolute": False, "absolute_e": False},
    b"M82": {"absolute_e": True},
    b"M83": {"absolute_e": False},
    b"G20": {"inches": True},
    b"G21": {"inches": False},
}


def _set_position(s: PrintState, code: bytes) -> PrintState:
    w = words(code)
    if not w:
        return replace(s, x=0.0, y=0.0, z=0.0, e=0.0)
    return replace(s, x=w.get("X", s.x), y=w.get("Y", s.y), z=w.get("Z", s.z), e=w.get("E", s.e))


def _home(s: PrintState, code: bytes) -> PrintState:
    named = code.upper()[3:]
    homed = [a for a in "XYZ" if a.encode() in named] or ["X", "Y", "Z"]
    return replace(
        s,
        x=0.0 if "X" in homed else s.x,
        y=0.0 if "Y" in homed else s.y,
        z=0.0 if "Z" in homed else s.z,
    )


def _hotend(s: PrintState, code: bytes) -> PrintState:
    w = words(code)
    temp = w.get("S", w.get("R"))
    if temp is not None and w.get("T", 0.0) == 0.0:
        return replace(s, hotend=temp)
    return s


def _bed(s: PrintState, code: bytes) -> PrintState:
    temp = (w := words(code)).get("S", w.get("R"))
    return replace(s, bed=temp) if temp is not None else s


def _remaining(s: PrintState, code: bytes) -> PrintState:
    w = words(code)
    return replace(s, remaining_min=w["R"]) if "R" in w else s


_CHANGES: dict[bytes, Callable[[PrintState, bytes], PrintState]] = {
    b"G92": _set_position,
    b"G28": _home,
    b"M104": _hotend,
    b"M109": _hotend,
    b"M140": _bed,
    b"M190": _bed,
    b"M106": lambda s, code: replace(s, fan=int(max(0, min(255, words(code).get("S", 255))))),
    b"M107": lambda s, code: replace(s, fan=0),
    b"M73": _remaining,
}
"""Commands that change what a resume must restore, and how."""


def _arc_length(x0: float, y0: float, x1: float, y1: float, i: float, j: float, cw: bool) -> float:
    cx, cy = x0 + i, y0 + j
    r = math.hypot(i, j)
    a0 = math.atan2(y0 - cy, x0 - cx)
    a1 = math.atan2(y1 - cy, x1 - cx)
    sweep = (a0 - a1) if cw else (a1 - a0)
    if sweep <= 0:
        sweep += 2 * math.pi
    return r * sweep


# --- scripts ---------------------------------------------------------------------------

SCRIPT_FIELDS = frozenset({"x", "y", "z", "e", "f", "hotend", "bed", "fan"})
"""Placeholders a pause/resume/recover/cancel script may use, e.g. ``G1 Z{z:.2f}``."""


def script_problems(script: str) -> list[str]:
    """What is wrong with a script template (unknown placeholders, bad format specs)."""
    problems = []
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(script) if f is not None]
    except ValueError as exc:
        return [f"cannot read the template: {exc}"]
    for name in fields:
        if name not in SCRIPT_FIELDS:
            known = ", ".join("{" + f + "}" for f in sorted(SCRIPT_FIELDS))
            problems.append(f"unknown placeholder {{{name}}}; known: {known}")
    if not problems:
        try:
            render_script(script, PrintState(f=1200.0))
        except (ValueError, KeyError, IndexError) as exc:
            problems.append(f"cannot fill the template: {exc}")
    return problems


def render_script(script: str, state: PrintState) -> list[bytes]:
    """The script's commands for this state, cleaned (comments and blank lines dropped)."""
    values = {
        "x": state.x,
        "y": state.y,
        "z": state.z,
        "e": state.e,
        "f": state.f if state.f is not None else 1200.0,
        "hotend": state.hotend,
        "bed": state.bed,
        "fan": state.fan,
    }
    out = []
    for raw in script.format_map(values).splitlines():
        code = raw.split(";", 1)[0].strip()
        if code:
            out.append(code.encode())
    return out


def restore_modes(state: PrintState) -> list[bytes]:
    """Put back what the file had set, after a script that may have changed it."""
    out = [b"G90" if state.absolute else b"G91", b"M82" if state.absolute_e else b"M83"]
    out.append(b"G20" if state.inches else b"G21")
    if state.absolute_e:
        out.append(b"G92 E%.5f" % state.e)
    out.append(b"M106 S%d" % state.fan if state.fan else b"M107")
    if state.f is not None:
        out.append(b"G1 F%.0f" % state.f)
    return out
