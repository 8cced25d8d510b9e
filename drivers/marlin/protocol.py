"""Marlin's host protocol, both ways: framing numbered lines, and reading what the printer says.

Pure functions and small value types, no I/O: the driver and the emulator share them, and
the tests check them with tables. Formats follow Marlin 2.x (``GCodeQueue`` in
``Marlin/src/gcode/queue.cpp``) and what OctoPrint's ``comm.py`` copes with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

MAX_LINE_BYTES = 96
"""Marlin's ``MAX_CMD_SIZE``: longer lines are cut by the firmware, so we refuse them."""


def checksum(payload: bytes) -> int:
    """XOR of every byte of ``N<n> <command>`` (what follows ``*``)."""
    value = 0
    for byte in payload:
        value ^= byte
    return value


def frame(number: int, command: bytes) -> bytes:
    """``N<number> <command>*<checksum>\\n``: the form every streamed line takes."""
    payload = b"N%d %s" % (number, command)
    return b"%s*%d\n" % (payload, checksum(payload))


_NUMBERED = re.compile(rb"^N-?\d+\s*", re.IGNORECASE)
_STAR = re.compile(rb"\*\d*\s*$")


def clean(raw: bytes) -> bytes:
    """The command part of a file line: no comment, no surrounding blanks, no line number
    or checksum of its own (we number lines ourselves). Empty when nothing is left."""
    code = raw.split(b";", 1)[0].strip()
    if not code:
        return b""
    if code[:1] in b"Nn" and _NUMBERED.match(code):
        code = _NUMBERED.sub(b"", code, count=1)
        code = _STAR.sub(b"", code).strip()
    return code


def parse_frame(line: bytes) -> tuple[int | None, bytes, str | None]:
    """What the firmware reads in a received line: (number, command, error).

    Mirrors Marlin's ``get_serial_commands``: a line that starts with ``N`` must carry the
    expected number and a matching checksum; a line without ``N`` is taken as it is.
    ``error`` is one of ``no_checksum`` / ``checksum`` (the number is checked by the caller,
    who knows the last one)."""
    text = line.strip(b"\r\n").lstrip(b" ")
    if not text.startswith(b"N"):
        return None, text.split(b"*", 1)[0].strip(), None
    # M110 carries the new number in its own N parameter (Marlin looks for the second N).
    m110 = b"M110" in text
    digits = re.match(rb"N(-?\d+)", text)
    number = int(digits.group(1)) if digits else None
    star = text.rfind(b"*")
    if star < 0:
        return number, b"", "no_checksum"
    try:
        given = int(text[star + 1 :].strip() or b"-1")
    except ValueError:
        given = -1
    if given != checksum(text[:star]):
        return number, b"", "checksum"
    body = _NUMBERED.sub(b"", text[:star], count=1).strip()
    if m110:
        second = re.search(rb"M110\s+N(-?\d+)", body)
        if second:
            number = int(second.group(1))
    return number, body, None


# --- what the printer says --------------------------------------------------------------


class ReplyKind(StrEnum):
    ok = "ok"
    resend = "resend"
    busy = "busy"
    error = "error"
    fatal = "fatal"
    """The firmware halted (kill): nothing more will happen until it is reset."""
    temperature = "temperature"
    start = "start"
    """The firmware (re)booted: everything it had is gone."""
    capability = "capability"
    firmware = "firmware"
    action = "action"
    """A host action command (``//action:pause``): someone pressed a button on the printer."""
    wait = "wait"
    echo = "echo"
    other = "other"


class LineError(StrEnum):
    """Why the firmware refused a line (it asks for a resend after each)."""

    line_number = "line_number"
    checksum = "checksum"
    no_checksum = "no_checksum"
    no_line_number = "no_line_number"


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    text: str
    number: int | None = None
    """``ok N<n>`` (ADVANCED_OK) or ``Resend: <n>``."""
    planner_free: int | None = None
    buffer_free: int | None = None
    temperatures: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    """Sensor name (``hotend``, ``hotend1``, ``bed``, ``chamber``) -> (actual, target)."""
    line_error: LineError | None = None
    name: str = ""
    """Capability name, action name, or firmware name."""
    enabled: bool = False
    """For capabilities."""


