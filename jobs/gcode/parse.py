"""Streaming G-code interpreter: modal state, coordinates, arcs, filament and bounds.

Lines come from :class:`jobs.gcode.reader.LineReader` (constant memory). Each command
updates the machine state the way Marlin does; moves go to the motion planner (when one
is given) and to an optional segment callback (the preview). Every table the interpreter
keeps is bounded, whatever the file holds.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import BinaryIO

from jobs.base import FileRejected
from jobs.gcode.bounds import Box
from jobs.gcode.commands import HANDLERS, OPERATOR_STOPS
from jobs.gcode.heat import Heaters
from jobs.gcode.meta import SlicerMeta
from jobs.gcode.motion import ArcBudgetExceeded, apply_limits, arc_budget, arc_segments
from jobs.gcode.planner import Planner
from jobs.gcode.reader import IGNORED_COMMANDS, LineReader, command_words, size_of
from jobs.params.printer import PrinterParams

MAX_WARNINGS = 30
MAX_UNKNOWN_NAMES = 50
MAX_TOOL = 255

SegmentFn = Callable[[float, float, float, float, float], None]
"""(x0, y0, x1, y1, z) of an extruding move, in machine coordinates."""


def _finite(v: float) -> bool:
    return v - v == 0.0  # False for NaN and ±inf, without a function call


class Interpreter:
    """Runs a G-code file through a model of the printer.

    With a ``planner`` it estimates time (motion, dwell, heat-up, homing); without one it
    only follows positions (for the preview, through ``segment``).
    """

    def __init__(
        self,
        params: PrinterParams,
        *,
        planner: Planner | None = None,
        segment: SegmentFn | None = None,
        arc_segments_budget: int | None = None,
    ) -> None:
        self.p = params
        self.arc_budget = arc_segments_budget
        """Arc segments the file may still make; None: from the file's size in ``run``."""
        self.planner = planner
        self.segment = segment
        self.meta = SlicerMeta()
        self.heaters = Heaters(
            ambient=params.ambient_c,
            nozzle_up=params.nozzle_heat_c_per_s,
            nozzle_down=params.nozzle_cool_c_per_s,
            bed_up=params.bed_heat_c_per_s,
            bed_down=params.bed_cool_c_per_s,
        )
        # Machine state.
        self.x = self.y = self.z = 0.0
        self.ox = self.oy = self.oz = 0.0
        """G92 offsets: machine = logical + offset."""
        self.e = 0.0
        """Logical E position (what absolute E values are measured against)."""
        self.relative = False
        self.e_relative = False
        """M83 (G91 makes E relative too, as Marlin does)."""
        self.scale = 1.0
        self.feed = 25.0
        """mm/s; Marlin's default feed rate before any F word."""
        self.feed_multiplier = 1.0
        self.flow = 1.0
        self.flows: set[float] = set()
        """Every M221 flow percentage the file sets."""
        self.tool = 0
        self.fw_retracted = False
        # Results.
        self.filament: dict[int, list[float]] = {0: [0.0, 0.0]}
        """tool -> [net pushed length, highest net length] (mm of filament)."""
        self.all_moves = Box()
        self.extrusions = Box()
        self.part = Box()
        self.dwell_s = 0.0
        self.overhead_s = 0.0
        """Homing and bed levelling beyond the modelled moves."""
        self.counts: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self._reader: LineReader | None = None
        self._layer_z = -math.inf
        self._extruding = False
        self._in_part = False

    # -- helpers ----------------------------------------------------------------------

    def warn(self, message: str, key: str | None = None) -> None:
        """A warning, once per ``key`` (default: the message), at most MAX_WARNINGS."""
        key = key or message
        if key in self._warned or len(self.warnings) >= MAX_WARNINGS:
            return
        self._warned.add(key)
        self.warnings.append(message)

    @property
    def line_no(self) -> int:
        """The number of the line being interpreted."""
        return self._reader.lines if self._reader is not None else 0

    def now(self) -> float:
        """The job's clock: motion, dwell, heat-up and homing so far (motion up to the
        last committed block: sync the planner first for the exact time)."""
        assert self.planner is not None
        return self.planner.time + self.dwell_s + self.heaters.waited_s + self.overhead_s

    def _sync(self) -> None:
        if self.planner is not None:
            self.planner.sync()

    # -- the main loop --------------------------------------------------------------

    def _open(self, handle: BinaryIO) -> LineReader:
        if self.arc_budget is None:
            self.arc_budget = arc_budget(size_of(handle))
        self._reader = LineReader(handle)
        return self._reader

    def run(self, handle: BinaryIO) -> None:
        reader = self._open(handle)
        commands = 0
        meta_comment = self.meta.comment
        g1 = self._g1
        offset = 0
        for raw in reader:
            line_offset = offset
            offset += len(raw) + 1
            semi = raw.find(b";")
            if semi >= 0:
                if semi + 1 < len(raw):
                    meta_comment(raw[semi + 1 :], line_offset)
                raw = raw[:semi]
            parts = raw.split()
            if not parts:
                continue
            cmd = parts[0]
            if (cmd == b"G1" or cmd == b"G0") and b"e" not in raw and b"_" not in raw:
                # The bulk of every file: X/Y/Z/E/F words with a number glued to each.
                # (Python's float() would read exponents and underscores, which G-code
                # has not: such lines take the slow path.)
                x = y = z = e = f = None
                try:
                    for word in parts[1:]:
                        letter = word[0]
                        if letter == 88:  # X
                            x = float(word[1:])
                        elif letter == 89:  # Y
                            y = float(word[1:])
                        elif letter == 69:  # E
                            e = float(word[1:])
                        elif letter == 70:  # F
                            f = float(word[1:])
                        elif letter == 90:  # Z
                            z = float(word[1:])
                        else:
                            raise ValueError(word)
                except ValueError:
                    self._slow(raw)
                    continue
                if raw.count(b"E") != (e is not None):
                    self._slow(raw)
                    continue
                commands += 1
                g1(x, y, z, e, f)
                continue
            self._slow(raw)
        self.counts["commands"] += commands
        self.counts["lines"] = reader.lines
        self.meta.finish()
        if not reader.ended_with_newline:
            self.warn(
                "the file does not end with a line end: it may be truncated "
                "(an interrupted upload or copy)"
            )

    # -- commands -------------------------------------------------------------------

    def _slow(self, raw: bytes) -> None:
        """Any line but the plainest moves: numbered, checksummed, lower case, odd spacing."""
        parsed = command_words(raw)
        if parsed is None:
            return
        cmd, words, code = parsed
        if not cmd:
            self.counts["unparsed"] += 1
            self._unknown(code.split()[0][:24].decode("ascii", "replace"))
            return
        params: dict[str, float] = {}
        self.counts["commands"] += 1
        for key, text in words:
            try:
                value = float(text)
            except ValueError:
                continue
            if not _finite(value):
                self._nonfinite(f"{key} ({text.decode()})")
                return
            params.setdefault(key, value)
        self._dispatch(cmd, params, code)

    def _dispatch(self, cmd: str, w: dict[str, float], code: bytes) -> None:
        handler = HANDLERS.get(cmd)
        if handler is not None:
            handler(self, w, code)
        elif cmd in OPERATOR_STOPS:
            self._operator_stop(cmd)
        elif cmd.startswith("T") and cmd[1:].isdigit():
            self._tool(int(cmd[1:]))
        elif cmd not in IGNORED_COMMANDS:
            self._unknown(cmd)

    def _bed_levelling(self) -> None:
        self._sync()
        self.overhead_s += self.p.bed_levelling_s
        self.counts["bed_levelling"] += 1

    def _set_modes(self, *, relative: bool | None = None, e_relative: bool | None = None) -> None:
        if relative is not None:
            self.relative = relative
        if e_relative is not None:
            self.e_relative = e_relative

    def _feed_percent(self, w: dict[str, float]) -> None:
        if "S" in w and w["S"] > 0:
            self.feed_multiplier = w["S"] / 100.0

    def _flow_percent(self, w: dict[str, float]) -> None:
        if "S" not in w or w["S"] <= 0 or "T" in w:
            return
        self.flow = w["S"] / 100.0
        self.flows.add(round(w["S"], 2))
        if abs(self.flow - 1.0) > 1e-6:
            self.warn(
                f"M221 S{w['S']:g} sets the flow to {w['S']:g} %: the printer pushes "
                "that share of the filament figures shown (slicers report the "
                "commanded length)",
                key="m221",
            )

    def _operator_stop(self, cmd: str) -> None:
        self._sync()
        self.counts["operator_stops"] += 1
        self.warn(
            f"{cmd} stops the print until someone acts (pause or filament change): "
            "that waiting time is not in the estimate",
            key=f"stop-{cmd}",
        )

    def _unknown(self, name: str) -> None:
        # Distinct names are few in real files; garbage could make millions.
        if name not in self.unknown and len(self.unknown) >= MAX_UNKNOWN_NAMES:
            name = "(others)"
        self.unknown[name] += 1

    def _g1(
        self,
        x: float | None,
        y: float | None,
        z: float | None,
        e: float | None,
        f: float | None,
    ) -> None:
        scale = self.scale
        if f is not None:
            if f > 0.0 and _finite(f):
                self.feed = f * scale / 60.0
            elif not _finite(f):
                self._nonfinite("F")
        x0, y0, z0 = self.x, self.y, self.z
        nx, ny, nz = x0, y0, z0
        rel = self.relative
        if x is not None:
            nx = x0 + x * scale if rel else x * scale + self.ox
        if y is not None:
            ny = y0 + y * scale if rel else y * scale + self.oy
        if z is not None:
            nz = z0 + z * scale if rel else z * scale + self.oz
        de = 0.0
        new_e = self.e
        if e is not None:
            if rel or self.e_relative:
                de = e * scale
                new_e += de
            else:
                new_e = e * scale
                de = new_e - self.e
        if not (nx - nx == 0.0 and ny - ny == 0.0 and nz - nz == 0.0 and de - de == 0.0):
            self._nonfinite("a coordinate")
            return
        self.e = new_e
        self._move(x0, y0, z0, nx, ny, nz, de, self.feed)

    def _move(
        self,
        x0: float,
        y0: float,
        z0: float,
        nx: float,
        ny: float,
        nz: float,
        de: float,
        feed: float,
    ) -> None:
        dx = nx - x0
        dy = ny - y0
        dz = nz - z0
        moved = dx != 0.0 or dy != 0.0 or dz != 0.0
        if not moved and de == 0.0:
            return
        self.x, self.y, self.z = nx, ny, nz
        counts = self.counts
        counts["moves"] += 1
        if moved:
            # Box.add written out: this runs for every move of files with millions of
            # lines, where a method call per move is a measurable share of the parse.
            box = self.all_moves
            lo, hi = box.lo, box.hi
            if nx < lo[0]:
                lo[0] = nx
            if nx > hi[0]:
                hi[0] = nx
            if ny < lo[1]:
                lo[1] = ny
            if ny > hi[1]:
                hi[1] = ny
            if nz < lo[2]:
                lo[2] = nz
            if nz > hi[2]:
                hi[2] = nz
        if de != 0.0:
            fil = self.filament[self.tool]
            fil[0] += de
            if fil[0] > fil[1]:
                fil[1] = fil[0]
            if de > 0.0 and (dx != 0.0 or dy != 0.0):
                self._extrusion(x0, y0, z0, nx, ny, nz)
            else:
                self._extruding = False
        else:
            self._extruding = False
        if self.planner is not None:
            self.planner.move(dx, dy, dz, de * self.flow, feed * self.feed_multiplier)

    def _extrusion(self, x0: float, y0: float, z0: float, nx: float, ny: float, nz: float) -> None:
        """Layers, boxes and the preview's segment for a move that lays down plastic."""
        self.counts["extrusions"] += 1
        if nz >= self._layer_z + 0.05:
            self.counts["z_levels"] += 1
            self._layer_z = nz
        # The start point is the previous move's end, already in the box unless
        # that move did not extrude.
        if not self._extruding:
            self.extrusions.add(x0, y0, z0)
        self.extrusions.add(nx, ny, nz)
        if self.meta.layer_marks:
            # After the slicer's first layer mark: the objects, not the purge line.
            if not self._extruding or not self._in_part:
                self.part.add(x0, y0, z0)
            self.part.add(nx, ny, nz)
            self._in_part = True
        self._extruding = True
        if self.segment is not None:
            self.segment(x0, y0, nx, ny, nz)

    def _nonfinite(self, what: str) -> None:
        self.counts["nonfinite"] += 1
        self.warn(
            f"line {self.line_no}: {what} is not a finite number (NaN or infinity): "
            "the move is ignored (so are the next such moves, counted in "
            "counts.nonfinite_values)",
            key="nonfinite",
        )

    def _arc(self, w: dict[str, float], *, clockwise: bool) -> None:
        self.counts["arcs"] += 1
        scale = self.scale
        if "F" in w and w["F"] > 0:
            self.feed = w["F"] * scale / 60.0
        x0, y0, z0 = self.x, self.y, self.z
        rel = self.relative
        nx = (x0 + w["X"] * scale if rel else w["X"] * scale + self.ox) if "X" in w else x0
        ny = (y0 + w["Y"] * scale if rel else w["Y"] * scale + self.oy) if "Y" in w else y0
        nz = (z0 + w["Z"] * scale if rel else w["Z"] * scale + self.oz) if "Z" in w else z0
        de = 0.0
        if "E" in w:
            if rel or self.e_relative:
                de = w["E"] * scale
                self.e += de
            else:
                de = w["E"] * scale - self.e
                self.e = w["E"] * scale
        try:
            points, problem = arc_segments(
                (x0, y0),
                (nx, ny),
                i=w["I"] * scale if "I" in w else None,
                j=w["J"] * scale if "J" in w else None,
                r=w["R"] * scale if "R" in w else None,
                clockwise=clockwise,
                turns=int(w.get("P", 0.0)),
                feed=self.feed * self.feed_multiplier,
                params=self.p,
                budget=self.arc_budget,
            )
        except ArcBudgetExceeded as exc:
            raise self._over_budget(exc.needed) from None
        if problem:
            self.warn(
                f"line {self.line_no}: {problem}; drawn as a straight move",
                key=f"arc-{problem[:12]}",
            )
            self.counts["bad_arcs"] += 1
        n = len(points)
        self.counts["arc_segments"] += n
        if self.arc_budget is not None:
            self.arc_budget -= n
        px, py, pz = x0, y0, z0
        for k, (ax, ay) in enumerate(points, start=1):
            az = z0 + (nz - z0) * k / n
            self._move(px, py, pz, ax, ay, az, de / n, self.feed)
            px, py, pz = ax, ay, az
        self.x, self.y, self.z = nx, ny, nz

    def _over_budget(self, needed: int) -> FileRejected:
        made = self.counts["arc_segments"]
        return FileRejected(
            f"line {self.line_no}: this file's arcs (G2/G3) need more than "
            f"{made + needed:,} straight segments in all ({made:,} so far, {needed:,} for this "
            "arc), far more than a print of its size: refused, analysing it would take "
            "minutes. Check the arcs' radii and turns (P), or export without arc fitting"
        )

    def _dwell(self, w: dict[str, float]) -> None:
        seconds = w["S"] if "S" in w else (w["P"] / 1000.0 if "P" in w else 0.0)
        self.counts["dwells"] += 1
        if seconds > 0.0:
            self.dwell_s += seconds
        if self.planner is not None:
            self.planner.sync()

    def _home(self, w: dict[str, float], code: bytes) -> None:
        p = self.p
        self.counts["homings"] += 1
        named = re.sub(rb"^G\s*0*28", b"", code)
        axes = [a for a in "XYZ" if a.encode() in named]
        if not axes:
            axes = ["X", "Y", "Z"]
        self._sync()
        self.overhead_s += p.homing_s
        home = {"X": p.home_x_mm, "Y": p.home_y_mm, "Z": p.home_z_mm}
        nx = home["X"] if "X" in axes else self.x
        ny = home["Y"] if "Y" in axes else self.y
        nz = home["Z"] if "Z" in axes else self.z
        # Homing forgets G92 offsets on the homed axes (Marlin resets the position shift).
        if "X" in axes:
            self.ox = 0.0
        if "Y" in axes:
            self.oy = 0.0
        if "Z" in axes:
            self.oz = 0.0
        self._move(self.x, self.y, self.z, nx, ny, nz, 0.0, p.homing_feedrate_mm_s)
        self._sync()

    def _set_position(self, w: dict[str, float]) -> None:
        scale = self.scale
        if not w:
            w = {"X": 0.0, "Y": 0.0, "Z": 0.0, "E": 0.0}
        if "X" in w:
            self.ox = self.x - w["X"] * scale
        if "Y" in w:
            self.oy = self.y - w["Y"] * scale
        if "Z" in w:
            self.oz = self.z - w["Z"] * scale
        if "E" in w:
            self.e = w["E"] * scale

    def _fw_retract(self, retract: bool, w: dict[str, float]) -> None:
        if "S" in w or "P" in w or "R" in w:
            return  # RepRapFirmware's G10 sets tool offsets and temperatures
        p = self.p
        if retract == self.fw_retracted or p.fw_retract_mm <= 0.0:
            return
        self.fw_retracted = retract
        length = -p.fw_retract_mm if retract else p.fw_retract_mm
        speed = p.fw_retract_speed_mm_s if retract else p.fw_recover_speed_mm_s
        self.counts["fw_retracts" if retract else "fw_recovers"] += 1
        self._move(self.x, self.y, self.z, self.x, self.y, self.z, length, speed)

    def _tool(self, tool: int) -> None:
        if tool == self.tool:
            return
        if tool > MAX_TOOL:
            self.warn(f"line {self.line_no}: tool T{tool} does not exist: ignored", key="tool")
            return
        self._sync()
        self.counts["tool_changes"] += 1
        self.tool = tool
        self.filament.setdefault(tool, [0.0, 0.0])

    def _nozzle(self, w: dict[str, float], *, wait: bool) -> None:
        tool = int(w["T"]) if "T" in w else self.tool
        if not 0 <= tool <= MAX_TOOL:
            return
        name = f"T{tool}"
        target = w.get("R", w.get("S"))
        if target is None:
            return
        if not wait:
            self._heater_clock()
            self.heaters.set_target(name, target)
            return
        self._heat_wait(name, target, cooling="R" in w)

    def _bed(self, w: dict[str, float], *, wait: bool) -> None:
        target = w.get("R", w.get("S"))
        if target is None:
            return
        if not wait:
            self._heater_clock()
            self.heaters.set_target("bed", target)
            return
        self._heat_wait("bed", target, cooling="R" in w)

    def _heater_clock(self) -> None:
        """Bring the heaters to the job's clock without stopping the motion (M104 and M140
        do not wait): the moves still in the lookahead, a few seconds at most, are left
        out."""
        if self.planner is not None:
            self.heaters.at(self.now())

    def _heat_wait(self, name: str, target: float, *, cooling: bool) -> None:
        self.counts["heat_waits"] += 1
        if self.planner is None:
            return
        self.planner.sync()
        self.heaters.at(self.now())
        self.heaters.wait(name, target, cooling=cooling)

    def _limits(self, cmd: str, code: bytes) -> None:
        """M201/M203/M204/M205/M566 from the file override the profile, as in the firmware."""
        if self.planner is None:
            return
        self.counts["limit_commands"] += 1
        flavor = str(self.meta.values.get("flavor", "")).lower()
        apply_limits(
            self.planner.limits, cmd, code, self.scale, per_minute=flavor == "reprapfirmware"
        )

    # -- results ----------------------------------------------------------------------

    def filament_mm(self) -> dict[int, float]:
        """Filament consumed per tool: the furthest each filament was pushed (mm).

        Retractions that are undone later do not count, nor the final retraction.
        """
        return {tool: hw for tool, (_, hw) in sorted(self.filament.items()) if hw > 0.0}
