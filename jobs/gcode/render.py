"""Pictures of a G-code job for the tablet.

* The slicer's embedded thumbnail when there is one: PNG and JPEG as they are, QOI
  (PrusaSlicer's format for Prusa printers, which browsers do not show) decoded and
  re-encoded as PNG.
* Otherwise an SVG top view: where the nozzle extruded, all layers as a grey shadow,
  the last layer drawn over it in colour, and the part's size. Its size is bounded
  (a raster shadow, a point budget for the last layer) whatever the file's size.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
import zlib
from pathlib import Path
from typing import Any

from jobs.base import Analysis, Preview
from jobs.gcode.parse import Interpreter
from jobs.params.printer import PrinterParams

MAX_THUMBNAIL_B64 = 4 * 1024 * 1024
MAX_THUMBNAIL_PIXELS = 2048 * 2048
SHADOW_CELLS = 160
"""Cells across the longer side of the part in the shadow raster."""
LAST_LAYER_POINTS = 12_000


class ImageError(ValueError):
    pass


# -- QOI -> PNG ----------------------------------------------------------------------


def decode_qoi(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGBA bytes) of a QOI image (https://qoiformat.org/qoi-specification.pdf)."""
    if len(data) < 22 or data[:4] != b"qoif":
        raise ImageError("not a QOI image")
    width, height, _channels, _colorspace = struct.unpack(">IIBB", data[4:14])
    if width == 0 or height == 0 or width * height > MAX_THUMBNAIL_PIXELS:
        raise ImageError(f"QOI image of {width}×{height} pixels refused")
    total = width * height
    out = bytearray(total * 4)
    index = [(0, 0, 0, 0)] * 64
    r, g, b, a = 0, 0, 0, 255
    pos = 14
    end = len(data) - 8
    px = 0
    run = 0
    while px < total:
        if run > 0:
            run -= 1
        elif pos < end:
            b1 = data[pos]
            pos += 1
            if b1 == 0xFE:
                r, g, b = data[pos], data[pos + 1], data[pos + 2]
                pos += 3
            elif b1 == 0xFF:
                r, g, b, a = data[pos], data[pos + 1], data[pos + 2], data[pos + 3]
                pos += 4
            else:
                tag = b1 & 0xC0
                if tag == 0x00:
                    r, g, b, a = index[b1]
                elif tag == 0x40:
                    r = (r + ((b1 >> 4) & 3) - 2) & 0xFF
                    g = (g + ((b1 >> 2) & 3) - 2) & 0xFF
                    b = (b + (b1 & 3) - 2) & 0xFF
                elif tag == 0x80:
                    b2 = data[pos]
                    pos += 1
                    dg = (b1 & 0x3F) - 32
                    r = (r + dg - 8 + ((b2 >> 4) & 0x0F)) & 0xFF
                    g = (g + dg) & 0xFF
                    b = (b + dg - 8 + (b2 & 0x0F)) & 0xFF
                else:
                    run = b1 & 0x3F
            index[(r * 3 + g * 5 + b * 7 + a * 11) % 64] = (r, g, b, a)
        else:
            raise ImageError("QOI image data ends early")
        o = px * 4
        out[o] = r
        out[o + 1] = g
        out[o + 2] = b
        out[o + 3] = a
        px += 1
    return width, height, bytes(out)