_OK = re.compile(r"^ok\b(?:\s+N(?P<n>-?\d+))?(?:\s+P(?P<p>\d+))?(?:\s+B(?P<b>\d+))?")
_RESEND = re.compile(r"^(?:resend|rs)\b[:\s]*N?:?\s*(?P<n>-?\d+)", re.IGNORECASE)
_TEMP = re.compile(
    r"(?:^|\s)(?P<sensor>B|C|T\d*):\s*(?P<actual>-?\d+(?:\.\d+)?)"
    r"(?:\s*/\s*(?P<target>-?\d+(?:\.\d+)?))?"
)
_CAP = re.compile(r"^Cap:(?P<name>[A-Z0-9_]+):(?P<value>[01])\s*$")
_FIRMWARE = re.compile(r"FIRMWARE_NAME:\s*(?P<name>.+?)(?:\s+[A-Z_]+:|$)")
_FATAL_MARKS = ("printer halted", "kill() called", "fatal:", "printer stopped due to errors")


def _sensor_name(raw: str) -> str:
    if raw == "B":
        return "bed"
    if raw == "C":
        return "chamber"
    if raw in ("T", "T0"):
        return "hotend"
    return f"hotend{raw[1:]}"


def parse_temperatures(text: str) -> dict[str, tuple[float, float | None]]:
    """``T:210.0 /210.0 B:60.1 /60.0 @:127`` -> sensors. ``T`` and ``T0`` are one hotend."""
    temps: dict[str, tuple[float, float | None]] = {}
    for m in _TEMP.finditer(text):
        target = m.group("target")
        name = _sensor_name(m.group("sensor"))
        # Multi-extruder firmware reports T (the active tool) and T0..Tn: keep T0's own.
        if name in temps and m.group("sensor") == "T":
            continue
        temps[name] = (float(m.group("actual")), float(target) if target is not None else None)
    return temps


def classify_line_error(message: str) -> LineError | None:
    low = message.lower()
    if "no checksum" in low:
        return LineError.no_checksum
    if "no line number" in low:
        return LineError.no_line_number
    if "checksum mismatch" in low:
        return LineError.checksum
    if "line number" in low or "expected line" in low:
        return LineError.line_number
    return None


def parse_reply(line: str) -> Reply:
    """Classify one line from the printer (without its newline)."""
    text = line.strip()
    if not text:
        return Reply(ReplyKind.other, text)
    if text.startswith("ok"):
        ok = _parse_ok(text)
        if ok is not None:
            return ok
    low = text.lower()
    m = _RESEND.match(text)
    if m is not None:
        return Reply(ReplyKind.resend, text, number=int(m.group("n")))
    if low.startswith(("busy:", "echo:busy:")):
        return Reply(ReplyKind.busy, text)
    if low.startswith(("error:", "!!")):
        return _parse_error(text, low)
    if text == "start":
        return Reply(ReplyKind.start, text)
    if text == "wait":
        return Reply(ReplyKind.wait, text)
    m = _CAP.match(text)
    if m is not None:
        return Reply(
            ReplyKind.capability, text, name=m.group("name"), enabled=m.group("value") == "1"
        )
    m = _FIRMWARE.search(text)
    if m is not None:
        return Reply(ReplyKind.firmware, text, name=m.group("name").strip())
    if text.startswith("//action:"):
        return Reply(ReplyKind.action, text, name=text[len("//action:") :].strip().split(" ")[0])
    if text.startswith(("T:", "B:", "T0:")) or " T:" in text[:12]:
        temps = parse_temperatures(text)
        if temps:
            return Reply(ReplyKind.temperature, text, temperatures=temps)
    if low.startswith("echo:"):
        return Reply(ReplyKind.echo, text)
    return Reply(ReplyKind.other, text)


def _parse_ok(text: str) -> Reply | None:
    m = _OK.match(text)
    if m is None:
        return None
    rest = text[m.end() :]
    return Reply(
        ReplyKind.ok,
        text,
        number=int(m.group("n")) if m.group("n") else None,
        planner_free=int(m.group("p")) if m.group("p") else None,
        buffer_free=int(m.group("b")) if m.group("b") else None,
        temperatures=parse_temperatures(rest) if "T:" in rest else {},
    )


def _parse_error(text: str, low: str) -> Reply:
    message = text.split(":", 1)[1].strip() if ":" in text else text[2:].strip()
    if any(mark in low for mark in _FATAL_MARKS):
        return Reply(ReplyKind.fatal, message)
    return Reply(ReplyKind.error, message, line_error=classify_line_error(message))
