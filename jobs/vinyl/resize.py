"""Resize an SVG design for the counter ("80 mm wide, please"), aspect kept.

Only the root element's size changes: ``width``/``height`` get the new size in mm and a
``viewBox`` keeps the drawing's user units, so every path, transform and stroke is left
exactly as drawn. The rest of the file is not re-serialised (namespaces, comments and
the drawing program's metadata stay byte for byte).
"""

from __future__ import annotations

import re

from defusedxml import ElementTree as SafeET

from jobs.base import AnalysisError
from jobs.vinyl.svg.units import CSS_PPI, MM_PER_IN, LengthError, parse_view_box, to_mm

_ROOT = re.compile(rb"<svg\b[^>]*>", re.IGNORECASE)
_SIZE_ATTR = re.compile(rb"\s(?:width|height|viewBox)\s*=\s*(?:\"[^\"]*\"|'[^']*')")
MIN_FACTOR, MAX_FACTOR = 0.01, 100.0


def _size_mm(text: str | None) -> float | None:
    if text is None or text.strip().endswith("%"):
        return None
    try:
        return to_mm(text, CSS_PPI)[0]
    except LengthError:
        return None


def document_size(data: bytes) -> tuple[float, float, tuple[float, float, float, float]]:
    """The page's (width mm, height mm, viewBox) as a renderer reads them (96 px/in)."""
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # defusedxml raises several types; all mean "cannot read"
        raise AnalysisError(f"this SVG cannot be read: {exc}") from None
    box = parse_view_box(root.get("viewBox"))
    w, h = _size_mm(root.get("width")), _size_mm(root.get("height"))
    if box is not None:
        if w is None and h is None:
            w, h = box[2] * MM_PER_IN / CSS_PPI, box[3] * MM_PER_IN / CSS_PPI
        elif w is None:
            assert h is not None
            w = h * box[2] / box[3]
        elif h is None:
            h = w * box[3] / box[2]
    if w is None or h is None or w <= 0 or h <= 0:
        raise AnalysisError("the drawing has no size: it cannot be resized")
    if box is None:
        # Without a viewBox, user units are CSS px: this box keeps them where they are.
        box = (0.0, 0.0, w * CSS_PPI / MM_PER_IN, h * CSS_PPI / MM_PER_IN)
    return w, h, box


def scaled(data: bytes, factor: float) -> bytes:
    """The same drawing, ``factor`` times larger on both axes."""
    if not MIN_FACTOR <= factor <= MAX_FACTOR:
        raise AnalysisError(f"a resize by {factor:g}× is outside what makes sense")
    w, h, box = document_size(data)
    match = _ROOT.search(data)
    if match is None:
        raise AnalysisError("no <svg> element found")
    tag = _SIZE_ATTR.sub(b"", match.group(0))
    attrs = (
        f' width="{w * factor:.4f}mm" height="{h * factor:.4f}mm"'
        f' viewBox="{box[0]:g} {box[1]:g} {box[2]:g} {box[3]:g}"'
    ).encode()
    tag = tag[:4] + attrs + tag[4:]
    return data[: match.start()] + tag + data[match.end() :]
