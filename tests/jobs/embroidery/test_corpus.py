"""One design, many formats: the readers must agree (extents within 0.5 mm, stitch counts
within 2 %, or one stitch on a tiny design). Where the corpus disagrees, the disagreement
is pinned here, explained in docs/embroidery.md, and fails loudly if it ever changes."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

from jobs.base import AnalysisError
from jobs.embroidery.figures import Figures, compute
from jobs.embroidery.read import read_design
from jobs.params.embroidery import EmbroideryParams
from jobs.registry import file_type_of
from tests.support.embroidery import corpus_files

EXTENT_MM = 0.5
COUNT_SHARE = 0.02

KNOWN = {
    # The PEC block is stored turned by 90° against the file's own design box
    # (pyembroidery reads the PEC block; the reader also warns about it).
    "Embroidermodder.PES": "turned",
    # A reduced copy of the cake: its own header says 62.4 × 99.9 mm, 11,769 records.
    "Cake_3.hus": "smaller",
    # Fewer needle drops than its siblings; its header agrees with what is read.
    "Bean.hus": "fewer stitches",
    "Star.DSB": "fewer stitches",
}


@cache
def figures(path: Path) -> Figures | None:
    try:
        return compute(read_design(path, file_type_of(path.name)), EmbroideryParams())
    except AnalysisError:
        return None


def groups() -> list[tuple[str, Path, Path]]:
    by_design: dict[str, list[Path]] = defaultdict(list)
    for path in corpus_files():
        by_design[path.stem.lower()].append(path)
    out = []
    for name, paths in sorted(by_design.items()):
        refs = [p for p in paths if p.suffix.lower() == ".dst"]
        if len(paths) < 2 or not refs:
            continue
        out += [(name, refs[0], p) for p in paths if p != refs[0]]
    return out


def disagreement(ref: Figures, other: Figures) -> str | None:
    (rw, rh), (w, h) = ref.size_mm, other.size_mm
    same_box = abs(w - rw) <= EXTENT_MM + 1e-6 and abs(h - rh) <= EXTENT_MM + 1e-6
    turned_box = abs(w - rh) <= EXTENT_MM and abs(h - rw) <= EXTENT_MM
    count_ok = abs(other.stitches - ref.stitches) <= max(1, COUNT_SHARE * ref.stitches)
    if same_box and count_ok:
        return None
    if turned_box and count_ok:
        return "turned"
    if w < rw - EXTENT_MM and h < rh - EXTENT_MM:
        return "smaller"
    if same_box and other.stitches < ref.stitches:
        return "fewer stitches"
    return f"{w:.1f} × {h:.1f} mm, {other.stitches} stitches"


@pytest.mark.parametrize(("design", "ref", "other"), groups(), ids=lambda v: getattr(v, "name", v))
def test_formats_of_one_design_agree(design: str, ref: Path, other: Path) -> None:
    a, b = figures(ref), figures(other)
    if b is None:
        assert other.suffix.lower() in (".vip", ".csd")  # no reader for these
        return
    assert a is not None
    assert disagreement(a, b) == KNOWN.get(other.name)


def test_the_groups_cover_the_corpus() -> None:
    compared = {other.name for _, _, other in groups()}
    assert {"Star.pes", "Star.JEF", "Cake_3.vp3", "Cake_3.jef", "Embroidermodder.EXP"} <= compared
    assert set(KNOWN) <= compared
    assert len(compared) >= 35
