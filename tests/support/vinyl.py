"""Helpers for the vinyl tests: small SVG files, and the trailing-knife check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from jobs.vinyl.blade import trail
from jobs.vinyl.geometry import Points, distance_to_polyline, resample
from tests.support.factories import CORPUS

SVG_DIR = CORPUS / "svg"
STENCIL = SVG_DIR / "inkscape-silhouette" / "stencil-free-fonts.svg"
SCALE_FILES = sorted((SVG_DIR / "inkcut").glob("scale-*.svg"))


def svg(
    tmp: Path,
    body: str,
    root: str = 'width="100mm" height="100mm" viewBox="0 0 100 100"',
    name: str = "d.svg",
) -> Path:
    """A document whose user unit is one millimetre (by default)."""
    path = tmp / name
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f"{root}>{body}</svg>"
    )
    return path


def tip_errors(design: Points, holder: Points, r: float, heading: Points) -> tuple[float, float]:
    """(how far the simulated blade tip strays from the design, how far the design is
    from what the tip cut): both must be small for a clean cut."""
    tip = trail(holder, holder[0] - r * heading, r, step=0.005)
    return trace_errors(tip, design)


def trace_errors(tip: Points, design: Points) -> tuple[float, float]:
    """Hausdorff both ways between a dense tip trace and the design polyline. The
    second direction measures to the trace's points (0.005 mm apart: ≤ 0.0025 mm
    pessimistic), which keeps it fast."""
    stray = float(distance_to_polyline(tip, design).max())
    miss = float(cKDTree(tip).query(resample(design, 0.01))[0].max())
    return stray, miss


def as_array(rows: list[tuple[float, float]]) -> Points:
    return np.array(rows, dtype=float)
