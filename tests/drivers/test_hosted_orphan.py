"""A server killed with -9 whose pipe to its driver process lives on in another process:
the driver process still ends, and lets go of the printer's port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.factories import REPO
from tests.support.marlin import emulator

pytestmark = pytest.mark.slow


SERVER_WITH_A_COPY_OF_THE_PIPE = """
import asyncio, os, sys, time
from drivers.hosted import in_own_process
from drivers.marlin.driver import MarlinSerialDriver
from tests.support.marlin import Watched, fast_config

async def main():
    w = Watched(fast_config(sys.argv[1], 250000), in_own_process(MarlinSerialDriver))
    await w.driver.connect()
    await w.idle(within=20)
    if os.fork() == 0:  # holds a copy of the server's end of the pipe, and outlives it
        time.sleep(60)
        os._exit(0)
    print(w.driver.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_the_driver_process_ends_when_the_server_is_killed_and_its_pipe_lives_on(
    tmp_path: Path,
) -> None:
    """The pipe's end is not seen when another process holds a copy of it: the driver
    process also notices that its server is gone, and lets go of the port."""
    with emulator(baud=250000, speed=200.0) as emu:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER_WITH_A_COPY_OF_THE_PIPE, emu.path],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            pid = int(server.stdout.readline())
            assert Path(f"/proc/{pid}/comm").read_text().startswith("fq-drv-")
            server.kill()
            server.wait(10)
            for _ in range(200):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the driver process outlived its server")
        finally:
            server.kill()
            subprocess.run(["pkill", "-KILL", "-f", "outlives it"], check=False)
