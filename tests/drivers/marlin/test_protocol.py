"""Marlin's line protocol: framing, file-line cleaning, and reading the printer's replies."""

from __future__ import annotations

import pytest

from drivers.marlin.protocol import (
    LineError,
    ReplyKind,
    checksum,
    clean,
    frame,
    parse_frame,
    parse_reply,
    parse_temperatures,
)


@pytest.mark.parametrize(
    ("number", "command", "expected"),
    [
        # The hello every host sends; 125 is the checksum OctoPrint's logs show.
        (0, b"M110 N0", b"N0 M110 N0*125\n"),
        (1, b"M115", b"N1 M115*39\n"),
        (12345, b"G1 X123.456 Y98.765 E1234.56789", b"N12345 G1 X123.456 Y98.765 E1234.56789*96\n"),
    ],
)
def test_frame(number: int, command: bytes, expected: bytes) -> None:
    assert frame(number, command) == expected
    payload = expected[: expected.rindex(b"*")]
    assert checksum(payload) == int(expected[expected.rindex(b"*") + 1 : -1])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"G1 X10 Y10 ; move\n", b"G1 X10 Y10"),
        (b"; only a comment\n", b""),
        (b"   \r\n", b""),
        (b"M104 S200\r\n", b"M104 S200"),
        (b"N12 G1 X1*34\n", b"G1 X1"),  # the file's own numbering is dropped
        (b"n7 M105\n", b"M105"),
    ],
)
def test_clean(raw: bytes, expected: bytes) -> None:
    assert clean(raw) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (frame(5, b"G1 X1"), (5, b"G1 X1", None)),
        (frame(5, b"G1 X1").replace(b"X1", b"X7"), (5, b"", "checksum")),
        (b"N5 G1 X1\n", (5, b"", "no_checksum")),
        (b"G28\n", (None, b"G28", None)),
        (b"  G1 X2*99\n", (None, b"G1 X2", None)),  # no number: Marlin takes it as it is
        (frame(0, b"M110 N7"), (7, b"M110 N7", None)),  # M110's own N sets the line
    ],
)
def test_parse_frame(line: bytes, expected: tuple[int | None, bytes, str | None]) -> None:
    assert parse_frame(line) == expected


def test_ok_forms() -> None:
    plain = parse_reply("ok")
    assert plain.kind == ReplyKind.ok and plain.number is None and plain.buffer_free is None
    adv = parse_reply("ok N123 P15 B3")
    assert (adv.kind, adv.number, adv.planner_free, adv.buffer_free) == (ReplyKind.ok, 123, 15, 3)
    unnumbered = parse_reply("ok P15 B3")
    assert unnumbered.number is None and unnumbered.buffer_free == 3
    m105 = parse_reply("ok T:21.30 /0.00 B:20.90 /60.00 @:0 B@:127")
    assert m105.kind == ReplyKind.ok and m105.number is None
    assert m105.temperatures == {"hotend": (21.3, 0.0), "bed": (20.9, 60.0)}


@pytest.mark.parametrize(
    ("line", "number"),
    [("Resend: 42", 42), ("Resend:42", 42), ("rs N42", 42), ("Resend: N:42", 42)],
)
def test_resend_forms(line: str, number: int) -> None:
    reply = parse_reply(line)
    assert reply.kind == ReplyKind.resend and reply.number == number


@pytest.mark.parametrize(
    ("line", "kind", "error"),
    [
        (
            "Error:Line Number is not Last Line Number+1, Last Line: 9",
            ReplyKind.error,
            LineError.line_number,
        ),
        ("Error:checksum mismatch, Last Line: 9", ReplyKind.error, LineError.checksum),
        (
            "Error:No Checksum with line number, Last Line: 9",
            ReplyKind.error,
            LineError.no_checksum,
        ),
        (
            "Error:No Line Number with checksum, Last Line: 9",
            ReplyKind.error,
            LineError.no_line_number,
        ),
        ("Error:Thermal Runaway, system stopped! Heater_ID: 0", ReplyKind.error, None),
        ("Error:Printer halted. kill() called!", ReplyKind.fatal, None),
        ("!! Printer halted. kill() called!", ReplyKind.fatal, None),
    ],
)
def test_errors(line: str, kind: ReplyKind, error: LineError | None) -> None:
    reply = parse_reply(line)
    assert reply.kind == kind
    assert reply.line_error == error


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("echo:busy: processing", ReplyKind.busy),
        ("busy: paused for user", ReplyKind.busy),
        ("start", ReplyKind.start),
        ("wait", ReplyKind.wait),
        ('echo:Unknown command: "M862.3"', ReplyKind.echo),
        ("//action:pause", ReplyKind.action),
        (" T:200.00 /210.00 B:59.80 /60.00 @:127 B@:0", ReplyKind.temperature),
        ("T:200.00 /210.00 B:59.80 /60.00 @:127 B@:0 W:?", ReplyKind.temperature),
        ("X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", ReplyKind.other),
        ("o#k N12 P1 B3", ReplyKind.other),  # a garbled ok is not an ok
    ],
)
def test_other_kinds(line: str, kind: ReplyKind) -> None:
    assert parse_reply(line).kind == kind


def test_capabilities_and_firmware() -> None:
    cap = parse_reply("Cap:AUTOREPORT_TEMP:1")
    assert (cap.kind, cap.name, cap.enabled) == (ReplyKind.capability, "AUTOREPORT_TEMP", True)
    assert parse_reply("Cap:EMERGENCY_PARSER:0").enabled is False
    fw = parse_reply(
        "FIRMWARE_NAME:Marlin 2.1.2 (Github) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
        "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 EXTRUDER_COUNT:1"
    )
    assert fw.kind == ReplyKind.firmware and fw.name == "Marlin 2.1.2 (Github)"
    assert parse_reply("//action:cancel").name == "cancel"


def test_temperatures_of_several_tools() -> None:
    temps = parse_temperatures("T:210.0 /210.0 T0:210.0 /210.0 T1:150.5 /0.0 B:60 /60 C:30.2")
    assert temps == {
        "hotend": (210.0, 210.0),
        "hotend1": (150.5, 0.0),
        "bed": (60.0, 60.0),
        "chamber": (30.2, None),
    }