def encode_png(width: int, height: int, rgba: bytes) -> bytes:
    """A PNG of RGBA pixels (no filtering: these pictures are small)."""
    stride = width * 4
    raw = b"".join(b"\0" + rgba[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def read_thumbnail(path: Path, thumb: dict[str, Any]) -> Preview | None:
    """The thumbnail recorded by the analysis (``details.thumbnail``), as a browser shows it."""
    try:
        offset = int(thumb["offset"])
        fmt = str(thumb["format"])
    except (KeyError, TypeError, ValueError):
        return None
    parts: list[bytes] = []
    size = 0
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            fh.readline(4096)  # the "thumbnail begin" line
            while size <= MAX_THUMBNAIL_B64:
                line = fh.readline(4096)
                if not line:
                    return None
                text = line.strip().lstrip(b";").strip()
                if text.startswith(b"thumbnail") and text.endswith(b"end"):
                    break
                parts.append(text)
                size += len(text)
            else:
                return None
        data = base64.b64decode(b"".join(parts), validate=True)
    except (OSError, binascii.Error, ValueError):
        return None
    if fmt == "png" and data.startswith(b"\x89PNG"):
        return Preview(media_type="image/png", data=data)
    if fmt == "jpg" and data.startswith(b"\xff\xd8"):
        return Preview(media_type="image/jpeg", data=data)
    if fmt == "qoi":
        try:
            width, height, rgba = decode_qoi(data)
        except (ImageError, IndexError):
            return None
        return Preview(media_type="image/png", data=encode_png(width, height, rgba))
    return None


# -- SVG top view ----------------------------------------------------------------------


class _TopView:
    """Collects extrusion segments: a coarse shadow raster and the current layer."""

    def __init__(self, min_x: float, min_y: float, size_x: float, size_y: float, layer: float):
        self.min_x = min_x
        self.min_y = min_y
        self.max_x = min_x + size_x
        self.max_y = min_y + size_y
        longest = max(size_x, size_y, 1.0)
        # Cells no finer than an extrusion line, so solid layers make a solid shadow.
        self.cell = max(longest / SHADOW_CELLS, 0.5)
        self.cols = int(size_x / self.cell) + 1
        self.rows = int(size_y / self.cell) + 1
        self.grid = bytearray(self.cols * self.rows)
        self.layer_step = layer
        self.layer_z = -math.inf
        self.layer: list[tuple[float, float, float, float]] = []

    def segment(self, x0: float, y0: float, x1: float, y1: float, z: float) -> None:
        lo_x, lo_y = self.min_x - 1.0, self.min_y - 1.0
        hi_x, hi_y = self.max_x + 1.0, self.max_y + 1.0
        if not (lo_x <= x0 <= hi_x and lo_y <= y0 <= hi_y and lo_x <= x1 <= hi_x):
            return  # outside the objects: a purge line
        if not lo_y <= y1 <= hi_y:
            return
        if z >= self.layer_z + self.layer_step:
            self.layer_z = z
            self.layer = []
        if len(self.layer) < LAST_LAYER_POINTS * 4:
            self.layer.append((x0, y0, x1, y1))
        cell = self.cell
        length = math.hypot(x1 - x0, y1 - y0)
        steps = max(1, int(length / (cell * 0.5)))
        cols, rows, grid = self.cols, self.rows, self.grid
        for k in range(steps + 1):
            t = k / steps
            c = int((x0 + (x1 - x0) * t - self.min_x) / cell)
            r = int((y0 + (y1 - y0) * t - self.min_y) / cell)
            if 0 <= c < cols and 0 <= r < rows:
                grid[r * cols + c] = 1


def _polylines(segments: list[tuple[float, float, float, float]], min_step: float) -> list[str]:
    """Join touching segments into SVG path commands, dropping points closer than min_step."""
    paths: list[str] = []
    current: list[str] = []
    last: tuple[float, float] | None = None
    anchor = (0.0, 0.0)
    for x0, y0, x1, y1 in segments:
        if last is None or abs(last[0] - x0) > 1e-3 or abs(last[1] - y0) > 1e-3:
            if len(current) > 1:
                paths.append("M" + " L".join(current))
            current = [f"{x0:.1f} {-y0:.1f}"]
            last = (x0, y0)
            anchor = (x0, y0)
        if abs(x1 - anchor[0]) + abs(y1 - anchor[1]) >= min_step:
            current.append(f"{x1:.1f} {-y1:.1f}")
            anchor = (x1, y1)
        last = (x1, y1)
    if len(current) > 1:
        paths.append("M" + " L".join(current))
    return paths


def top_view(path: Path, params: PrinterParams, analysis: Analysis) -> Preview | None:
    b = analysis.bounds
    if b is None or analysis.counts.get("extrusions", 0) == 0:
        return None
    size_x, size_y, size_z = b.size
    layer_h = analysis.details.get("layer_height_mm")
    step = 0.9 * layer_h if isinstance(layer_h, int | float) and layer_h > 0 else 0.1
    view = _TopView(b.min_x, b.min_y, size_x, size_y, max(step, 0.05))
    interp = Interpreter(params, segment=view.segment)
    with path.open("rb") as fh:
        interp.run(fh)
    cell = view.cell
    # Shadow: horizontal runs of filled cells, one sub-path each.
    runs: list[str] = []
    for r in range(view.rows):
        row = view.grid[r * view.cols : (r + 1) * view.cols]
        c = 0
        while c < view.cols:
            if row[c]:
                start = c
                while c < view.cols and row[c]:
                    c += 1
                x = b.min_x + start * cell
                y = -(b.min_y + (r + 1) * cell)
                w = (c - start) * cell
                runs.append(f"M{x:.1f} {y:.1f}h{w:.2f}v{cell:.2f}h{-w:.2f}z")
            else:
                c += 1
    longest = max(size_x, size_y, 1.0)
    min_step = max(0.2, longest / 600.0)
    lines = _polylines(view.layer, min_step)
    while sum(p.count(" L") + 1 for p in lines) > LAST_LAYER_POINTS and min_step < longest:
        min_step *= 2.0
        lines = _polylines(view.layer, min_step)
    margin = max(2.0, longest * 0.04)
    label_h = max(3.0, longest * 0.06)
    vx = b.min_x - margin
    vy = -(b.max_y + margin)
    vw = size_x + 2 * margin
    vh = size_y + 2 * margin + label_h
    stroke = max(0.4, longest / 400.0)
    label = f"{size_x:.1f} × {size_y:.1f} × {size_z:.1f} mm"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{vx:.1f} {vy:.1f} {vw:.1f} {vh:.1f}" '
        f'width="480" height="{480 * vh / vw:.0f}" role="img" aria-label="{label}">'
        f'<rect x="{vx:.1f}" y="{vy:.1f}" width="{vw:.1f}" height="{vh:.1f}" fill="#f8f9fa"/>'
        f'<path fill="#c5cad3" d="{"".join(runs)}"/>'
        f'<path fill="none" stroke="#e8590c" stroke-width="{stroke:.2f}" '
        f'stroke-linecap="round" stroke-linejoin="round" d="{" ".join(lines)}"/>'
        f'<text x="{b.min_x + size_x / 2:.1f}" y="{-(b.min_y - margin - label_h * 0.6):.1f}" '
        f'font-family="DejaVu Sans, sans-serif" font-size="{label_h * 0.6:.1f}" '
        f'text-anchor="middle" fill="#343a40">{label}</text></svg>'
    )
    return Preview(media_type="image/svg+xml", data=svg.encode())
