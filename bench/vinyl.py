"""Vinyl benchmark: the stencil lettering page (inkscape-silhouette, visible layer only).

Prints conversion time, blade travel in document order and in fabqueue's order (in the
file's user units, like vpype's figures), cut length, path count and HP-GL bytes.
Targets: conversion ≤ 1.0 s; travel ≤ 15 337 user units (vpype linesort --two-opt;
document order is 26 788).

    .venv/bin/python bench/vinyl.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jobs.params.cutter import CutterParams, HpglDialect  # noqa: E402
from jobs.vinyl import analysis as vinyl  # noqa: E402
from jobs.vinyl import order as cut_order  # noqa: E402
from jobs.vinyl.geometry import length, nesting  # noqa: E402
from jobs.vinyl.svg.read import read_svg  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "svg"
STENCIL = CORPUS / "inkscape-silhouette" / "stencil-free-fonts.svg"
UU_PER_MM = 90 / 25.4  # an Inkscape 0.48 document: 90 user units per inch
RUNS = 7


def convert_seconds(params: CutterParams, out: Path) -> tuple[list[float], int]:
    times = []
    size = 0
    for _ in range(RUNS):
        vinyl._CACHE.clear()  # measure the whole conversion every time
        started = time.perf_counter()
        art = vinyl.convert_svg(STENCIL, params, out)
        times.append(time.perf_counter() - started)
        size = art.path.stat().st_size
    return times, size


def main() -> int:
    if not STENCIL.exists():
        print(f"missing corpus file {STENCIL}", file=sys.stderr)
        return 1
    out = Path(tempfile.mkdtemp(prefix="fabqueue-bench-vinyl-"))

    import scipy.spatial  # noqa: F401  (jobs imports it lazily; not part of the timings)

    started = time.perf_counter()
    drawing = read_svg(STENCIL)
    read_s = time.perf_counter() - started
    paths = drawing.paths
    parent, _ = nesting(paths)
    started = time.perf_counter()
    ordered = cut_order.order(paths, parent, (0.0, 0.0))
    order_s = time.perf_counter() - started
    doc_uu = cut_order.travel(paths).travel_mm * UU_PER_MM
    ours_uu = cut_order.travel(ordered).travel_mm * UU_PER_MM
    cut_mm = sum(length(p.points) for p in paths)

    times, size = convert_seconds(CutterParams(), out)
    _, size_rel = convert_seconds(CutterParams(hpgl=HpglDialect(coordinates="relative")), out)
    _, size_pen = convert_seconds(CutterParams(blade_offset_mm=0.0), out)

    best, median = min(times), statistics.median(times)
    travel_ok = "MET" if ours_uu <= 15_337 else "NOT MET"
    time_ok = "MET" if median <= 1.0 else "NOT MET"
    rows = [
        ("file", f"{STENCIL.name} (visible layer)", ""),
        ("paths", f"{len(paths)}", "vpype: 821"),
        ("cut length", f"{cut_mm * UU_PER_MM:,.0f} uu = {cut_mm / 1000:.2f} m",
         "vpype: 56,546 px"),
        ("travel, document order", f"{doc_uu:,.0f} uu = {doc_uu / UU_PER_MM / 1000:.2f} m",
         "vpype: 26,788"),
        ("travel, fabqueue order", f"{ours_uu:,.0f} uu = {ours_uu / UU_PER_MM / 1000:.2f} m",
         f"target <= 15,337 (vpype two-opt): {travel_ok}"),
        ("travel saved", f"{100 * (1 - ours_uu / doc_uu):.1f} %", ""),
        ("read SVG / order alone", f"{read_s:.3f} s / {order_s:.3f} s", ""),
        ("conversion SVG -> HP-GL", f"median {median:.3f} s, best {best:.3f} s",
         f"{RUNS} runs; target <= 1.0 s: {time_ok}"),
        ("HP-GL bytes (generic profile)", f"{size:,}",
         f"{size * 10 / 9600 / 60:.1f} min at 9600 baud"),
        ("HP-GL bytes, relative coords", f"{size_rel:,}",
         f"{size_rel * 10 / 9600 / 60:.1f} min at 9600 baud"),
        ("HP-GL bytes, no blade offset", f"{size_pen:,}", "machines that offset themselves"),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'figure':<{width}}  {'value':<{value_width}}  note")
    print("-" * (width + value_width + 44))
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
