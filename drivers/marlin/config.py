"""The ``[driver]`` table of a Marlin printer's profile, and the default scripts.

Scripts are G-code templates; ``{x}``, ``{y}``, ``{z}``, ``{e}``, ``{f}``, ``{hotend}``,
``{bed}`` and ``{fan}`` are filled with where the file had taken the printer (with a
format, e.g. ``G1 Z{z:.2f}``). Unknown placeholders are refused when the profile loads.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from drivers.base import DriverConfig
from drivers.marlin.state import script_problems

DEFAULT_PAUSE = "G91\nG1 E-2 F2400\nG1 Z10 F600\nG90\n"
DEFAULT_RESUME = "G90\nG1 X{x:.3f} Y{y:.3f} F6000\nG1 Z{z:.3f} F600\nG91\nG1 E2 F2400\nG90\n"
DEFAULT_RECOVER = (
    "M140 S{bed:.0f}\nM104 S{hotend:.0f}\nM190 S{bed:.0f}\nM109 S{hotend:.0f}\n"
    "G92 Z{z:.3f}\nG91\nG1 Z5 F600\nG90\nG28 X Y\nG1 X{x:.3f} Y{y:.3f} F6000\n"
    "G1 Z{z:.3f} F600\n"
)
DEFAULT_CANCEL = "M104 S0\nM140 S0\nM107\nG91\nG1 Z10 F600\nG90\nM84\n"


class MarlinSerialConfig(DriverConfig):
    port: str = Field(min_length=1)
    """The device, best a stable name: /dev/serial/by-id/usb-…"""
    baud: int = Field(115200, gt=0)
    windowed: bool = True
    """Keep several lines in flight when the firmware answers with ADVANCED_OK."""
    max_in_flight: int = Field(8, ge=1, le=32)
    """Upper bound on the window; the firmware's free command slots decide below it."""
    calm_lines: int = Field(200, ge=0)
    """After a resend, stream one line at a time for this many lines: when Marlin refuses
    a line it empties its receive buffer, and can cut the next line in two (see
    docs/printers.md). Errors tend to come in bursts on a bad cable."""
    timeout_s: float = Field(10.0, gt=0)
    """Silence, with lines unanswered, before asking the printer where it is. Motion the
    host knows is queued is added to it."""
    motion_timeout_factor: float = Field(1.0, ge=0)
    """Share of the queued motion time added to ``timeout_s`` (below 1 only for an
    emulator that runs faster than real time)."""
    long_command_timeout_s: float = Field(900.0, gt=0)
    """Same, while homing, probing, heating or dwelling on firmware that sends no
    ``busy:`` keep-alive."""
    max_timeouts: int = Field(5, ge=1)
    """Unanswered prods in a row before the printer counts as gone."""
    handshake_timeout_s: float = Field(10.0, gt=0)
    """A board that resets when the port opens needs a couple of seconds to boot."""
    reconnect_s: float = Field(2.0, gt=0)
    temperature_interval_s: float = Field(2.0, gt=0)
    report_interval_s: float = Field(1.0, gt=0)
    """Progress and temperatures are pushed at most this often."""
    low_latency: bool = False
    pause_script: str = DEFAULT_PAUSE
    resume_script: str = DEFAULT_RESUME
    recover_script: str = DEFAULT_RECOVER
    """Run before an interrupted print continues: reheat, home X/Y, restore Z."""
    cancel_script: str = DEFAULT_CANCEL

    @field_validator("pause_script", "resume_script", "recover_script", "cancel_script")
    @classmethod
    def _script(cls, value: str) -> str:
        problems = script_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value
