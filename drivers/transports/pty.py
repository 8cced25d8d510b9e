"""Pseudo-terminals: a real serial line for emulators and tests, with no hardware.

The emulator keeps the master side; drivers (ours, OctoPrint's) open the slave path
exactly as they would open ``/dev/ttyUSB0``. A pty has no baud rate of its own:
emulators that must behave like a real line pace their bytes themselves.
"""

from __future__ import annotations

import contextlib
import os
import termios
import tty
from dataclasses import dataclass


@dataclass
class PtyPair:
    master_fd: int
    slave_path: str
    _slave_fd: int

    def close(self) -> None:
        for fd in (self.master_fd, self._slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def open_pty(*, xonxoff: bool = False) -> PtyPair:
    """A raw pty pair. The slave stays open here too, so the line does not hang up
    between a driver closing and reopening it (as a USB adapter's would not)."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    if xonxoff:
        # Software flow control is done by the slave's line discipline: XOFF written
        # by the emulator (master) stops the slave's output to it, like a UART's.
        attrs = termios.tcgetattr(slave)
        attrs[0] |= termios.IXON
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return PtyPair(master_fd=master, slave_path=os.ttyname(slave), _slave_fd=slave)
