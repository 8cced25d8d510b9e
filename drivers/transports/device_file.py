"""A write-only device file: cutters that enumerate as USB printers (``/dev/usb/lp0``).

Roland's GS-24/GX-24 and Graphtec's CE series show up on Linux as USB printer-class
devices (research §2): pyserial cannot open them (no termios), nothing can be read
back, and the pacing is the USB bus's own: the device refuses data while its buffer
is full, so a write simply waits. Writes run in a thread on a non-blocking descriptor
with a wake-up pipe, so a held write can be abandoned on cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select

from drivers.base import DriverUnavailable


class DeviceFile:
    def __init__(self, path: str) -> None:
        self.port = path
        self._fd: int | None = None
        self._abort_r, self._abort_w = -1, -1
        self.lost: asyncio.Event = asyncio.Event()
        self.error: str | None = None
        self.sink: bytearray | None = None
        """Every byte the device took is appended here (by the writing thread)."""

    @property
    def is_open(self) -> bool:
        return self._fd is not None and not self.lost.is_set()

    async def open(self) -> None:
        try:
            self._fd = os.open(self.port, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise DriverUnavailable(f"cannot open {self.port}: {exc.strerror}") from exc
        self._abort_r, self._abort_w = os.pipe()
        os.set_blocking(self._abort_r, False)
        self.lost.clear()

    def _write_all(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise OSError(errno.EBADF, "closed")
        with contextlib.suppress(BlockingIOError):
            os.read(self._abort_r, 64)  # an abort meant for an earlier write
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
                if self.sink is not None:
                    self.sink += view[:n]
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            abort, _ready, _ = select.select([self._abort_r], [fd], [])
            if abort:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._abort_r, 64)
                return

    async def write(self, data: bytes) -> None:
        if not self.is_open:
            raise DriverUnavailable(f"{self.port} is not open")
        try:
            await asyncio.to_thread(self._write_all, data)
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.lost.set()
            raise DriverUnavailable(f"writing to {self.port} failed: {self.error}") from exc

    async def read_reply(self, timeout: float) -> bytes | None:
        raise DriverUnavailable(
            f"{self.port} is write-only (a USB printer-class device): it cannot answer "
            'ESC.B; use pacing = "none", the USB bus paces the data'
        )

    def drop_input(self) -> None:
        pass

    def abort_write(self) -> None:
        if self._abort_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._abort_w, b"x")

    async def discard_output(self) -> None:
        pass

    async def drain(self) -> None:
        pass

    async def close(self) -> None:
        self.abort_write()
        for fd in (self._fd, self._abort_r, self._abort_w):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = None
        self._abort_r = self._abort_w = -1
