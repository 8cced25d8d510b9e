"""Previews: embedded thumbnails as a browser shows them, else an SVG top view."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path
from xml.etree import ElementTree

import pytest

from jobs.gcode.analysis import analyze, preview
from jobs.gcode.render import decode_qoi, encode_png
from tests.support.factories import CORPUS
from tests.support.gcode import gcode_file

GCODE = CORPUS / "gcode"
MOVES = "M83\nG1 Z0.2 F600\nG1 X10 Y10 E1 F1200\nG1 X20 Y10 E1\n"


def qoi_encode(width: int, height: int, rgba: bytes) -> bytes:
    """The reference QOI encoder (qoiformat.org), written from the specification."""
    out = bytearray(b"qoif" + struct.pack(">IIBB", width, height, 4, 0))
    index = [(0, 0, 0, 0)] * 64
    prev = (0, 0, 0, 255)
    run = 0
    total = width * height
    for i in range(total):
        px = tuple(rgba[i * 4 : i * 4 + 4])
        if px == prev:
            run += 1
            if run == 62 or i == total - 1:
                out.append(0xC0 | (run - 1))
                run = 0
            continue
        if run:
            out.append(0xC0 | (run - 1))
            run = 0
        h = (px[0] * 3 + px[1] * 5 + px[2] * 7 + px[3] * 11) % 64
        if index[h] == px:
            out.append(h)
        else:
            index[h] = px  # type: ignore[assignment]
            if px[3] == prev[3]:
                dr = (px[0] - prev[0] + 128) % 256 - 128
                dg = (px[1] - prev[1] + 128) % 256 - 128
                db = (px[2] - prev[2] + 128) % 256 - 128
                if -2 <= dr <= 1 and -2 <= dg <= 1 and -2 <= db <= 1:
                    out.append(0x40 | (dr + 2) << 4 | (dg + 2) << 2 | (db + 2))
                elif -32 <= dg <= 31 and -8 <= dr - dg <= 7 and -8 <= db - dg <= 7:
                    out += bytes([0x80 | (dg + 32), (dr - dg + 8) << 4 | (db - dg + 8)])
                else:
                    out += bytes([0xFE, px[0], px[1], px[2]])
            else:
                out += bytes([0xFF, *px])
        prev = px  # type: ignore[assignment]
    return bytes(out + b"\0" * 7 + b"\1")


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and RGBA of an unfiltered 8-bit RGBA PNG (what encode_png writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 6)
            size = (w, h)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    w, h = size
    rows = [raw[r * (w * 4 + 1) : (r + 1) * (w * 4 + 1)] for r in range(h)]
    assert all(row[0] == 0 for row in rows)
    return w, h, b"".join(row[1:] for row in rows)


def sample_image() -> tuple[int, int, bytes]:
    w, h = 24, 16
    px = bytearray()
    for y in range(h):
        for x in range(w):
            if y < 4:
                px += bytes([200, 30, 30, 255])  # runs
            elif y < 8:
                px += bytes([x * 10, y * 3, 255 - x, 255])  # small and larger steps
            elif y < 12:
                px += bytes([(x * 37) % 256, (x * 91) % 256, (y * 53) % 256, 255])  # RGB
            else:
                px += bytes([x % 2 * 255, 0, 0, 128 + x])  # alpha changes, index hits
    return w, h, bytes(px)


def test_qoi_round_trip() -> None:
    w, h, px = sample_image()
    assert decode_qoi(qoi_encode(w, h, px)) == (w, h, px)
    assert png_pixels(encode_png(w, h, px)) == (w, h, px)


def test_qoi_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        decode_qoi(b"qoif" + struct.pack(">IIBB", 100000, 100000, 4, 0) + b"\0" * 8)
    with pytest.raises(ValueError):
        decode_qoi(b"not an image at all")


def _embed(tmp_path: Path, tag: str, width: int, height: int, data: bytes) -> Path:
    text = base64.b64encode(data).decode()
    lines = [text[i : i + 78] for i in range(0, len(text), 78)]
    block = f"; {tag} begin {width}x{height} {len(text)}\n"
    block += "".join(f"; {line}\n" for line in lines)
    block += f"; {tag} end\n"
    return gcode_file(tmp_path, block + MOVES)


def test_qoi_thumbnail_becomes_a_png(tmp_path: Path) -> None:
    w, h, px = sample_image()
    path = _embed(tmp_path, "thumbnail_QOI", w, h, qoi_encode(w, h, px))
    picture = preview(path, None, analyze(path))
    assert picture is not None and picture.media_type == "image/png"
    assert png_pixels(picture.data) == (w, h, px)


def test_png_thumbnail_is_served_as_it_is() -> None:
    path = GCODE / "prusaslicer-benchy.gcode"
    a = analyze(path)
    picture = preview(path, None, a)
    assert picture is not None and picture.media_type == "image/png"
    # The largest of the two thumbnails, byte for byte.
    text = path.read_text()
    start = text.index("; thumbnail begin 220x124")
    body = text[text.index("\n", start) + 1 : text.index("; thumbnail end", start)]
    expected = base64.b64decode("".join(line[2:] for line in body.splitlines()))
    assert picture.data == expected


def test_jpeg_thumbnail(tmp_path: Path) -> None:
    fake_jpeg = b"\xff\xd8\xff\xe0" + b"\x10JFIF" + bytes(range(200))
    path = _embed(tmp_path, "thumbnail_JPG", 32, 32, fake_jpeg)
    picture = preview(path, None, analyze(path))
    assert picture is not None
    assert (picture.media_type, picture.data) == ("image/jpeg", fake_jpeg)


def test_broken_thumbnail_falls_back_to_the_top_view(tmp_path: Path) -> None:
    path = gcode_file(tmp_path, "; thumbnail begin 8x8 8\n; !!!!!!!!\n; thumbnail end\n" + MOVES)
    a = analyze(path)
    assert a.details["thumbnail"] is not None  # complete, but not base64
    picture = preview(path, None, a)
    assert picture is not None and picture.media_type == "image/svg+xml"


@pytest.mark.parametrize(
    ("name", "label"),
    [("cura-puzzle.gcode", "94.2 × 64.4 × 23.8 mm"), ("prusaslicer-vase.gcode", "56.6 × 50.2")],
)
def test_top_view(name: str, label: str) -> None:
    path = GCODE / name
    a = analyze(path)
    picture = preview(path, None, a)
    assert picture is not None and picture.media_type == "image/svg+xml"
    assert len(picture.data) < 100_000  # small enough to send to a tablet often
    root = ElementTree.fromstring(picture.data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    ns = {"s": "http://www.w3.org/2000/svg"}
    shadow, last_layer = root.findall("s:path", ns)
    assert shadow.get("d", "").count("z") > 50
    assert last_layer.get("stroke") and last_layer.get("d", "").startswith("M")
    assert label in (root.findtext("s:text", namespaces=ns) or "")
    # The view frames the part, not the purge line at the edge of the bed.
    _, _, width, _ = (float(v) for v in root.get("viewBox", "").split())
    assert a.bounds is not None
    assert width < a.bounds.size[0] * 1.2
