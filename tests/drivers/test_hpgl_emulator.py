"""The emulated HP-GL cutter, spoken to with plain pyserial over its pty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from drivers.emulators.hpgl_cutter import (
    CutterSettings,
    HpglCutterEmulator,
    settings_from_options,
)
from tests.support.factories import REPO


@pytest.fixture
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HpglCutterEmulator]:
    settings = getattr(request, "param", None) or CutterSettings(baud=115200)
    settings.log_path = tmp_path / "log.hpgl"
    emu = HpglCutterEmulator(settings)
    emu.start()
    yield emu
    emu.stop()


def host(emu: HpglCutterEmulator, **kw: object) -> serial.Serial:
    return serial.Serial(emu.slave_path, 115200, timeout=2, **kw)  # type: ignore[arg-type]


def test_esc_b_l_and_oi_are_answered(emulator: HpglCutterEmulator) -> None:
    with host(emulator) as ser:
        ser.write(b"\x1b.B")
        assert ser.read_until(b"\r") == b"1024\r"
        ser.write(b"\x1b.L")
        assert ser.read_until(b"\r") == b"1024\r"
        ser.write(b"IN;OI;")
        assert ser.read_until(b"\r") == b"FQ-CUTTER\r"
    assert emulator.stats.queries == 1


@pytest.mark.parametrize(
    "emulator", [CutterSettings(baud=4800, time_scale=1000, flow="none")], indirect=True
)
def test_bytes_come_off_the_line_at_the_baud_rate(emulator: HpglCutterEmulator) -> None:
    with host(emulator) as ser:
        started = time.monotonic()
        ser.write(b"PU0,0;" * 80)  # 480 bytes at 480 bytes a second
        deadline = started + 5
        while emulator.stats.received < 480 and time.monotonic() < deadline:
            time.sleep(0.01)
        took = time.monotonic() - started
    assert emulator.stats.received == 480
    assert 0.85 < took < 2.0


@pytest.mark.parametrize(
    "emulator", [CutterSettings(baud=200_000, time_scale=0.5, flow="none")], indirect=True
)
def test_a_full_buffer_drops_and_counts_what_arrives(emulator: HpglCutterEmulator) -> None:
    with host(emulator) as ser:
        ser.write(b"PU0,0;PD40000,0;" + b"PD0,0;" * 500)  # the first cut takes 200 s
        time.sleep(1.0)
    st = emulator.stats
    assert st.received == 16 + 3000
    assert st.accepted + st.overflow == st.received
    # Two commands left the buffer (PU, and the long PD under way); the rest had no room.
    assert st.accepted == 1024 + 16 and st.overflow == 3016 - 1040
    assert st.max_fill == 1024


@pytest.mark.parametrize(
    "emulator", [CutterSettings(baud=200_000, time_scale=50, flow="xonxoff")], indirect=True
)
def test_xoff_stops_a_host_that_listens(emulator: HpglCutterEmulator) -> None:
    data = b"".join(b"PU%d,0;PD%d,400;" % (i, i) for i in range(2000))
    with host(emulator, xonxoff=True, write_timeout=60) as ser:
        ser.write(data)
        assert emulator.wait_idle(60)
    st = emulator.stats
    assert st.xoff_sent > 0 and st.overflow == 0
    assert bytes(emulator.accepted) == data
    assert (emulator.settings.log_path or Path()).read_bytes() == data
    assert emulator.executed[:2] == ["PU0,0", "PD0,400"]


def test_options_of_the_simulate_command(tmp_path: Path) -> None:
    s = settings_from_options(9600, ["buffer=512", "flow=none", "scale=10", f"log={tmp_path}/l"])
    assert (s.buffer_size, s.flow, s.time_scale, s.baud) == (512, "none", 10.0, 9600)
    with pytest.raises(ValueError, match="unknown option"):
        settings_from_options(9600, ["bufer=1"])


@pytest.mark.slow
def test_fabqueue_simulate_cutter(tmp_path: Path) -> None:
    link = tmp_path / "ttyCUTTER"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fabqueue",
            "simulate",
            "cutter",
            "--baud",
            "9600",
            "-o",
            f"link={link}",
            "-o",
            "buffer=2048",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert str(link) in first and "2048-byte buffer" in first
        with serial.Serial(str(link), 9600, timeout=3) as ser:
            ser.write(b"\x1b.B")
            assert ser.read_until(b"\r") == b"2048\r"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert "received 3 B" in out
