"""G-code analysis: time and peak memory per corpus file and for a ~100 MB file.

Each measurement runs in a fresh Python process, so its peak resident memory (the
process' ``ru_maxrss``, imports included) is that file's alone. Printed per file:
analysis wall and CPU time, preview time, peak RSS and its growth during the analysis,
our estimate against the slicer's and the filament length against the slicer's.

Targets (issue 3, on the 2-core machine): the 2 MB PrusaSlicer benchy in under 1.1 s;
under 150 MB peak memory for the 100 MB file (built here by concatenating the corpus
files in a temporary folder).

    .venv/bin/python bench/gcode_analysis.py [--big-mb 100]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "gcode"
BENCHY_TARGET_S = 1.1
BIG_TARGET_MB = 150.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(path: Path, cura: bool) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from jobs.gcode.analysis import analyze, preview
    from jobs.params.printer import PrinterParams
    from tests.support.gcode import CURA_2_3_DEFAULTS

    params = CURA_2_3_DEFAULTS if cura else PrinterParams()
    before = _rss_mb()
    wall = time.perf_counter()
    cpu = time.process_time()
    a = analyze(path, params)
    result: dict[str, Any] = {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "rss_before_mb": before,
        "rss_peak_mb": _rss_mb(),
        "size_mb": path.stat().st_size / 1e6,
        "lines": a.counts["lines"],
        "estimate_s": a.duration_s,
        "motion_s": a.details["motion_s"],
        "slicer_s": a.details["slicer_duration_s"],
        "filament_mm": a.material.get("filament_mm"),
        "slicer_mm": a.details["slicer_filament_mm"],
        "preview": "-",
    }
    t = time.perf_counter()
    picture = preview(path, params, a)
    result["preview_s"] = time.perf_counter() - t
    if picture is not None:
        kind = picture.media_type.split("/")[1].split("+")[0]
        result["preview"] = f"{kind} {len(picture.data) // 1024} KB"
    return result


def measure(path: Path, *, cura: bool = False) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", str(path)]
    if cura:
        args.append("--cura")
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def build_big(folder: Path, megabytes: float) -> Path:
    big = folder / "big.gcode"
    parts = sorted(CORPUS.glob("*.gcode"))
    with big.open("wb") as out:
        while out.tell() < megabytes * 1e6:
            for part in parts:
                data = part.read_bytes()
                out.write(data if data.endswith(b"\n") else data + b"\n")
    return big


def pct(ours: float | None, theirs: float | None) -> str:
    if ours is None or not theirs:
        return "-"
    return f"{(ours / theirs - 1) * 100:+.2f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--child", type=Path)
    parser.add_argument("--cura", action="store_true", help="Cura 2.3's default machine")
    parser.add_argument("--big-mb", type=float, default=100.0)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.cura)))
        return 0

    header = (
        f"{'file':<36} {'MB':>6} {'lines':>9} {'wall s':>7} {'cpu s':>6} {'peak MB':>8} "
        f"{'+MB':>5} {'est. min':>8} {'vs slicer':>9} {'motion vs':>9} {'filament':>8} "
        f"{'preview':>17}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for path in sorted(CORPUS.glob("*.gcode")):
        cura = path.name.startswith("cura")
        name = path.name + (" (Cura's machine)" if cura else "")
        rows.append((name, measure(path, cura=cura)))
    with tempfile.TemporaryDirectory() as tmp:
        big = build_big(Path(tmp), args.big_mb)
        result = measure(big)
        result["slicer_s"] = result["slicer_mm"] = None  # the first part's figures only
        rows.append((f"corpus concatenated, {result['size_mb']:.0f} MB", result))
    for name, r in rows:
        preview = f"{r['preview']} {r['preview_s']:.2f}s"
        print(
            f"{name:<36} {r['size_mb']:>6.1f} {r['lines']:>9} {r['wall_s']:>7.2f} "
            f"{r['cpu_s']:>6.2f} {r['rss_peak_mb']:>8.1f} "
            f"{r['rss_peak_mb'] - r['rss_before_mb']:>5.1f} {r['estimate_s'] / 60:>8.1f} "
            f"{pct(r['estimate_s'], r['slicer_s']):>9} {pct(r['motion_s'], r['slicer_s']):>9} "
            f"{pct(r['filament_mm'], r['slicer_mm']):>8} {preview:>17}"
        )
    benchy = dict(rows)["prusaslicer-benchy.gcode"]
    big_row = rows[-1][1]
    benchy_ok = benchy["wall_s"] < BENCHY_TARGET_S
    big_ok = big_row["rss_peak_mb"] < BIG_TARGET_MB
    print()
    print(
        f"benchy: {benchy['wall_s']:.2f} s wall, {benchy['cpu_s']:.2f} s CPU "
        f"(target < {BENCHY_TARGET_S} s): {'met' if benchy_ok else 'NOT MET'}"
    )
    print(
        f"~100 MB file: {big_row['rss_peak_mb']:.0f} MB peak resident, whole process "
        f"(target < {BIG_TARGET_MB:.0f} MB): {'met' if big_ok else 'NOT MET'}; "
        f"{big_row['wall_s']:.1f} s, {big_row['size_mb'] / big_row['wall_s']:.1f} MB/s"
    )
    print(
        "vs slicer: our estimate (motion + G4 dwells); motion vs: the planner alone "
        "(PrusaSlicer ignores G4); peak MB: the process' peak resident memory, "
        "+MB: its growth during the analysis"
    )
    return 0 if benchy_ok and big_ok else 1


if __name__ == "__main__":
    sys.exit(main())
