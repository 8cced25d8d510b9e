"""Serial lines for byte-stream protocols (HP-GL): replies ended by CR, writes that may
wait as long as flow control holds them, and a way to abandon such a write."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Protocol

import serial

from drivers.base import DriverUnavailable
from drivers.transports.serial import SerialTransport


class Port(Protocol):
    """What the driver needs of a line: a serial port or a write-only device file."""

    port: str
    lost: asyncio.Event
    error: str | None
    sink: bytearray | None

    @property
    def is_open(self) -> bool: ...
    async def open(self) -> None: ...
    async def write(self, data: bytes) -> None: ...
    async def read_reply(self, timeout: float) -> bytes | None: ...
    def drop_input(self) -> None: ...
    def abort_write(self) -> None: ...
    async def discard_output(self) -> None: ...
    async def drain(self) -> None: ...
    async def close(self) -> None: ...


class ByteLine(SerialTransport):
    """:class:`SerialTransport` plus replies ended by CR, unbounded writes, aborts."""

    sink: bytearray | None = None
    """When set, every byte the OS took is appended here, by the writing thread itself:
    a write abandoned by a cancelled task is still accounted for when it lands."""

    async def open(self) -> None:
        await super().open()
        ser = self._serial
        if ser is not None:
            ser.write_timeout = None  # flow control may hold a write for a long cut

    _writing = False

    def _write_counted(self, ser: serial.Serial, data: bytes) -> None:
        # pyserial's abort pipe keeps a token when no write was running: left there, it
        # would cut the next write short (and make it report 0 bytes written).
        abort_pipe = getattr(ser, "pipe_abort_write_r", None)
        if isinstance(abort_pipe, int):
            with contextlib.suppress(OSError):
                os.read(abort_pipe, 1000)
        self._writing = True
        try:
            n = ser.write(data)
        finally:
            self._writing = False
        if self.sink is not None:
            self.sink += data[: n if isinstance(n, int) else len(data)]

    async def write(self, data: bytes) -> None:
        ser = self._serial
        if ser is None or self.lost.is_set():
            raise DriverUnavailable(f"{self.port} is not open")
        async with self._write_lock:
            try:
                await asyncio.to_thread(self._write_counted, ser, data)
            except (serial.SerialException, OSError) as exc:
                self.error = str(exc)
                self._on_lost()
                raise DriverUnavailable(f"writing to {self.port} failed: {exc}") from exc

    async def read_reply(self, timeout: float) -> bytes | None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for sep in (b"\r", b"\n"):
                k = self._buffer.find(sep)
                if k >= 0:
                    reply = bytes(self._buffer[:k]).replace(b"\x11", b"").replace(b"\x13", b"")
                    del self._buffer[: k + 1]
                    if reply.strip():
                        return reply.strip()
                    break
            else:
                if self.lost.is_set() and self._chunks.empty():
                    raise DriverUnavailable(f"{self.port} went away: {self.error}")
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return None
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a
                # cancellation that races with its timeout, and close() then hangs.
                try:
                    async with asyncio.timeout(left):
                        chunk = await self._chunks.get()
                except TimeoutError:
                    return None
                if chunk is not None:
                    self._buffer.extend(chunk)
                continue

    def drop_input(self) -> None:
        self._buffer.clear()
        while not self._chunks.empty():
            self._chunks.get_nowait()

    def abort_write(self) -> None:
        ser = self._serial
        if ser is not None and self._writing:
            with contextlib.suppress(Exception):
                ser.cancel_write()

    async def discard_output(self) -> None:
        ser = self._serial
        if ser is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ser.reset_output_buffer)

    async def drain(self) -> None:
        ser = self._serial
        if ser is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ser.flush)
