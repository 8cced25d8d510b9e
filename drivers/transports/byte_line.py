"""Serial lines for byte-stream protocols (HP-GL): replies ended by CR, writes that may
wait as long as flow control holds them, and a way to abandon such a write."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from drivers.base import DriverUnavailable
from drivers.transports.serial import SerialTransport


class Port(Protocol):
    """What the driver needs of a line: a serial port or a write-only device file."""

    port: str
    lost: asyncio.Event
    error: str | None

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

    async def open(self) -> None:
        await super().open()
        ser = self._serial
        if ser is not None:
            ser.write_timeout = None  # flow control may hold a write for a long cut

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
                try:
                    chunk = await asyncio.wait_for(self._chunks.get(), left)
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
        if ser is not None:
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
