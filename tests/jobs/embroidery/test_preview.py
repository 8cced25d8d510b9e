"""The picture: a real PNG, the design's thread colours, the hoop drawn around it."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from jobs.embroidery.figures import compute
from jobs.embroidery.read import read_design
from jobs.embroidery.render import render
from jobs.params.embroidery import EmbroideryParams, Hoop
from jobs.registry import analyze, preview
from tests.support.embroidery import CAT, EMM

HOOPS = [Hoop(name="5x7", width_mm=130, height_mm=180)]


def decode_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 2)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * 3 + 1)
    return raw[:, 1:].reshape(height, width, 3)


def colours_in(img: np.ndarray) -> set[str]:
    flat = img.reshape(-1, 3)
    return {"#" + bytes(int(v) for v in c).hex() for c in np.unique(flat, axis=0)}


def test_preview_is_a_png_in_thread_colours_with_the_hoop() -> None:
    p = EmbroideryParams(hoops=HOOPS)
    a = analyze(CAT / "Cake_3.pes", "pes", p)
    pic = preview(CAT / "Cake_3.pes", "pes", p, a)
    assert pic is not None and pic.media_type == "image/png"
    img = decode_png(pic.data)
    assert max(img.shape[:2]) <= 640
    seen = colours_in(img)
    threads = {t["colour"] for t in a.details["threads"]}
    assert len(threads & seen) >= len(threads) - 1  # a thread may be wholly covered
    assert "#787878" in seen  # the hoop's outline
    # Portrait hoop, portrait picture.
    assert img.shape[0] > img.shape[1]


def test_dst_preview_is_stable() -> None:
    """DST names no colours: the palette is fixed, so the picture is the same each time
    (pyembroidery's own renderer picks random colours)."""
    p = EmbroideryParams(hoops=HOOPS)
    d = read_design(CAT / "Cake_3.dst", "dst")
    f = compute(d, p)
    assert render(d, f, p) == render(d, f, p)


def test_too_big_is_drawn_over_the_closest_hoop_in_red() -> None:
    p = EmbroideryParams(hoops=[Hoop(name="4x4", width_mm=100, height_mm=100)])
    d = read_design(EMM / "Embroidermodder.DST", "dst")
    img = decode_png(render(d, compute(d, p), p))
    assert "#d22828" in colours_in(img)
    assert img.shape[1] > img.shape[0]  # the whole 222 mm logo is shown


def test_turned_design_is_drawn_turned(tmp_path: Path) -> None:
    p = EmbroideryParams(hoops=[Hoop(name="6x10", width_mm=160, height_mm=260)], rotate_to_fit=True)
    d = read_design(EMM / "Embroidermodder.DST", "dst")
    img = decode_png(render(d, compute(d, p), p))
    ink = np.argwhere(np.all(img == (0x1D, 0x3F, 0x8F), axis=2))
    height = ink[:, 0].max() - ink[:, 0].min()
    width = ink[:, 1].max() - ink[:, 1].min()
    assert height > 3 * width  # the long logo stands upright in the tall hoop
