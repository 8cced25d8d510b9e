"""A software HP-GL vinyl cutter on a pseudo-terminal (``fabqueue simulate cutter``).

It behaves like the small cutters cafés own, so a driver that works against it has met
the real failure modes:

* a small input buffer (1 KB by default): bytes arriving when it is full are lost and
  counted (``overflow``), which on a real cutter garbles the cut;
* the wire's speed: bytes come off the line at ``baud / 10`` per second, the rest wait
  in the host's queue (a pty alone would deliver megabytes per second);
* XON/XOFF: XOFF when the buffer is nearly full, XON when it has drained. The line
  stops only if the *host* enabled software flow control on its side (IXON), as a real
  UART's transmitter would; a host that ignores XOFF overflows the buffer;
* ``ESC.B`` answered at once with the free buffer space (``ESC.L`` with its size,
  ``ESC.O`` with a status whose bit 3 means "buffer empty", ``ESC.K`` discards the
  buffer), ``OS;`` and ``OI;`` answered when executed;
* commands executed at the speed of the knife (scaled by ``time_scale`` for tests);
* a log of every byte it accepted, and of the commands it executed.

RTS/CTS is not emulated: a Linux pty has no modem lines (``TIOCMGET`` fails on it).
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from drivers.transports.pty import PtyPair, open_pty

XON = b"\x11"
XOFF = b"\x13"
ESC = 0x1B


@dataclass
class CutterSettings:
    buffer_size: int = 1024
    baud: int = 9600
    flow: str = "xonxoff"
    """``xonxoff`` (send XOFF/XON) or ``none``."""
    xoff_free: int = 128
    """XOFF when fewer bytes than this are free."""
    xon_fill: int = 256
    """XON again when the buffer holds no more than this."""
    time_scale: float = 1.0
    """Simulated seconds per real second (10 = a ten-minute cut in one minute)."""
    cut_speed_mm_s: float = 100.0
    travel_speed_mm_s: float = 300.0
    steps_per_mm: float = 40.0
    command_time_s: float = 0.002
    """Time to execute any command, motion aside."""
    log_path: Path | None = None
    link: Path | None = None
    """A stable path (symlink) to the current pty, like a udev name for a USB adapter."""


@dataclass
class CutterStats:
    received: int = 0
    """Bytes that came off the line (ESC sequences included)."""
    accepted: int = 0
    overflow: int = 0
    max_fill: int = 0
    xoff_sent: int = 0
    queries: int = 0
    commands: int = 0
    pen_down_mm: float = 0.0
    errors: int = 0
    """Commands the cutter could not read (garbled by an overflow)."""


@dataclass
class _State:
    buffer: bytearray = field(default_factory=bytearray)
    esc: bytearray = field(default_factory=bytearray)
    xoff: bool = False
    busy_until: float = 0.0
    x: float = 0.0
    y: float = 0.0
    down: bool = False
    absolute: bool = True


class HpglCutterEmulator:
    def __init__(self, settings: CutterSettings | None = None) -> None:
        self.settings = settings or CutterSettings()
        self.stats = CutterStats()
        self.accepted = bytearray()
        """Every byte taken into the buffer, in order (what the cutter understood)."""
        self.executed: list[str] = []
        """Commands executed, as text (the last 100 000)."""
        self._state = _State()
        self._pty: PtyPair | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._log: BinaryIO | None = None
        self.slave_path = ""

    # --- life cycle ------------------------------------------------------------------

    def start(self) -> str:
        """Open the pty and run; returns the device path a driver opens."""
        s = self.settings
        if s.log_path is not None:
            self._log = s.log_path.open("ab")
        self._open_pty()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hpgl-cutter", daemon=True)
        self._thread.start()
        return str(s.link) if s.link else self.slave_path

    def _open_pty(self) -> None:
        # The host sets its own line discipline: XON/XOFF works only if it asks for it.
        self._pty = open_pty(xonxoff=False)
        self.slave_path = self._pty.slave_path
        link = self.settings.link
        if link is not None:
            tmp = link.with_name(link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.slave_path)
            tmp.replace(link)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._pty is not None:
            self._pty.close()
            self._pty = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def unplug(self) -> None:
        """Pull the cable: the host's reads and writes fail from now on."""
        with self._lock:
            if self._pty is not None:
                self._pty.close()
                self._pty = None
            if self.settings.link is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.settings.link.unlink()

    def replug(self) -> None:
        """Plug it back (a new device node, the same link), the buffer still intact."""
        with self._lock:
            if self._pty is None:
                self._open_pty()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until the line is quiet, no whole command is left and the last move is
        done."""
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        last = -1
        while time.monotonic() < deadline:
            with self._lock:
                buf = self._state.buffer
                # A tail without a terminator is not work: it waits for the rest.
                pending = b";" in buf or b"\n" in buf
                busy = pending or time.monotonic() < self._state.busy_until
                n = self.stats.received
            if n != last or busy:
                last = n
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.3:
                return True
            time.sleep(0.02)
        return False

    # --- the device ------------------------------------------------------------------

    def _host_ixon(self) -> bool:
        pty = self._pty
        if pty is None:
            return False
        try:
            return bool(termios.tcgetattr(pty._slave_fd)[0] & termios.IXON)
        except termios.error:
            return False

    def _run(self) -> None:
        s = self.settings
        bytes_per_s = s.baud / 10
        credit = 0.0
        last = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            credit = min(credit + (now - last) * bytes_per_s, max(64.0, bytes_per_s / 100))
            last = now
            with self._lock:
                self._execute(now)
                self._flow()
                pty = self._pty
                stopped = self._state.xoff and self._host_ixon()
                room = self._room_before_xoff()
            want = min(int(credit), room)
            if pty is None or stopped or want < 1:
                time.sleep(0.001)
                continue
            try:
                ready, _, _ = select.select([pty.master_fd], [], [], 0.002)
                if not ready:
                    continue
                data = os.read(pty.master_fd, want)
            except (OSError, ValueError):
                time.sleep(0.005)  # unplugged, or the host hung up: wait for a replug
                continue
            credit -= len(data)
            with self._lock:
                self._receive(data, now)

    def _room_before_xoff(self) -> int:
        """Bytes to take off the wire before looking at the XOFF mark again: a UART
        sees them one at a time, so its XOFF goes out at the mark, not after a burst.
        (Once XOFF is out, a host that honours it has stopped; one that does not
        keeps the wire full.)"""
        s, st = self.settings, self._state
        if s.flow != "xonxoff" or st.xoff:
            return 1 << 20
        return max(1, s.buffer_size - s.xoff_free - len(st.buffer) + 1)

    def _reply(self, text: str) -> None:
        pty = self._pty
        if pty is not None:
            with contextlib.suppress(OSError):
                os.write(pty.master_fd, text.encode("ascii"))

    def _flow(self) -> None:
        s, st = self.settings, self._state
        if s.flow != "xonxoff":
            return
        fill = len(st.buffer)
        if not st.xoff and s.buffer_size - fill < s.xoff_free:
            st.xoff = True
            self.stats.xoff_sent += 1
            self._reply(XOFF.decode())
        elif st.xoff and fill <= s.xon_fill:
            st.xoff = False
            self._reply(XON.decode())

    def _receive(self, data: bytes, now: float) -> None:
        s, st = self.settings, self._state
        self.stats.received += len(data)
        if not st.buffer:
            st.busy_until = max(st.busy_until, now)
        taken = bytearray()
        for byte in data:
            if st.esc or byte == ESC:
                st.esc.append(byte)
                self._device_control()
                continue
            if len(st.buffer) >= s.buffer_size:
                self.stats.overflow += 1
                continue
            st.buffer.append(byte)
            taken.append(byte)
        self.accepted += taken
        self.stats.accepted += len(taken)
        if self._log is not None and taken:
            self._log.write(taken)
            self._log.flush()
        self.stats.max_fill = max(self.stats.max_fill, len(st.buffer))

    def _device_control(self) -> None:
        """ESC . <letter> [parameters] [:] — handled as it arrives, never buffered."""
        st = self._state
        seq = bytes(st.esc)
        if len(seq) < 3:
            if len(seq) == 2 and seq[1:2] != b".":
                st.esc.clear()  # not a device-control sequence: drop the ESC
            return
        letter = chr(seq[2])
        takes_params = letter in "@HIMNPST"
        if takes_params and not seq.endswith(b":") and len(seq) < 40:
            return
        st.esc.clear()
        free = self.settings.buffer_size - len(st.buffer)
        if letter == "B":
            self.stats.queries += 1
            self._reply(f"{free}\r")
        elif letter == "L":
            self._reply(f"{self.settings.buffer_size}\r")
        elif letter == "O":
            empty = not st.buffer and time.monotonic() >= st.busy_until
            self._reply(f"{8 if empty else 0}\r")
        elif letter == "E":
            self._reply("0\r")
        elif letter == "K":
            st.buffer.clear()

    def _execute(self, now: float) -> None:
        """Run every command due by ``now``: the knife's own clock, which only runs
        ahead while there is work (an idle cutter does not bank time)."""
        st, s = self._state, self.settings
        while st.busy_until <= now and st.buffer:
            ends = [k for k in (st.buffer.find(b";"), st.buffer.find(b"\n")) if k >= 0]
            if not ends:
                return
            end = min(ends)
            command = bytes(st.buffer[:end]).strip()
            del st.buffer[: end + 1]
            st.busy_until += self._run_command(command) / s.time_scale

    def _run_command(self, command: bytes) -> float:
        st, s = self._state, self.settings
        if not command:
            return 0.0
        self.stats.commands += 1
        text = command.decode("ascii", "replace")
        if len(self.executed) < 100_000:
            self.executed.append(text)
        name, params = text[:2].upper(), text[2:]
        try:
            values = [float(v) for v in params.replace(" ", ",").split(",") if v.strip()]
        except ValueError:
            self.stats.errors += 1  # a garbled command (overflow, noise): a real cutter skips it
            return 0.0
        seconds = s.command_time_s
        if name == "IN":
            st.down, st.absolute = False, True
        elif name in ("PU", "PD", "PA", "PR"):
            if name == "PU":
                st.down = False
            elif name == "PD":
                st.down = True
            elif name == "PA":
                st.absolute = True
            else:
                st.absolute = False
            for k in range(0, len(values) - 1, 2):
                nx, ny = values[k], values[k + 1]
                if not st.absolute:
                    nx, ny = st.x + nx, st.y + ny
                mm = math.hypot(nx - st.x, ny - st.y) / s.steps_per_mm
                if st.down:
                    self.stats.pen_down_mm += mm
                seconds += mm / (s.cut_speed_mm_s if st.down else s.travel_speed_mm_s)
                st.x, st.y = nx, ny
        elif name == "OS":
            self._reply(f"{24 if not st.buffer else 16}\r")
        elif name == "OI":
            self._reply("FQ-CUTTER\r")
        return seconds


# --- ``fabqueue simulate cutter`` ---------------------------------------------------------


def settings_from_options(baud: int, options: list[str]) -> CutterSettings:
    s = CutterSettings(baud=baud)
    names = {
        "buffer": ("buffer_size", int),
        "flow": ("flow", str),
        "scale": ("time_scale", float),
        "speed": ("cut_speed_mm_s", float),
        "steps": ("steps_per_mm", float),
        "log": ("log_path", Path),
        "link": ("link", Path),
    }
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in names:
            raise ValueError(f"unknown option {option!r}; known: {', '.join(names)}")
        attr, kind = names[key]
        setattr(s, attr, kind(value))
    if s.flow not in ("xonxoff", "none"):
        raise ValueError("flow is xonxoff or none")
    return s


def serve_forever(args: Any) -> int:
    try:
        settings = settings_from_options(args.baud, list(args.option))
    except ValueError as exc:
        print(f"fabqueue simulate cutter: {exc}", file=sys.stderr)
        return 2
    emulator = HpglCutterEmulator(settings)
    path = emulator.start()
    print(f"HP-GL cutter on {path} ({settings.baud} baud, {settings.buffer_size}-byte buffer, "
          f"flow {settings.flow}); Ctrl-C to stop", flush=True)  # fmt: skip
    # An event, not KeyboardInterrupt: a signal that lands while the main thread is in
    # C code or a finally block must still end the emulator (as the Marlin one does).
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        done.wait()
    finally:
        emulator.stop()
        st = emulator.stats
        print(f"received {st.received} B, accepted {st.accepted} B, overflow {st.overflow} B, "
              f"{st.commands} commands, {st.pen_down_mm / 1000:.2f} m cut")  # fmt: skip
    return 0
