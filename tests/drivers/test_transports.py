"""The serial transport over a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import os

import pytest

from drivers.base import DriverUnavailable
from drivers.transports.pty import open_pty
from drivers.transports.serial import SerialTransport

pytestmark = pytest.mark.asyncio


async def test_lines_both_ways_and_partial_reads() -> None:
    pair = open_pty()
    t = SerialTransport(pair.slave_path, 115200)
    await t.open()
    try:
        await t.write(b"M105\n")
        got = await asyncio.to_thread(os.read, pair.master_fd, 100)
        assert got == b"M105\n"
        os.write(pair.master_fd, b"ok T:21")
        assert await t.readline(timeout=0.2) is None  # no newline yet
        os.write(pair.master_fd, b".0\nok\n")
        assert await t.readline(timeout=2) == b"ok T:21.0\n"
        assert await t.readline(timeout=2) == b"ok\n"
    finally:
        await t.close()
        pair.close()


async def test_open_missing_device_is_unavailable() -> None:
    t = SerialTransport("/dev/does-not-exist", 115200)
    with pytest.raises(DriverUnavailable):
        await t.open()


async def test_device_vanishing_is_reported() -> None:
    pair = open_pty()
    t = SerialTransport(pair.slave_path, 115200)
    await t.open()
    try:
        pair.close()  # the cable is pulled
        await asyncio.wait_for(t.lost.wait(), 5)
        with pytest.raises(DriverUnavailable):
            await t.readline(timeout=1)
    finally:
        await t.close()
