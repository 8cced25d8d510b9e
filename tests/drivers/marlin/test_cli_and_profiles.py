"""``fabqueue simulate marlin`` as a user runs it, and the example printer profiles."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import serial

from drivers.marlin.config import MarlinSerialConfig
from drivers.marlin.protocol import frame
from drivers.octoprint.driver import OctoPrintConfig
from fabqueue.profiles.loader import ProfileErrors, load_profiles
from tests.support.factories import REPO

EXAMPLES = ["prusa-mk3s-usb", "ender3-octoprint"]


def test_simulate_marlin_prints_a_path_a_serial_port_can_open() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fabqueue",
            "simulate",
            "marlin",
            "--baud",
            "250000",
            "-o",
            "advanced_ok=false",
            "-o",
            "speed=10",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/pts/")
        with serial.Serial(path, 250000, timeout=2) as port:
            port.write(frame(0, b"M110 N0") + frame(1, b"M115"))
            replies: list[str] = []
            while replies.count("ok") < 2:
                line = port.readline().decode().strip()
                assert line, f"no more replies; got {replies}"
                replies.append(line)
        assert "ok" in replies  # advanced_ok=false: a plain ok
        assert any(r.startswith("FIRMWARE_NAME:Marlin") for r in replies)
        assert "Cap:AUTOREPORT_TEMP:1" in replies
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["executed"] == 2 and stats["lines_in"] == 2


def test_simulate_marlin_refuses_an_unknown_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fabqueue", "simulate", "marlin", "-o", "sped=10"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown option 'sped'" in result.stderr


def test_example_profiles_load(tmp_path: Path) -> None:
    root = tmp_path / "profiles"
    (root / "machines").mkdir(parents=True)
    shutil.copytree(REPO / "profiles" / "materials", root / "materials")
    for name in EXAMPLES:
        shutil.copy(REPO / "profiles" / "examples" / "machines" / f"{name}.toml", root / "machines")
    profiles = load_profiles(root)
    marlin = profiles.machines["prusa-mk3s-usb"].driver_config
    assert isinstance(marlin, MarlinSerialConfig)
    assert marlin.port.startswith("/dev/serial/by-id/")
    assert "G28 X Y" in marlin.recover_script
    octo = profiles.machines["ender3-octoprint"].driver_config
    assert isinstance(octo, OctoPrintConfig)
    assert octo.api_key_env == "FABQUEUE_OCTOPRINT_ENDER3_KEY"


@pytest.mark.parametrize(
    ("driver", "field", "message"),
    [
        (
            'type = "marlin_serial"\nport = "/dev/ttyACM0"\npause_script = "G1 Z{height}"',
            "pause_script",
            "unknown placeholder {height}",
        ),
        ('type = "marlin_serial"\nport = "/dev/ttyACM0"\nbaud = 0', "baud", "greater than 0"),
        ('type = "marlin_serial"\nport = "/dev/ttyACM0"\nwindow = 4', "window", "Extra inputs"),
        ('type = "octoprint"\nurl = "octopi.local"', "url", "http:// or https://"),
        (
            'type = "octoprint"\nurl = "http://o"\napi_key_env = "abc-123 secret"',
            "api_key_env",
            "pattern",
        ),
    ],
)
def test_bad_driver_tables_are_reported(
    tmp_path: Path, driver: str, field: str, message: str
) -> None:
    root = tmp_path / "profiles"
    (root / "machines").mkdir(parents=True)
    (root / "materials").mkdir()
    (root / "machines" / "p.toml").write_text(
        f'name = "P"\nkind = "fdm_printer"\n[driver]\n{driver}\n'
    )
    with pytest.raises(ProfileErrors) as caught:
        load_profiles(root)
    errors = [e for e in caught.value.errors if e.field == f"driver.{field}"]
    assert errors and message in errors[0].message, caught.value.errors
