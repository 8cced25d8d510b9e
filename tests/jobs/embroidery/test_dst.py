"""fabqueue's numpy DST decoder against pyembroidery's reader, record for record."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyembroidery
import pytest
from pyembroidery.DstWriter import encode_record

from jobs.embroidery.dst import decode
from tests.support.embroidery import CAT, COLOR_CHANGE, EMB, JUMP, STITCH, synthetic_dst

DSTS = sorted(p for p in EMB.glob("*/*") if p.suffix.lower() == ".dst")


def reference(path: Path, settings: dict | None = None) -> np.ndarray:
    p = pyembroidery.EmbPattern()
    with path.open("rb") as fh:
        pyembroidery.DstReader.read(fh, p, settings)
    return np.array(p.stitches, dtype=np.float64).reshape(-1, 3)


def ours(path: Path, trim_at: int | None = 3, trim_distance: float | None = None) -> np.ndarray:
    x, y, cmd = decode(path.read_bytes(), trim_at, trim_distance)
    return np.column_stack([x, y, cmd.astype(np.float64)])


@pytest.mark.parametrize("path", DSTS, ids=lambda p: p.name)
@pytest.mark.parametrize("trim_at", [2, 3, 5])
def test_same_records_as_pyembroidery(path: Path, trim_at: int) -> None:
    np.testing.assert_array_equal(ours(path, trim_at), reference(path, {"trim_at": trim_at}))


def test_same_records_with_a_trim_distance() -> None:
    path = CAT / "Cake_3.dst"
    np.testing.assert_array_equal(
        ours(path, None, 3.0), reference(path, {"trim_at": None, "trim_distance": 3.0})
    )


def write(tmp: Path, records: list[tuple[int, int, int]]) -> Path:
    path = tmp / "made.dst"
    body = b"".join(encode_record(dx, dy, c) for dx, dy, c in records) + b"\x00\x00\xf3"
    path.write_bytes(b"LA:made\r".ljust(512, b" ") + body)
    return path


def test_trims_jumps_and_returns(tmp_path: Path) -> None:
    """Runs of jumps of every kind: a trim (out and back), a long move, a mix."""
    records = [(1, 1, STITCH)] * 5
    records += [(2, 2, JUMP), (-4, -4, JUMP), (2, 2, JUMP)]  # DST's way of writing a trim
    records += [(3, 0, STITCH)] * 4 + [(100, 0, JUMP)] * 4 + [(0, 5, STITCH)] * 3
    records += [(10, 0, JUMP), (-10, 0, JUMP), (50, 50, JUMP), (0, 0, COLOR_CHANGE)]
    records += [(1, 0, JUMP), (-1, 0, JUMP), (1, 1, STITCH)] * 3
    path = write(tmp_path, records)
    for trim_at in (1, 2, 3, 4):
        np.testing.assert_array_equal(ours(path, trim_at), reference(path, {"trim_at": trim_at}))


def test_sequins_and_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.dst"
    rng = np.random.default_rng(6)
    for seed in range(20):
        body = rng.integers(0, 256, size=3000, dtype=np.uint8).tobytes()
        path.write_bytes(b"LA:noise\r".ljust(512, b" ") + body + os.urandom(seed))
        np.testing.assert_array_equal(ours(path), reference(path))


def test_two_hundred_thousand_stitches(tmp_path: Path) -> None:
    path = synthetic_dst(tmp_path / "big.dst", 200_000)
    np.testing.assert_array_equal(ours(path), reference(path))
