"""Small uploads that cost a reader dearly, written from the descriptions of issue 11."""

from __future__ import annotations

from pathlib import Path


def arc_bomb(path: Path, circles: int = 200) -> Path:
    """A few KB of G-code: full circles with a radius of a kilometre, each of which a
    planner cut into segments of a fraction of a millimetre would never finish."""
    lines = ["; an arc bomb", "G21", "G90", "M82", "G1 X0 Y0 Z0.2 F1200"]
    lines += [f"G2 X0 Y0 I1000000 J0 E{i + 1}" for i in range(circles)]
    path.write_text("\n".join(lines) + "\n")
    return path


def zero_file(path: Path, mb: int = 20) -> Path:
    """Megabytes of zero bytes with a stitch file's name (.exp reads every 2 bytes as a
    stitch: ten million stitches)."""
    with path.open("wb") as fh:
        fh.truncate(mb * 1024 * 1024)
    return path


SIM_EMBROIDERY = """
    name = "Brodeuse (test)"
    kind = "embroidery"
    [driver]
    type = "sim"
    speed = 3600.0
    [embroidery]
    native_format = "pes"
    needles = 1
    hoops = [{ name = "SA432", width_mm = 130, height_mm = 180 }]
"""
"""An embroidery machine that takes .exp files, for the zero-file uploads."""


EXP_REFUSALS = (
    "more than the 2,500,000 a design may have",
    "this Melco/Bernina EXP file is too large to read safely",
    "this Melco/Bernina EXP file could not be read in time",
)
"""How a file of zeros is refused: the reader's per-file record budget (from its size,
before reading) speaks first; behind it the reader's memory limit, or on a machine
loaded enough its clock. All are refusals with their reason."""
