"""The firmware inside the Marlin emulator: command queue, planner, heaters, replies.

Time is passed in (real seconds from ``time.monotonic``); emulated durations (moves,
dwell, homing, heating) are divided by ``speed``. Behaviour follows Marlin 2.x: a ring of
``bufsize`` commands filled from the serial line between commands, line numbers and
checksums checked on the way in, ``ok`` sent once a command has run (for a move: once it
is in the planner), ADVANCED_OK's ``ok N P B``, ``busy: processing`` while a command
takes long, temperature reports, and ``kill()``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.marlin.protocol import parse_frame
from drivers.marlin.state import StateTracker, command_of, words


@dataclass
class FirmwareOptions:
    speed: float = 1.0
    """Emulated seconds per real second (moves, dwell, homing, heating, reports)."""
    line_delay_s: float = 0.0005
    """Real time to parse and start one command."""
    planner_blocks: int = 16
    bufsize: int = 4
    advanced_ok: bool = True
    ok_after_resend: bool = True
    keepalive_s: float = 2.0
    """``busy: processing`` interval while a command runs; 0 = no HOST_KEEPALIVE."""
    autoreport_temp: bool = True
    emergency_parser: bool = True
    hotend_rate: float = 3.0
    """°C per emulated second while heating (cooling is a third of it)."""
    bed_rate: float = 1.0
    ambient: float = 21.0
    home_s: float = 8.0
    probe_s: float = 30.0
    noise_rate: float = 0.0
    """Chance, per command, of an unrelated ``echo:`` line."""
    kill_at_line: int | None = None
    kill_message: str = "Thermal Runaway, system stopped! Heater_ID: 0"
    hang_at_line: int | None = None
    firmware_name: str = "Marlin 2.1.2.4 (fabqueue emulator)"
    seed: int = 0
    min_report_s: float = 0.05
    """Real floor for periodic reports, so a fast clock does not flood the line."""


@dataclass
class Heater:
    actual: float
    target: float = 0.0

    def update(self, dt_emulated: float, rate: float, ambient: float) -> None:
        goal = self.target if self.target > 0 else ambient
        step = (rate if goal > self.actual else rate / 3) * dt_emulated
        if abs(goal - self.actual) <= step:
            self.actual = goal
        else:
            self.actual += step if goal > self.actual else -step


@dataclass
class _Running:
    number: int | None
    command: bytes
    ready_at: float
    """Parsing done (real time)."""
    started_at: float
    wait_until: float | None = None
    heater: str | None = None
    synchronize: bool = False
    move_s: float = 0.0
    phase: int = 0
    last_report: float = 0.0


@dataclass
class Firmware:
    options: FirmwareOptions
    emit: Callable[[str], None]
    executed: list[str] = field(default_factory=list)
    """Every command the firmware ran, in order, as text without number or checksum."""
    executed_count: int = 0
    """Across reboots: what the ``*_at_line`` faults count."""
    unnumbered: list[int] = field(default_factory=list)
    """Indexes in ``executed`` of commands that came without a line number (a host that
    does not number, or the tail of a line cut short by a drain)."""
    refused: list[str] = field(default_factory=list)
    """Lines that reached the queue but are no command (``Unknown command``)."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.options.seed * 7919 + 1)
        self.boot(0.0)

    # --- life cycle ---------------------------------------------------------------------

    def boot(self, now: float) -> None:
        """Power on / reset: everything but the ``executed`` record is lost."""
        self.last_n = 0
        self.ring: deque[tuple[int | None, bytes]] = deque()
        self.running: _Running | None = None
        self.planner: deque[float] = deque()
        """End times (real) of the moves queued, in order."""
        self.tracker = StateTracker()
        self.hotend = Heater(self.options.ambient)
        self.bed = Heater(self.options.ambient)
        self.autoreport_s = 0.0
        self.next_autoreport = 0.0
        self.keepalive_s = self.options.keepalive_s
        self.halted = False
        self.hung = False
        self._last_heat_update = now

    def boot_messages(self) -> None:
        self.emit("start")
        self.emit("echo: External Reset")
        self.emit(f"Marlin {self.options.firmware_name.split(' ', 2)[1]}")
        self.emit("echo: Free Memory: 4096  PlannerBufferBytes: 1536")

    def kill(self, reason: str | None) -> None:
        if reason:
            self.emit(f"Error:{reason}")
        self.emit("Error:Printer halted. kill() called!")
        self.halted = True
        self.ring.clear()
        self.running = None
        self.planner.clear()
        self.hotend.target = self.bed.target = 0.0

    @property
    def silent(self) -> bool:
        return self.halted or self.hung

    # --- the serial side ----------------------------------------------------------------

    @property
    def ring_full(self) -> bool:
        return len(self.ring) >= self.options.bufsize

    @property
    def reading(self) -> bool:
        """Between commands: the main loop reads the serial line into the ring."""
        return not self.silent and self.running is None and not self.ring_full

    def take_line(self, raw: bytes) -> bool:
        """A whole line read from the serial buffer. False when it was refused (the caller
        then drains its receive buffer, as Marlin does)."""
        number, body, error = parse_frame(raw)
        if (
            number is not None
            and error is None
            and b"M110" not in body
            and (number != self.last_n + 1)
        ):
            error = "line_number"
        if error is not None:
            message = {
                "line_number": "Line Number is not Last Line Number+1, Last Line: ",
                "checksum": "checksum mismatch, Last Line: ",
                "no_checksum": "No Checksum with line number, Last Line: ",
            }[error]
            self.emit(f"Error:{message}{self.last_n}")
            self.emit(f"Resend: {self.last_n + 1}")
            if self.options.ok_after_resend:
                self.emit("ok")
            return False
        if not body:
            return True
        if number is not None:
            self.last_n = number
        self.ring.append((number, body))
        return True

    # --- running commands -----------------------------------------------------------------

    def _ok(self, number: int | None) -> None:
        if not self.options.advanced_ok:
            self.emit("ok")
            return
        free_p = max(0, self.options.planner_blocks - len(self.planner) - 1)
        free_b = self.options.bufsize - len(self.ring)
        n = f" N{number}" if number is not None else ""
        self.emit(f"ok{n} P{free_p} B{free_b}")

    def _temps(self) -> str:
        h, b = self.hotend, self.bed
        power = 127 if h.target > h.actual else 0
        return (
            f"T:{h.actual:.2f} /{h.target:.2f} B:{b.actual:.2f} /{b.target:.2f} "
            f"@:{power} B@:{127 if b.target > b.actual else 0}"
        )

    def _real(self, emulated_s: float) -> float:
        return emulated_s / self.options.speed

    def step(self, now: float) -> float | None:
        """Run what is due at ``now``; return when something will next be due (None: only
        new input can change anything)."""
        dt = now - self._last_heat_update
        self._last_heat_update = now
        if self.halted or self.hung:
            return None
        emulated = dt * self.options.speed
        self.hotend.update(emulated, self.options.hotend_rate, self.options.ambient)
        self.bed.update(emulated, self.options.bed_rate, self.options.ambient)
        while self.planner and self.planner[0] <= now:
            self.planner.popleft()
        wake: list[float] = []
        if self.autoreport_s > 0:
            if now >= self.next_autoreport:
                self.emit(" " + self._temps())
                self.next_autoreport = now + self.autoreport_s
            wake.append(self.next_autoreport)
        if self.running is None and self.ring:
            number, body = self.ring[0]
            self._start(number, body, now)
        if self.running is not None:
            due = self._progress(now)
            if due is not None:
                wake.append(due)
        if self.planner:
            wake.append(self.planner[0])
        return min(wake) if wake else None

    def _start(self, number: int | None, body: bytes, now: float) -> None:
        run = _Running(number, body, ready_at=now + self.options.line_delay_s, started_at=now)
        run.last_report = now
        cmd = command_of(body)
        if cmd in (b"G0", b"G1", b"G2", b"G3"):
            run.move_s = self.tracker.apply(body)
        elif cmd in (b"G4", b"G28", b"G29", b"M400"):
            run.synchronize = True
        elif cmd in (b"M109", b"M190"):
            w = words(body)
            target = w.get("S", w.get("R"))
            heater = self.hotend if cmd == b"M109" else self.bed
            if target is not None:
                heater.target = target
            run.heater = "hotend" if cmd == b"M109" else "bed"
            self.tracker.apply(body)
        self.running = run

    def _progress(self, now: float) -> float | None:
        run = self.running
        assert run is not None
        if now < run.ready_at:
            return run.ready_at
        keepalive = max(self.options.min_report_s, self._real(self.keepalive_s))
        if self.keepalive_s > 0 and now - run.last_report >= keepalive:
            self.emit("echo:busy: processing")
            run.last_report = now
        cmd = command_of(run.command)
        if run.move_s > 0 or cmd in (b"G0", b"G1", b"G2", b"G3"):
            if run.move_s > 0:
                if len(self.planner) >= self.options.planner_blocks - 1:
                    return self._next_report(run, self.planner[0])
                start = max(now, self.planner[-1] if self.planner else now)
                self.planner.append(start + self._real(run.move_s))
            return self._finish(now)
        if run.synchronize and run.phase == 0:
            if self.planner:
                return self._next_report(run, self.planner[-1])
            run.phase = 1
            w = words(run.command)
            duration = {
                b"G4": w.get("S", 0.0) + w.get("P", 0.0) / 1000.0,
                b"G28": self.options.home_s,
                b"G29": self.options.probe_s,
            }.get(cmd, 0.0)
            run.wait_until = now + self._real(duration)
        if run.wait_until is not None and now < run.wait_until:
            return self._next_report(run, run.wait_until)
        if run.heater is not None:
            heater = self.hotend if run.heater == "hotend" else self.bed
            interval = max(self.options.min_report_s, self._real(1.0))
            if now - run.last_report >= interval:
                self.emit(f" {self._temps()} W:?")
                run.last_report = now
            if abs(heater.actual - heater.target) > 1.0 and heater.target > 0:
                return min(run.last_report + interval, now + interval / 4)
        if cmd == b"G28":
            self.tracker.apply(run.command)
        return self._finish(now)

    def _next_report(self, run: _Running, due: float) -> float:
        if self.keepalive_s <= 0:
            return due
        keepalive = max(self.options.min_report_s, self._real(self.keepalive_s))
        return min(due, run.last_report + keepalive)

    def _finish(self, now: float) -> float | None:
        run = self.running
        assert run is not None
        text = run.command.decode("latin-1")
        if text[:1].upper() in ("G", "M", "T"):
            if run.number is None:
                self.unnumbered.append(len(self.executed))
            self.executed.append(text)
            self.executed_count += 1
            reply_ok = self._execute(run.command, now)
        else:
            # Marlin's parser wants G, M or T first: anything else is refused, harmlessly.
            self.refused.append(text)
            self.emit(f'echo:Unknown command: "{text}"')
            reply_ok = True
        if self.silent:
            return None
        if reply_ok:
            self._ok(run.number)
        self.ring.popleft()
        self.running = None
        if self.options.noise_rate and self._rng.random() < self.options.noise_rate:
            self.emit(
                self._rng.choice(
                    [
                        "echo:SD init fail",
                        "echo:Active Extruder: 0",
                        "echo:  M204 P500.00 R1000.00 T500.00",
                        "echo:Cold extrusion prevented",
                        "//action:notification Layer change",
                    ]
                )
            )
        return now

    def _execute(self, body: bytes, now: float) -> bool:
        """Side effects of a command; False when it answers with its own ``ok``."""
        opts = self.options
        if opts.kill_at_line is not None and self.executed_count == opts.kill_at_line:
            self.kill(opts.kill_message)
            return False
        if opts.hang_at_line is not None and self.executed_count == opts.hang_at_line:
            self.hung = True
            return False
        cmd = command_of(body)
        w = words(body)
        if cmd in _MODES:
            self.tracker.apply(body)
        elif cmd == b"M104":
            self.hotend.target = w.get("S", self.hotend.target)
        elif cmd == b"M140":
            self.bed.target = w.get("S", self.bed.target)
        elif cmd == b"M105":
            self.emit(f"ok {self._temps()}")
            return False
        elif cmd == b"M155":
            self.autoreport_s = (
                max(opts.min_report_s, self._real(w.get("S", 0.0))) if w.get("S") else 0.0
            )
            self.next_autoreport = now + self.autoreport_s
        elif cmd == b"M113":
            if "S" in w:
                self.keepalive_s = w["S"]
            else:
                self.emit(f"echo:M113 S{self.keepalive_s:g}")
        elif cmd == b"M112":
            self.kill(None)
            return False
        elif cmd == b"M114":
            s = self.tracker.state
            self.emit(f"X:{s.x:.2f} Y:{s.y:.2f} Z:{s.z:.2f} E:{s.e:.2f} Count X:0 Y:0 Z:0")
        elif cmd == b"M115":
            self._report_capabilities()
        elif cmd not in _KNOWN and cmd not in _HANDLED:
            self.emit(f'echo:Unknown command: "{body.decode("latin-1")}"')
        return True

    def stray(self) -> list[str]:
        """Commands that ran without a line number and did something (not refused as
        unknown): what a host that numbers every line never meant to send alone."""
        return [
            self.executed[i]
            for i in self.unnumbered
            if command_of(self.executed[i].encode("latin-1")) in _KNOWN | _HANDLED
        ]

    def _report_capabilities(self) -> None:
        self.emit(
            f"FIRMWARE_NAME:{self.options.firmware_name} "
            "SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
            "MACHINE_TYPE:fabqueue-emulator EXTRUDER_COUNT:1 "
            "UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff"
        )
        caps = {
            "SERIAL_XON_XOFF": 0,
            "BINARY_FILE_TRANSFER": 0,
            "EEPROM": 1,
            "AUTOREPORT_TEMP": int(self.options.autoreport_temp),
            "AUTOREPORT_POS": 0,
            "PROGRESS": 0,
            "PRINT_JOB": 1,
            "AUTOLEVEL": 1,
            "Z_PROBE": 1,
            "EMERGENCY_PARSER": int(self.options.emergency_parser),
            "HOST_ACTION_COMMANDS": 1,
            "PROMPT_SUPPORT": 0,
            "SDCARD": 0,
            "THERMAL_PROTECTION": 1,
            "ARCS": 1,
            "CHAMBER_TEMPERATURE": 0,
        }
        for name, value in caps.items():
            self.emit(f"Cap:{name}:{value}")


_MODES = frozenset({b"G90", b"G91", b"G92", b"M82", b"M83", b"G20", b"G21", b"M106", b"M107"})
_HANDLED = _MODES | {b"M104", b"M140", b"M105", b"M155", b"M113", b"M112", b"M114", b"M115"}
_KNOWN = frozenset(
    {b"G0", b"G1", b"G2", b"G3", b"G4", b"G28", b"G29", b"M400", b"M109", b"M190"}
    | {b"M17", b"M18", b"M84", b"M73", b"M117", b"M118", b"M201", b"M203", b"M204", b"M205"}
    | {b"M220", b"M221", b"M900", b"M907", b"T0", b"M300", b"M500", b"M501", b"M503", b"M31"}
    | {b"M110"}
)
