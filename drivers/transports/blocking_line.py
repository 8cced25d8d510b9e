"""A serial line for a thread that owns it: blocking reads of whole lines, blocking writes.

The Marlin driver streams from its own thread (see :mod:`drivers.marlin.driver`): each
reply is read, acted on and answered by the same thread, with no hop through an event
loop or a thread pool. A hop costs little on an idle machine; on a busy one each is a
wait for the interpreter lock or for a loop stuck in someone else's work, and the
printer starves (runs stalled 20-390 ms while the server analysed uploads).

``wake()`` (from any thread) makes a waiting ``readline`` return at once, so orders from
the event loop are acted on without waiting for the next reply.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable

import serial

from drivers.base import DriverUnavailable

_WRITE_TIMEOUT_S = 10.0
_POLL_S = 0.01
"""Read timeout for ports without a file descriptor to wait on (``loop://`` and such)."""


class BlockingLine:
    def __init__(
        self,
        port: str,
        baudrate: int,
        *,
        low_latency: bool = False,
        open_fn: Callable[..., serial.Serial] = serial.serial_for_url,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.low_latency = low_latency
        self._open_fn = open_fn
        self._serial: serial.Serial | None = None
        self._fd: int | None = None
        self._buffer = bytearray()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def open(self) -> None:
        try:
            ser = self._open_fn(self.port, baudrate=self.baudrate, timeout=0, write_timeout=10)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DriverUnavailable(f"cannot open {self.port}: {exc}") from exc
        if self.low_latency:
            # FTDI adapters otherwise hold received bytes up to 16 ms. Linux serial ports
            # only; a pty or a network port has nothing to set.
            with contextlib.suppress(AttributeError, NotImplementedError, ValueError, OSError):
                ser.set_low_latency_mode(True)
        try:
            self._fd = ser.fileno()
        except (AttributeError, NotImplementedError, OSError, ValueError):
            self._fd = None
            ser.timeout = _POLL_S
        self._serial = ser
        self._buffer.clear()

    def wake(self) -> None:
        """Make a waiting ``readline`` return None now (thread-safe)."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    def readline(self, timeout: float) -> bytes | None:
        """The next line (with its newline); None once ``timeout`` passes or on ``wake``.
        Raises DriverUnavailable when the device is gone."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            nl = self._buffer.find(b"\n")
            if nl >= 0:
                line = bytes(self._buffer[: nl + 1])
                del self._buffer[: nl + 1]
                return line
            remaining = deadline - time.monotonic()
            if remaining <= 0.0 or not self._fill(remaining):
                return None

    def _fill(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for bytes; False when woken or out of time."""
        ser = self._serial
        if ser is None:
            raise DriverUnavailable(f"{self.port} is not open")
        fd = self._fd
        try:
            if fd is None:
                data = ser.read(max(1, ser.in_waiting))
            else:
                # One wait and one read of the descriptor itself: each call that lets go
                # of the interpreter lock must take it back, a wait of up to the switch
                # interval when other threads compute (pyserial's read adds a second
                # select and an ioctl).
                ready, _, _ = select.select([fd, self._wake_r], [], [], timeout)
                if self._wake_r in ready:
                    self._drain_wakes()
                    return False
                if not ready:
                    return False
                data = os.read(fd, 4096)
                if not data:
                    # Readable and nothing there: the other end hung up.
                    raise DriverUnavailable(f"{self.port} went away: end of file")
        except BlockingIOError:
            return True
        except (serial.SerialException, OSError, TypeError, ValueError) as exc:
            raise DriverUnavailable(f"{self.port} went away: {exc or type(exc).__name__}") from exc
        self._buffer.extend(data)
        return True

    def _drain_wakes(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_r, 64):
                pass

    def write(self, data: bytes) -> None:
        ser = self._serial
        if ser is None:
            raise DriverUnavailable(f"{self.port} is not open")
        try:
            if self._fd is None:
                ser.write(data)
            else:
                self._write_fd(self._fd, data)
        except (serial.SerialException, OSError) as exc:
            raise DriverUnavailable(f"writing to {self.port} failed: {exc}") from exc

    def _write_fd(self, fd: int, data: bytes) -> None:
        """All of ``data`` to the (non-blocking) descriptor: usually one call."""
        view = memoryview(data)
        deadline = time.monotonic() + _WRITE_TIMEOUT_S
        while view:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(fd, view) :]
            if not view:
                return
            left = deadline - time.monotonic()
            if left <= 0.0:
                raise OSError(f"nothing could be written for {_WRITE_TIMEOUT_S:.0f} s")
            select.select([], [fd], [], left)

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                ser.close()

    def dispose(self) -> None:
        """Close the port and the wake-up pipe (the object is not used again)."""
        self.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
