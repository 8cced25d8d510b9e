"""A Marlin printer behind a real pseudo-terminal, for our driver, OctoPrint or a terminal.

The serial line is emulated as well as the firmware: bytes cross it at the baud rate
(8N1, ten bits a byte) in both directions, the firmware reads them into a small receive
buffer only between commands (as Marlin's main loop does), and after a bad line it drops
everything in that buffer — including the head of a line still arriving, whose tail then
reaches it alone (Marlin's ``gcode_line_error``). Faults are scripted: bytes garbled or
dropped on the way in (the printer asks for a resend), replies garbled on the way out,
``echo:`` noise, a disconnect, a kill, a hang.

``fabqueue simulate marlin [--baud B] [-o key=value …]`` runs one and prints its path.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import random
import select
import signal
import sys
import threading
import time
import types
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from drivers.emulators.marlin_firmware import Firmware, FirmwareOptions
from drivers.transports.pty import PtyPair, open_pty


@dataclass
class MarlinOptions(FirmwareOptions):
    baud: int = 115200
    rx_buffer: int = 128
    """Bytes the firmware's serial receive buffer holds; more are lost."""
    drain_partial: bool = True
    """After a bad line, drop the bytes already received of the next line too (Marlin)."""
    resend_rate: float = 0.0
    """Chance, per line received, that one byte of it arrives garbled."""
    drop_rate: float = 0.0
    """Chance, per line received, that one byte of it is lost."""
    corrupt_rate: float = 0.0
    """Chance, per line sent, that one byte of it arrives garbled at the host."""
    disconnect_at_line: int | None = None
    """Vanish (the pty closes) once this many commands have run."""
    reconnect_after_s: float | None = None
    """Come back (new pty, freshly booted firmware) this long after vanishing."""
    link: str | None = None
    """A symlink kept pointing at the current pty (like /dev/serial/by-id/...)."""


@dataclass
class LinkStats:
    bytes_in: int = 0
    lines_in: int = 0
    bytes_out: int = 0
    garbled_in: int = 0
    dropped_in: int = 0
    garbled_out: int = 0
    drained_bytes: int = 0
    overflow_bytes: int = 0
    first_line_at: float | None = None
    last_line_at: float | None = None


@dataclass
class _Segment:
    first_at: float
    last_at: float
    data: bytes


