"""pyserial behind an async face: a reader thread feeds lines to the event loop, writes
run in a worker thread. The event loop never blocks on the device."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

import serial

from drivers.base import DriverUnavailable


class SerialTransport:
    def __init__(
        self,
        port: str,
        baudrate: int,
        *,
        xonxoff: bool = False,
        rtscts: bool = False,
        low_latency: bool = False,
        open_fn: Callable[..., serial.Serial] = serial.serial_for_url,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.xonxoff = xonxoff
        self.rtscts = rtscts
        self.low_latency = low_latency
        """Ask the kernel to hand over received bytes at once (FTDI adapters otherwise
        wait up to 16 ms: a ceiling of ~60 round trips a second)."""
        self._open_fn = open_fn
        self._serial: serial.Serial | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._buffer = bytearray()
        self._reader: threading.Thread | None = None
        self._closing = threading.Event()
        self._write_lock = asyncio.Lock()
        self.lost: asyncio.Event = asyncio.Event()
        """Set when the device went away (unplugged, pty closed)."""
        self.error: str | None = None

    @property
    def is_open(self) -> bool:
        return self._serial is not None and not self.lost.is_set()

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._serial = await asyncio.to_thread(
                self._open_fn,
                self.port,
                baudrate=self.baudrate,
                timeout=0.1,
                write_timeout=10,
                xonxoff=self.xonxoff,
                rtscts=self.rtscts,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DriverUnavailable(f"cannot open {self.port}: {exc}") from exc
        if self.low_latency:
            # Linux serial ports only; a pty or a network port has nothing to set.
            with contextlib.suppress(AttributeError, NotImplementedError, ValueError, OSError):
                await asyncio.to_thread(self._serial.set_low_latency_mode, True)
        self._closing.clear()
        self.lost.clear()
        self._chunks = asyncio.Queue()
        self._buffer.clear()
        self._reader = threading.Thread(
            target=self._read_loop, name=f"serial-{self.port}", daemon=True
        )
        self._reader.start()

    def _read_loop(self) -> None:
        ser = self._serial
        loop = self._loop
        assert ser is not None and loop is not None
        while not self._closing.is_set():
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, TypeError) as exc:
                if not self._closing.is_set():
                    self.error = str(exc) or type(exc).__name__
                    loop.call_soon_threadsafe(self._on_lost)
                return
            if data:
                loop.call_soon_threadsafe(self._chunks.put_nowait, data)

    def _on_lost(self) -> None:
        self.lost.set()
        self._chunks.put_nowait(None)

    async def readline(self, timeout: float | None = None) -> bytes | None:
        """The next line (with its newline), or None when ``timeout`` passes first.
        Raises DriverUnavailable when the device is gone."""
        while True:
            nl = self._buffer.find(b"\n")
            if nl >= 0:
                line = bytes(self._buffer[: nl + 1])
                del self._buffer[: nl + 1]
                return line
            if self.lost.is_set() and self._chunks.empty():
                raise DriverUnavailable(f"{self.port} went away: {self.error}")
            try:
                # Not wait_for: on 3.11 it can swallow a cancellation that races with
                # the chunk's arrival (the reading task would then never stop).
                async with asyncio.timeout(timeout):
                    chunk = await self._chunks.get()
            except TimeoutError:
                return None
            if chunk is None:
                continue
            self._buffer.extend(chunk)

    async def write(self, data: bytes) -> None:
        ser = self._serial
        if ser is None or self.lost.is_set():
            raise DriverUnavailable(f"{self.port} is not open")
        async with self._write_lock:
            try:
                await asyncio.to_thread(ser.write, data)
            except (serial.SerialException, OSError) as exc:
                self.error = str(exc)
                self._on_lost()
                raise DriverUnavailable(f"writing to {self.port} failed: {exc}") from exc

    async def close(self) -> None:
        self._closing.set()
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                await asyncio.to_thread(ser.close)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 2.0)
            self._reader = None
