"""Vinyl benchmark.

Part 1, the stencil lettering page (inkscape-silhouette, visible layer only): conversion
time, blade travel in document order and in fabqueue's order (in the file's user units,
like vpype's figures), cut length, path count and HP-GL bytes. Targets: conversion
≤ 1.0 s; travel ≤ 15 337 user units (vpype linesort --two-opt; document order 26 788).

Part 2 (``--corpus``), every SVG of the corpus fabqueue cuts: blade-up travel in
fabqueue's order against vpype's ``linesort --two-opt`` run on the very same polylines
(so units, flattening and hidden content cannot differ), how many times each order cuts
a contour after one around it (fabqueue: must be 0), and the conversion time. vpype is
not a fabqueue dependency: it runs in its own virtualenv, named by ``VPYPE_PYTHON``.

    .venv/bin/python bench/vinyl.py
    VPYPE_PYTHON=/tmp/vpype-venv/bin/python .venv/bin/python bench/vinyl.py --corpus
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jobs.base import AnalysisError, FileRejected  # noqa: E402
from jobs.params.cutter import CutterParams, HpglDialect  # noqa: E402
from jobs.vinyl import analysis as vinyl  # noqa: E402
from jobs.vinyl import order as cut_order  # noqa: E402
from jobs.vinyl.geometry import CutPath, enclosing, length, nesting  # noqa: E402
from jobs.vinyl.svg.read import read_svg  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "svg"
STENCIL = CORPUS / "inkscape-silhouette" / "stencil-free-fonts.svg"
UU_PER_MM = 90 / 25.4  # an Inkscape 0.48 document: 90 user units per inch
RUNS = 7
CORPUS_RUNS = 3


def convert_seconds(
    params: CutterParams, out: Path, svg: Path, runs: int
) -> tuple[list[float], int]:
    times = []
    size = 0
    for _ in range(runs):
        vinyl._CACHE.clear()  # measure the whole conversion every time
        started = time.perf_counter()
        art = vinyl.convert_svg(svg, params, out)
        times.append(time.perf_counter() - started)
        size = art.path.stat().st_size
    return times, size


def ordered(paths: list[CutPath]) -> list[CutPath]:
    around = enclosing(paths)
    parent, _ = nesting(paths, around)
    return cut_order.order(paths, parent, (0.0, 0.0), around=around)


def stencil() -> int:
    if not STENCIL.exists():
        print(f"missing corpus file {STENCIL}", file=sys.stderr)
        return 1
    out = Path(tempfile.mkdtemp(prefix="fabqueue-bench-vinyl-"))
    reads = []
    for _ in range(RUNS):
        started = time.perf_counter()
        drawing = read_svg(STENCIL)
        reads.append(time.perf_counter() - started)
    paths = drawing.paths
    orders = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = ordered(paths)
        orders.append(time.perf_counter() - started)
    doc_uu = cut_order.travel(paths).travel_mm * UU_PER_MM
    ours_uu = cut_order.travel(result).travel_mm * UU_PER_MM
    cut_mm = sum(length(p.points) for p in paths)

    times, size = convert_seconds(CutterParams(), out, STENCIL, RUNS)
    relative = CutterParams(hpgl=HpglDialect(coordinates="relative"))
    _, size_rel = convert_seconds(relative, out, STENCIL, 1)
    _, size_pen = convert_seconds(CutterParams(blade_offset_mm=0.0), out, STENCIL, 1)

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
        ("read SVG / order alone", f"median {statistics.median(reads):.3f} s / "
         f"{statistics.median(orders):.3f} s", f"{RUNS} runs each"),
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


# --- the corpus against vpype ------------------------------------------------------------


@dataclass
class Row:
    name: str
    paths: int
    ours_mm: float
    vpype_mm: float
    ours_late: int
    vpype_late: int
    convert_s: float


def _key(points: np.ndarray) -> tuple[float, ...]:
    ends = sorted([tuple(np.round(points[0], 6)), tuple(np.round(points[-1], 6))])
    return (*ends[0], *ends[1], round(length(points), 5))


def vpype_result(paths: list[CutPath], sorted_npz: Path) -> tuple[list[int], float]:
    """vpype's order as indexes into ``paths``, and its blade-up travel."""
    back = np.load(sorted_npz)
    lines = [back[f"p{k}"] for k in range(len(back.files))]
    keys: dict[tuple[float, ...], list[int]] = {}
    for k, p in enumerate(paths):
        keys.setdefault(_key(p.points), []).append(k)
    seq = [keys[_key(line)].pop() for line in lines]
    travel = cut_order.travel([CutPath(line, False) for line in lines]).travel_mm
    return seq, travel