class MarlinEmulator:
    def __init__(self, options: MarlinOptions | None = None) -> None:
        self.options = options or MarlinOptions()
        self.byte_s = 10.0 / self.options.baud
        self.stats = LinkStats()
        self.firmware = Firmware(self.options, self._emit)
        # One generator per direction: the order in which lines and replies interleave
        # depends on timing, and sharing one would make a seeded run unrepeatable.
        self._rng_in = random.Random(self.options.seed)
        self._rng_out = random.Random(self.options.seed * 104729 + 3)
        self._lock = threading.Condition()
        self._out: deque[bytes] = deque()
        self._out_ready = threading.Condition()
        self._wire: deque[_Segment] = deque()
        self._rx: deque[bytes] = deque()
        self._rx_bytes = 0
        self._rx_carry = b""
        self._pty: PtyPair | None = None
        self._partial = b""
        self._partial_first = 0.0
        self._in_free = 0.0
        self._stopping = False
        self._connected = False
        self._generation = 0
        self._threads: list[threading.Thread] = []
        self._disconnect_fired = False
        self.path = ""

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> str:
        """Open the pty, boot the firmware; return the path a driver should open."""
        self._connect()
        for target, name in ((self._run_firmware, "fw"), (self._run_writer, "tx")):
            t = threading.Thread(target=target, name=f"marlin-emu-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self.path

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            self._lock.notify_all()
        with self._out_ready:
            self._out_ready.notify_all()
        self._disconnect()
        for t in self._threads:
            t.join(2.0)
        if self.options.link:
            with contextlib.suppress(OSError):
                Path(self.options.link).unlink()

    def __enter__(self) -> MarlinEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def executed(self) -> list[str]:
        return self.firmware.executed

    @property
    def connected(self) -> bool:
        return self._connected

    def noise_line(self, data: bytes) -> None:
        """Line noise that happens to spell a whole command (``G4 P1\\n``, no number): it
        reaches the firmware after what is already on the wire, as if the host sent it."""
        with self._lock:
            now = time.monotonic()
            self._wire.append(_Segment(now, now, data))
            self._lock.notify_all()

    def reset(self) -> None:
        """Press the printer's reset button (after a kill, say)."""
        with self._lock:
            self._wire.clear()
            self._rx.clear()
            self._rx_bytes = 0
            self._rx_carry = b""
            self.firmware.boot(time.monotonic())
            self.firmware.boot_messages()
            self._lock.notify_all()

    def _connect(self) -> None:
        pair = open_pty()
        flags = fcntl.fcntl(pair.master_fd, fcntl.F_GETFL)
        fcntl.fcntl(pair.master_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        with self._lock:
            self._pty = pair
            self._generation += 1
            self._connected = True
            self._partial = b""
            self._wire.clear()
            self._rx.clear()
            self._rx_bytes = 0
            now = time.monotonic()
            self._in_free = now
            self.firmware.boot(now)
            self.firmware.boot_messages()
            self._lock.notify_all()
        self.path = pair.slave_path
        if self.options.link:
            tmp = Path(f"{self.options.link}.tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(pair.slave_path)
            tmp.replace(self.options.link)
            self.path = self.options.link
        reader = threading.Thread(
            target=self._run_reader, args=(pair, self._generation), daemon=True
        )
        reader.start()
        self._threads.append(reader)

    def _disconnect(self) -> None:
        with self._lock:
            pair, self._pty = self._pty, None
            self._connected = False
            self._wire.clear()
            self._rx.clear()
            self._rx_bytes = 0
        if pair is not None:
            pair.close()

    def _vanish(self) -> None:
        self._disconnect()
        delay = self.options.reconnect_after_s
        if delay is not None and not self._stopping:
            timer = threading.Timer(delay, self._come_back)
            timer.daemon = True
            timer.start()

    def _come_back(self) -> None:
        if not self._stopping:
            self._connect()

    # --- bytes in -----------------------------------------------------------------------

    def _run_reader(self, pair: PtyPair, generation: int) -> None:
        while not self._stopping and self._generation == generation:
            try:
                ready, _, _ = select.select([pair.master_fd], [], [], 0.1)
                if not ready:
                    continue
                chunk = os.read(pair.master_fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self._arrive(chunk, time.monotonic())

    def _arrive(self, chunk: bytes, t_read: float) -> None:
        with self._lock:
            start = max(t_read, self._in_free)
            self.stats.bytes_in += len(chunk)
            pos = 0
            while True:
                nl = chunk.find(b"\n", pos)
                if nl < 0:
                    if not self._partial:
                        self._partial_first = start + (pos + 1) * self.byte_s
                    self._partial += chunk[pos:]
                    break
                if not self._partial:
                    self._partial_first = start + (pos + 1) * self.byte_s
                data = self._partial + chunk[pos : nl + 1]
                self._partial = b""
                self._wire.append(
                    _Segment(self._partial_first, start + (nl + 1) * self.byte_s, data)
                )
                pos = nl + 1
            self._in_free = start + len(chunk) * self.byte_s
            self._lock.notify_all()

    def _receive_due(self, now: float) -> None:
        """Lines whose last byte has crossed the wire land in the receive buffer."""
        while self._wire and self._wire[0].last_at <= now:
            seg = self._wire.popleft()
            data = self._rx_carry + seg.data
            self._rx_carry = b""
            if self.options.emergency_parser and b"M112" in data and not self.firmware.silent:
                # The emergency parser acts as bytes arrive, before any queue.
                self.firmware.kill(None)
                continue
            # Had this thread run on time, the firmware would have read the earlier lines
            # already (if it was between commands): do that before judging the room left.
            self._intake(now)
            room = self.options.rx_buffer - self._rx_bytes
            if len(data) > room:
                # Overflow: what does not fit is lost, newline included.
                self.stats.overflow_bytes += len(data) - max(0, room)
                self._rx_carry = data[: max(0, room)]
                continue
            self._rx.append(data)
            self._rx_bytes += len(data)

    def _drain(self, now: float) -> None:
        """Marlin empties its receive buffer after refusing a line."""
        self.stats.drained_bytes += self._rx_bytes
        self._rx.clear()
        self._rx_bytes = 0
        self._rx_carry = b""
        if self.options.drain_partial and self._wire and self._wire[0].first_at <= now:
            seg = self._wire[0]
            got = min(len(seg.data) - 1, int((now - seg.first_at) / self.byte_s) + 1)
            if got > 0:
                self.stats.drained_bytes += got
                seg.data = seg.data[got:]
                seg.first_at += got * self.byte_s

    def _line_faults(self, data: bytes) -> bytes:
        opts = self.options
        if opts.resend_rate and self._rng_in.random() < opts.resend_rate and len(data) > 2:
            i = self._rng_in.randrange(len(data) - 1)
            garbled = self._rng_in.choice(b"0123456789ABGMXYZ*. ")
            if garbled == data[i]:
                garbled = ord("#")
            data = data[:i] + bytes([garbled]) + data[i + 1 :]
            self.stats.garbled_in += 1
        if opts.drop_rate and self._rng_in.random() < opts.drop_rate and len(data) > 2:
            i = self._rng_in.randrange(len(data) - 1)
            data = data[:i] + data[i + 1 :]
            self.stats.dropped_in += 1
        return data

    # --- the firmware's main loop -----------------------------------------------------------

    def _run_firmware(self) -> None:
        with self._lock:
            while not self._stopping:
                now = time.monotonic()
                due = self._turn(now)
                wake = [d for d in (due, self._wire[0].last_at if self._wire else None) if d]
                timeout = max(0.0, min(wake) - time.monotonic()) if wake else 0.5
                if timeout > 0:
                    self._lock.wait(min(timeout, 0.5))

    def _turn(self, now: float) -> float | None:
        fw = self.firmware
        due: float | None = None
        for _ in range(64):
            self._receive_due(now)
            self._intake(now)
            before = fw.executed_count
            due = fw.step(now)
            if fw.executed_count != before:
                self._check_disconnect()
            if due is None or due > now or not self._connected:
                break
        return due

    def _intake(self, now: float) -> None:
        """Between commands the firmware moves whole lines from its receive buffer into
        its command ring, checking each; a bad one empties the buffer."""
        fw = self.firmware
        while fw.reading and self._rx:
            data = self._rx.popleft()
            self._rx_bytes -= len(data)
            self.stats.lines_in += 1
            if self.stats.first_line_at is None:
                self.stats.first_line_at = now
            self.stats.last_line_at = now
            if not fw.take_line(self._line_faults(data)):
                self._drain(now)

    def _check_disconnect(self) -> None:
        at = self.options.disconnect_at_line
        if at is not None and not self._disconnect_fired and self.firmware.executed_count >= at:
            self._disconnect_fired = True
            self._out.clear()
            threading.Thread(target=self._vanish, daemon=True).start()
            self._connected = False

    # --- bytes out ---------------------------------------------------------------------------

    def _emit(self, line: str) -> None:
        if not self._connected:
            return
        data = line.encode("latin-1", "replace") + b"\n"
        opts = self.options
        if opts.corrupt_rate and self._rng_out.random() < opts.corrupt_rate and len(data) > 1:
            i = self._rng_out.randrange(len(data) - 1)
            data = data[:i] + bytes([self._rng_out.choice(b"#~!0123456789 ")]) + data[i + 1 :]
            self.stats.garbled_out += 1
        with self._out_ready:
            self._out.append(data)
            self._out_ready.notify()

    def _run_writer(self) -> None:
        free_at = 0.0
        while not self._stopping:
            with self._out_ready:
                while not self._out and not self._stopping:
                    self._out_ready.wait(0.5)
                if self._stopping:
                    return
                data = self._out.popleft()
            now = time.monotonic()
            free_at = max(free_at, now) + len(data) * self.byte_s
            delay = free_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pair = self._pty
            if pair is None:
                continue
            try:
                os.write(pair.master_fd, data)
                self.stats.bytes_out += len(data)
            except OSError as exc:
                # Nobody reading (a UART's bytes are simply lost) or the pty is gone.
                if exc.errno not in (errno.EAGAIN, errno.EIO, errno.EBADF):
                    raise


# --- command line ------------------------------------------------------------------------


def options_from(pairs: list[str], baud: int) -> MarlinOptions:
    """``["speed=10", "advanced_ok=false"]`` -> options; raises ValueError on a bad one."""
    hints = get_type_hints(MarlinOptions)
    values: dict[str, Any] = {"baud": baud}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in hints:
            names = ", ".join(f.name for f in dataclasses.fields(MarlinOptions))
            raise ValueError(f"unknown option {key!r}; known: {names}")
        kind = hints[key]
        if isinstance(kind, types.UnionType):  # "int | None"
            kind = next(a for a in kind.__args__ if a is not type(None))
        if raw.lower() == "none":
            values[key] = None
        elif kind is bool:
            values[key] = raw.lower() in ("1", "true", "yes", "on")
        else:
            values[key] = kind(raw)
    return MarlinOptions(**values)


def serve_forever(args: argparse.Namespace) -> int:
    try:
        options = options_from(list(args.option), args.baud)
    except (ValueError, TypeError) as exc:
        print(f"fabqueue simulate marlin: {exc}", file=sys.stderr)
        return 2
    emulator = MarlinEmulator(options)
    path = emulator.start()
    print(path, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    emulator.stop()
    stats = dataclasses.asdict(emulator.stats)
    stats["executed"] = emulator.firmware.executed_count
    print(json.dumps(stats), flush=True)
    return 0
