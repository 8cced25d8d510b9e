"""What each G-code command the interpreter understands does to it: one table.

Commands not here are either in :data:`jobs.gcode.reader.IGNORED_COMMANDS` (understood,
and changing nothing the estimate depends on) or counted as unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.gcode.parse import Interpreter

_Handler = Callable[["Interpreter", dict[str, float], bytes], None]


def _set_scale(scale: float) -> _Handler:
    def handler(it: Interpreter, w: dict[str, float], code: bytes) -> None:
        it.scale = scale

    return handler


HANDLERS: dict[str, _Handler] = {
    "G0": lambda it, w, code: it._g1(w.get("X"), w.get("Y"), w.get("Z"), w.get("E"), w.get("F")),
    "G2": lambda it, w, code: it._arc(w, clockwise=True),
    "G3": lambda it, w, code: it._arc(w, clockwise=False),
    "G4": lambda it, w, code: it._dwell(w),
    "G28": lambda it, w, code: it._home(w, code),
    "G29": lambda it, w, code: it._bed_levelling(),
    "G80": lambda it, w, code: it._bed_levelling(),
    "G90": lambda it, w, code: it._set_modes(relative=False),
    "G91": lambda it, w, code: it._set_modes(relative=True),
    "M82": lambda it, w, code: it._set_modes(e_relative=False),
    "M83": lambda it, w, code: it._set_modes(e_relative=True),
    "G20": _set_scale(25.4),
    "G21": _set_scale(1.0),
    "G92": lambda it, w, code: it._set_position(w),
    "G10": lambda it, w, code: it._fw_retract(True, w),
    "G11": lambda it, w, code: it._fw_retract(False, w),
    "M104": lambda it, w, code: it._nozzle(w, wait=False),
    "M109": lambda it, w, code: it._nozzle(w, wait=True),
    "M140": lambda it, w, code: it._bed(w, wait=False),
    "M190": lambda it, w, code: it._bed(w, wait=True),
    "M201": lambda it, w, code: it._limits("M201", code),
    "M203": lambda it, w, code: it._limits("M203", code),
    "M204": lambda it, w, code: it._limits("M204", code),
    "M205": lambda it, w, code: it._limits("M205", code),
    "M566": lambda it, w, code: it._limits("M566", code),
    "M220": lambda it, w, code: it._feed_percent(w),
    "M221": lambda it, w, code: it._flow_percent(w),
    "M400": lambda it, w, code: it._sync(),
}
"""What each understood command does (the rest is in IGNORED_COMMANDS, or unknown)."""
HANDLERS["G1"] = HANDLERS["G0"]
OPERATOR_STOPS = frozenset({"M0", "M1", "M25", "M226", "M600", "M601", "M125"})
