"""The tablet's picture of a cut job: an SVG at real scale (width and height in mm).

Cuts are solid, blade-up travel dashed, the weeding border and lines in their own
colour, and the roll drawn behind when its width is known. Points closer than
``PREVIEW_STEP_MM`` are thinned out: the picture stays small for big lettering.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from jobs.vinyl.geometry import CutPath, Points

PREVIEW_STEP_MM = 0.2
_COLOURS = {"design": "#1a1a1a", "border": "#1f77b4", "weeding": "#1f77b4", "lead_in": "#999"}


def _thin(points: Points, step: float) -> Points:
    if len(points) <= 2:
        return points
    seg = np.hypot(*np.diff(points, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    bucket = np.floor(cum / step)
    keep = np.concatenate([[True], bucket[1:] != bucket[:-1]])
    keep[-1] = True
    thinned: Points = points[keep]
    return thinned


def _d(points: Points, closed: bool) -> str:
    pts = _thin(points, PREVIEW_STEP_MM)
    body = " ".join(f"{x:.2f},{y:.2f}" for x, y in pts.tolist())
    return f"M{body}{'Z' if closed else ''}"


def preview_svg_document(
    paths: list[CutPath], width: float, height: float, roll_width: float | None
) -> bytes:
    w = max(width, 1.0)
    h = max(height, roll_width or 0.0, 1.0)
    stroke = max(0.15, min(w, h) / 400)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.2f}mm" height="{h:.2f}mm" '
        f'viewBox="0 0 {w:.2f} {h:.2f}">',
        "<title>fabqueue cut preview</title>",
    ]
    if roll_width:
        parts.append(
            f'<rect x="0" y="0" width="{w:.2f}" height="{roll_width:.2f}" fill="#f4f1ea" '
            'stroke="#c9c2b0" stroke-width="0.3"/>'
        )
    moves = []
    prev = None
    for p in paths:
        if prev is not None:
            (x0, y0), (x1, y1) = prev, p.points[0]
            moves.append(f"M{x0:.2f},{y0:.2f} {x1:.2f},{y1:.2f}")
        prev = p.points[-1]
    if moves:
        parts.append(
            f'<path class="travel" d="{" ".join(moves)}" fill="none" stroke="#e4572e" '
            f'stroke-width="{stroke / 2:.3f}" '
            f'stroke-dasharray="{stroke * 4:.2f},{stroke * 3:.2f}"/>'
        )
    for kind, colour in _COLOURS.items():
        mine = [p for p in paths if p.kind == kind]
        if not mine:
            continue
        d = " ".join(_d(p.points, False) for p in mine)
        parts.append(
            f'<path class="{escape(kind)}" d="{d}" fill="none" stroke="{colour}" '
            f'stroke-width="{stroke:.3f}" stroke-linejoin="round"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts).encode()