def late_cuts(seq: list[int], around: list[list[int]]) -> int:
    """How many times a contour comes after a closed path around it."""
    pos = {i: k for k, i in enumerate(seq)}
    return sum(1 for i, ups in enumerate(around) for up in ups if pos[up] < pos[i])


def _our_indexes(paths: list[CutPath], result: list[CutPath]) -> list[int]:
    """The order rotates closed paths and flips open ones: match by what stays."""
    keys: dict[tuple[object, ...], list[int]] = {}
    for k, p in enumerate(paths):
        keys.setdefault(_shape_key(p), []).append(k)
    return [keys[_shape_key(p)].pop() for p in result]


def _shape_key(p: CutPath) -> tuple[object, ...]:
    body = p.points[:-1] if p.closed else p.points
    return (p.source, p.closed, len(body), round(float(body.sum()), 4))


def readable(files: list[Path]) -> list[tuple[Path, list[CutPath]]]:
    out = []
    for svg in files:
        try:
            paths = read_svg(svg).paths
        except (AnalysisError, FileRejected):
            continue
        if len(paths) >= 2:
            out.append((svg, paths))
    return out


def corpus(python: str) -> int:
    """Blade-up travel between paths (vpype's measure: the move to the first path is not
    counted, and fabqueue's order is given a free start for the comparison)."""
    work = Path(tempfile.mkdtemp(prefix="fabqueue-bench-vpype-"))
    out = Path(tempfile.mkdtemp(prefix="fabqueue-bench-vinyl-"))
    drawings = readable(sorted(CORPUS.rglob("*.svg")))
    sources = []
    for k, (_, paths) in enumerate(drawings):
        src = work / f"d{k}.npz"
        np.savez(src, **{f"p{j}": p.points for j, p in enumerate(paths)})  # type: ignore[arg-type]
        sources.append(str(src))
    script = REPO / "bench" / "vpype_linesort.py"
    subprocess.run([python, str(script), *sources], check=True, capture_output=True)
    rows = []
    for k, (svg, paths) in enumerate(drawings):
        around = enclosing(paths)
        parent, _ = nesting(paths, around)
        ours = cut_order.order(paths, parent, None, around=around)
        seq_vp, vp_mm = vpype_result(paths, work / f"d{k}.sorted.npz")
        try:
            times, _ = convert_seconds(CutterParams(), out, svg, CORPUS_RUNS)
        except (AnalysisError, FileRejected):
            times = [float("nan")]
        rows.append(Row(f"{svg.parent.name}/{svg.name}", len(paths),
                        cut_order.travel(ours).travel_mm, vp_mm,
                        late_cuts(_our_indexes(paths, ours), around), late_cuts(seq_vp, around),
                        statistics.median(times)))  # fmt: skip
    return report(rows)


def report(rows: list[Row]) -> int:
    print(f"{'file':<58} {'paths':>5} {'ours mm':>10} {'vpype mm':>10} {'ratio':>6} "
          f"{'late ours/vpype':>15} {'convert s':>9}")  # fmt: skip
    worse = 0
    for r in rows:
        ratio = r.ours_mm / r.vpype_mm if r.vpype_mm > 1e-9 else 1.0
        worse += r.ours_mm > r.vpype_mm + 1e-6
        print(f"{r.name[-58:]:<58} {r.paths:>5} {r.ours_mm:>10.1f} {r.vpype_mm:>10.1f} "
              f"{ratio:>6.3f} {r.ours_late:>7}/{r.vpype_late:<7} {r.convert_s:>9.3f}")  # fmt: skip
    total_ours = sum(r.ours_mm for r in rows)
    total_vp = sum(r.vpype_mm for r in rows)
    print(
        f"{len(rows)} files with 2+ paths; fabqueue longer than vpype on {worse}; "
        f"total travel {total_ours:,.0f} mm against {total_vp:,.0f} mm; "
        f"contours cut after their container: fabqueue {sum(r.ours_late for r in rows)}, "
        f"vpype {sum(r.vpype_late for r in rows)}"
    )
    return 0 if worse == 0 else 2


def main() -> int:
    # scipy is imported lazily by the cut order: not part of the timings.
    import scipy.spatial  # noqa: F401

    if "--corpus" in sys.argv:
        python = os.environ.get("VPYPE_PYTHON")
        if not python:
            print("set VPYPE_PYTHON to a python that has vpype", file=sys.stderr)
            return 1
        return corpus(python)
    return stencil()


if __name__ == "__main__":
    raise SystemExit(main())
