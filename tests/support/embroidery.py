"""Embroidery test material: the corpus files, hand-built designs, big synthetic files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pyembroidery.DstWriter import encode_record

from jobs.embroidery.read import COLOR_CHANGE, END, JUMP, STITCH, STOP, TRIM, Design, Thread
from tests.support.factories import CORPUS

EMB = CORPUS / "embroidery"
EMM = EMB / "embroidermodder"
CAT = EMB / "embroidery-catalogue"

__all__ = [
    "CAT",
    "COLOR_CHANGE",
    "EMB",
    "EMM",
    "END",
    "JUMP",
    "STITCH",
    "STOP",
    "TRIM",
    "corpus_files",
    "design",
    "synthetic_dst",
    "tiled_design",
]


def corpus_files() -> list[Path]:
    """Every stitch file of the shared corpus (licences and notes left out)."""
    return sorted(
        p
        for p in EMB.glob("*/*")
        if p.suffix.lower() not in (".txt", ".md") and "LICEN" not in p.name.upper()
    )


def design(
    records: list[tuple[float, float, int]],
    threads: list[str] | None = None,
    file_type: str = "test",
) -> Design:
    """A design from (x mm, y mm, command) records."""
    arr = np.array(records, dtype=np.float64).reshape(-1, 3)
    return Design(
        file_type=file_type,
        x=arr[:, 0] * 10.0,
        y=arr[:, 1] * 10.0,
        cmd=arr[:, 2].astype(np.int32),
        threads=[Thread(colour=c) for c in threads or []],
    )


def synthetic_dst(
    path: Path, stitches: int, colours: int = 10, header_st: int | None = None
) -> Path:
    """A DST of ``stitches`` needle drops: 1.2 mm stitches in 96 mm rows 0.4 mm apart,
    the 100 mm square filled again and again (up, then down), a colour change every
    ``stitches / colours``. Written with numpy, not pyembroidery: two million stitches
    take a second."""
    per_row = 80
    rows_per_layer = 250
    n = stitches
    i = np.arange(n)
    row = i // per_row
    in_row = i % per_row
    # Serpentine: odd rows go back; the last stitch of a row steps to the next row.
    direction = np.where(row % 2 == 0, 12, -12)
    dx = np.where(in_row == per_row - 1, 0, direction)
    layer = row // rows_per_layer
    down = np.where(layer % 2 == 0, 4, -4)
    last_of_layer = (row % rows_per_layer) == rows_per_layer - 1
    dy = np.where((in_row == per_row - 1) & ~last_of_layer, down, 0)
    table = {
        (int(a), int(b)): encode_record(int(a), int(b), STITCH)
        for a in (-12, 0, 12)
        for b in (-4, 0, 4)
    }
    codes = np.zeros((n, 3), dtype=np.uint8)
    for (a, b), rec in table.items():
        mask = (dx == a) & (dy == b)
        codes[mask] = np.frombuffer(rec, dtype=np.uint8)
    change_every = max(1, n // colours)
    changes = np.arange(change_every, n, change_every)
    cc = np.frombuffer(encode_record(0, 0, COLOR_CHANGE), dtype=np.uint8)
    body = np.insert(codes, changes, cc, axis=0)
    end = np.frombuffer(encode_record(0, 0, END), dtype=np.uint8)
    records = body.shape[0] + 1
    header = (
        f"LA:{'SYNTH':<16}\rST:{header_st if header_st is not None else records:7d}\r"
        f"CO:{len(changes):3d}\r+X:  960\r-X:    0\r+Y: 1000\r-Y:    0\r"
        "AX:+    0\rAY:+    0\rMX:+    0\rMY:+    0\rPD:******\r\x1a"
    ).encode("ascii")
    with path.open("wb") as fh:
        fh.write(header.ljust(512, b" "))
        fh.write(body.tobytes())
        fh.write(end.tobytes())
    return path


def tiled_design(source: Design, stitches: int, step_mm: float | None = None) -> Design:
    """``source`` repeated, 4 per row, until it has ``stitches`` needle drops: a real
    design's mix of satin, fill and colour changes, at any size. ``step_mm`` overlaps
    the copies (a big design that still fits a large frame)."""
    per = int(np.sum(source.commands == STITCH))
    copies = -(-stitches // per)
    s = source.commands == STITCH
    w = float(source.x[s].max() - source.x[s].min()) + 20
    h = float(source.y[s].max() - source.y[s].min()) + 20
    if step_mm is not None:
        w = h = step_mm * 10
    keep = source.commands != END
    xs, ys, cs = [], [], []
    for k in range(copies):
        xs.append(source.x[keep] + (k % 4) * w)
        ys.append(source.y[keep] + (k // 4) * h)
        cmd = source.cmd[keep].copy()
        if k:
            # Each copy starts with a colour change, like a design of many motifs.
            cmd = np.concatenate(([COLOR_CHANGE], cmd)).astype(np.int32)
            xs[-1] = np.concatenate(([xs[-1][0]], xs[-1]))
            ys[-1] = np.concatenate(([ys[-1][0]], ys[-1]))
        cs.append(cmd)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    cmd = np.concatenate(cs)
    cut = int(np.flatnonzero(np.cumsum(cmd == STITCH) == stitches)[0]) + 1
    x, y, cmd = x[:cut], y[:cut], cmd[:cut]
    threads = list(source.threads) * copies
    return Design(
        file_type=source.file_type,
        x=np.append(x, x[-1]),
        y=np.append(y, y[-1]),
        cmd=np.append(cmd, END).astype(np.int32),
        threads=threads,
        name="tiled",
    )
