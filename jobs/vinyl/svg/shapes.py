"""SVG shape elements (path, rect, circle, ellipse, line, polyline, polygon) to
subpaths of cubic control points, in the element's own user units."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from jobs.base import FileRejected
from jobs.vinyl.svg import path as svg_path
from jobs.vinyl.svg.units import LengthError, Viewport, to_user

MAX_SEGMENTS = 1_000_000
MAX_PATH_CHARS = 4_000_000
"""One path's data: about half a million segments, read in one go."""


def shape_subpaths(
    el: ET.Element,
    tag: str,
    vp: Viewport,
    source: str,
    warnings: list[str],
    budget: svg_path.Budget,
) -> list[svg_path.Subpath]:
    """The subpaths of one shape element, in its user units; ``budget`` counts them
    (:class:`jobs.vinyl.svg.path.OverBudget` when the document holds too many)."""
    if tag == "path":
        return _path(el, source, warnings, budget)
    subpaths = _basic_shape(el, tag, vp, source, warnings)
    budget.take_subpaths(len(subpaths))
    budget.take_segments(sum(len(sp.ctrl) for sp in subpaths))
    return subpaths


def _path(
    el: ET.Element, source: str, warnings: list[str], budget: svg_path.Budget
) -> list[svg_path.Subpath]:
    data = el.get("d") or ""
    if len(data) > MAX_PATH_CHARS:
        raise FileRejected(
            f"path {source} holds {len(data) / 1e6:.1f} million characters of data; "
            f"the limit is {MAX_PATH_CHARS / 1e6:.0f} million (simplify it before cutting)"
        )
    subs, error = svg_path.parse_path(data, budget)
    if error:
        warnings.append(f"path {source}: {error}; cut up to there")
    return subs


def _basic_shape(
    el: ET.Element, tag: str, vp: Viewport, source: str, warnings: list[str]
) -> list[svg_path.Subpath]:
    g = el.get
    if tag in ("polyline", "polygon"):
        pts, error = svg_path.parse_points(g("points") or "")
        if error:
            warnings.append(f"{tag} {source}: {error}")
        return svg_path.polyline(pts, closed=tag == "polygon")
    try:
        if tag == "line":
            a = [to_user(g(k) or "0", ax, vp) for k, ax in (("x1", "x"), ("y1", "y"))]
            b = [to_user(g(k) or "0", ax, vp) for k, ax in (("x2", "x"), ("y2", "y"))]
            return svg_path.polyline([*a, *b], closed=False)
        if tag == "rect":
            x, y = to_user(g("x") or "0", "x", vp), to_user(g("y") or "0", "y", vp)
            w, h = to_user(g("width") or "0", "x", vp), to_user(g("height") or "0", "y", vp)
            if w <= 0 or h <= 0:
                return []
            rx_t, ry_t = g("rx"), g("ry")
            rx = to_user(rx_t, "x", vp) if rx_t not in (None, "auto") else None
            ry = to_user(ry_t, "y", vp) if ry_t not in (None, "auto") else None
            rx = max(0.0, rx if rx is not None else (ry or 0.0))
            ry = max(0.0, ry if ry is not None else rx)
            return svg_path.rect(x, y, w, h, rx, ry)
        cx, cy = to_user(g("cx") or "0", "x", vp), to_user(g("cy") or "0", "y", vp)
        if tag == "circle":
            r = to_user(g("r") or "0", "other", vp)
            return svg_path.ellipse(cx, cy, r, r) if r > 0 else []
        rx_t, ry_t = g("rx"), g("ry")
        erx = to_user(rx_t, "x", vp) if rx_t not in (None, "auto") else None
        ery = to_user(ry_t, "y", vp) if ry_t not in (None, "auto") else None
        erx = erx if erx is not None else ery
        ery = ery if ery is not None else erx
        if not erx or not ery or erx <= 0 or ery <= 0:
            return []
        return svg_path.ellipse(cx, cy, erx, ery)
    except LengthError as exc:
        warnings.append(f"{tag} {source} was left out: {exc}")
        return []
