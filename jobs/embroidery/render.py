"""A picture of the design in its hoop, in thread colours, at tablet size.

pyembroidery's ``write_png`` draws one pixel per 0.1 mm in pure Python (~8 s for
120,000 stitches); this draws at the size the tablet shows (640 px by default) with
numpy, so a 200,000-stitch design renders in a fraction of a second.
"""

from __future__ import annotations

import itertools
import struct
import zlib

import numpy as np
import numpy.typing as npt

from jobs.embroidery.figures import Figures
from jobs.embroidery.hoop import usable
from jobs.embroidery.read import STITCH, Design
from jobs.params.embroidery import EmbroideryParams, Hoop

FABRIC = (244, 241, 234)
HOOP = (120, 120, 120)
FIELD = (190, 190, 190)
TOO_BIG = (210, 40, 40)
HOT = (230, 0, 0)
CHUNK = 20_000
"""Segments drawn at once: bounds the memory whatever the design."""


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    try:
        return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
    except ValueError:
        return (0, 0, 0)


def png_bytes(img: npt.NDArray[np.uint8]) -> bytes:
    height, width, _ = img.shape
    raw = np.empty((height, width * 3 + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter: none
    raw[:, 1:] = img.reshape(height, width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


class Canvas:
    def __init__(self, width_mm: float, height_mm: float, max_px: int) -> None:
        self.scale = max_px / max(width_mm, height_mm)  # px per mm
        self.w = max(1, round(width_mm * self.scale))
        self.h = max(1, round(height_mm * self.scale))
        self.img = np.empty((self.h, self.w, 3), dtype=np.uint8)
        self.img[:] = FABRIC
        # Design coordinates (mm, centred on 0) to pixels.
        self.cx, self.cy = self.w / 2, self.h / 2

    def px(
        self, x_mm: npt.NDArray[np.float64], y_mm: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        return self.cx + x_mm * self.scale, self.cy + y_mm * self.scale

    def plot(
        self,
        xs: npt.NDArray[np.float64],
        ys: npt.NDArray[np.float64],
        rgb: tuple[int, ...],
        thick: bool = True,
    ) -> None:
        xi = np.rint(xs).astype(np.int64)
        yi = np.rint(ys).astype(np.int64)
        for dx, dy in ((0, 0), (1, 0), (0, 1)) if thick else ((0, 0),):
            px, py = xi + dx, yi + dy
            ok = (px >= 0) & (px < self.w) & (py >= 0) & (py < self.h)
            self.img[py[ok], px[ok]] = rgb

    def segments(
        self,
        x0: npt.NDArray[np.float64],
        y0: npt.NDArray[np.float64],
        x1: npt.NDArray[np.float64],
        y1: npt.NDArray[np.float64],
        rgb: tuple[int, ...],
        thick: bool = True,
    ) -> None:
        for start in range(0, x0.shape[0], CHUNK):
            sl = slice(start, start + CHUNK)
            ax, ay, bx, by = x0[sl], y0[sl], x1[sl], y1[sl]
            steps = np.ceil(np.maximum(np.abs(bx - ax), np.abs(by - ay))).astype(np.int64) + 1
            owner = np.repeat(np.arange(steps.shape[0]), steps)
            first = np.cumsum(steps) - steps
            t = (np.arange(owner.shape[0]) - first[owner]) / np.maximum(steps[owner] - 1, 1)
            self.plot(
                ax[owner] + (bx - ax)[owner] * t, ay[owner] + (by - ay)[owner] * t, rgb, thick
            )

    def rect(self, w_mm: float, h_mm: float, rgb: tuple[int, ...], dashed: bool = False) -> None:
        hx, hy = w_mm / 2, h_mm / 2
        corners = [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy), (-hx, -hy)]
        for (ax, ay), (bx, by) in itertools.pairwise(corners):
            n = max(2, int(max(abs(bx - ax), abs(by - ay)) * self.scale))
            t = np.linspace(0.0, 1.0, n)
            if dashed:
                t = t[(np.arange(n) // 4) % 2 == 0]
            xs, ys = self.px(ax + (bx - ax) * t, ay + (by - ay) * t)
            self.plot(np.clip(xs, 0, self.w - 1), np.clip(ys, 0, self.h - 1), rgb, thick=False)


def render(
    design: Design,
    figures: Figures,
    params: EmbroideryParams,
    *,
    max_px: int = 640,
) -> bytes:
    """PNG of the design centred in the hoop it will use (turned if it will be turned);
    a design that fits no hoop is drawn over the hoop that comes closest, in red."""
    width, height = figures.size_mm
    fit = params.hoop_for(width, height)
    hoop: Hoop | None = fit.hoop or fit.closest or fit.turn_to_fit  # type: ignore[assignment]
    rotated = fit.rotated
    frame_w, frame_h = (hoop.width_mm, hoop.height_mm) if hoop else (width, height)
    canvas = Canvas(max(frame_w, width) + 4, max(frame_h, height) + 4, max_px)
    if hoop is not None:
        canvas.rect(hoop.width_mm, hoop.height_mm, HOOP if fit.hoop else TOO_BIG)
        fw, fh = usable(hoop, params.hoop_margin_mm)
        canvas.rect(fw, fh, FIELD, dashed=True)

    x0, y0, x1, y1 = figures.extents_mm
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    x = design.x / 10.0 - mx
    y = design.y / 10.0 - my
    if rotated:
        x, y = -y, x
    px, py = canvas.px(x, y)
    stitch = design.commands == STITCH
    for block in figures.blocks:
        rows = np.arange(block.start, block.end)
        rows = rows[stitch[rows]]
        if rows.shape[0] < 2:
            continue
        a, b = rows[:-1], rows[1:]
        # Only consecutive needle drops are thread on the fabric; moves are not drawn.
        adjacent = b - a == 1
        canvas.segments(
            px[a][adjacent],
            py[a][adjacent],
            px[b][adjacent],
            py[b][adjacent],
            _rgb(block.thread.colour),
        )
    for spot in figures.hot_spots:
        sx, sy = spot["x_mm"] - mx, spot["y_mm"] - my
        if rotated:
            sx, sy = -sy, sx
        half = params.density_cell_mm / 2
        corners = [
            (sx - half, sy - half),
            (sx + half, sy - half),
            (sx + half, sy + half),
            (sx - half, sy + half),
            (sx - half, sy - half),
        ]
        xs = np.array([c[0] for c in corners])
        ys = np.array([c[1] for c in corners])
        cx, cy = canvas.px(xs, ys)
        canvas.segments(cx[:-1], cy[:-1], cx[1:], cy[1:], HOT, thick=False)
    return png_bytes(canvas.img)
