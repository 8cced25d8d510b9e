"""Embroidery pipeline per file: analysis, hoop check, preview, conversion.

Each case runs in a fresh process, so its peak memory is its own: the parent (numpy
figures, the picture) and the reader/writer worker it starts. Cases: every file of
the shared corpus, converted for a PES machine; a generated 200,000-stitch design
(Cake 3 tiled, 16 colour blocks of real satin and fill) for PES, JEF and DST machines;
and a 2,000,000-stitch file for robustness (analysis and picture only: no machine
takes it).

Targets (issue 6): the 200,000-stitch design in under 2 s, peak memory under 200 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = ("analysis_ms", "fit_ms", "preview_ms", "convert_ms")
HOOPS = [
    {"name": "SA432 (130 × 180)", "width_mm": 130, "height_mm": 180},
    {"name": "Jumbo (260 × 400)", "width_mm": 260, "height_mm": 400},
]


def one(path: Path, file_type: str, native: str, convert_too: bool) -> dict[str, object]:
    from jobs.embroidery.read import worker_peak_mb
    from jobs.embroidery.worker import peak_mb
    from jobs.params.embroidery import EmbroideryParams
    from jobs.registry import analyze, convert, preview

    params = EmbroideryParams.model_validate({"native_format": native, "hoops": HOOPS})
    out: dict[str, object] = {}
    t0 = time.perf_counter()
    analysis = analyze(path, file_type, params)
    t1 = time.perf_counter()
    problems = params.fit_problems(analysis)
    t2 = time.perf_counter()
    picture = preview(path, file_type, params, analysis)
    t3 = time.perf_counter()
    out.update(
        stitches=analysis.counts["stitches"],
        analysis_ms=(t1 - t0) * 1000,
        fit_ms=(t2 - t1) * 1000,
        preview_ms=(t3 - t2) * 1000,
        preview_kb=len(picture.data) / 1024 if picture else 0,
        fits=not problems,
    )
    if convert_too and not problems:
        with tempfile.TemporaryDirectory() as tmp:
            t4 = time.perf_counter()
            convert(path, file_type, params, Path(tmp))
            out["convert_ms"] = (time.perf_counter() - t4) * 1000
    out["parent_mb"] = peak_mb()  # VmHWM: ru_maxrss would carry the bench's own over exec
    out["worker_mb"] = worker_peak_mb()
    return out


def run_case(path: Path, file_type: str, native: str, convert_too: bool = True) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", str(path), file_type, native, str(convert_too)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:90]}
    return json.loads(proc.stdout)


def generated(tmp: Path) -> tuple[Path, Path]:
    from jobs.embroidery.read import WorkerLimits, read_design, run_worker
    from tests.support.embroidery import CAT, synthetic_dst, tiled_design

    big = tiled_design(read_design(CAT / "Cake_3.pes", "pes"), 200_000, step_mm=30)
    path = tmp / "tiled200k.dst"
    run_worker(
        "write", (big.payload({"name": "TILED"}), str(path), "dst", {}, [], {}), WorkerLimits()
    )
    huge = synthetic_dst(tmp / "synthetic2m.dst", 2_000_000)
    return path, huge


def fmt(value: object, spec: str = ".0f") -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "—"


def main() -> int:
    from jobs.base import AnalysisError  # noqa: F401  (import check before the run)
    from jobs.registry import ANALYZERS, file_type_of
    from tests.support.embroidery import corpus_files

    rows: list[tuple[str, str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        big, huge = generated(Path(tmp))
        for native in ("pes", "jef", "dst"):
            rows.append(
                (f"generated 200k (DST) → {native.upper()}", native, run_case(big, "dst", native))
            )
        rows.append(("generated 2M (DST), no convert", "pes", run_case(huge, "dst", "pes", False)))
        for path in corpus_files():
            t = file_type_of(path.name)
            if t not in ANALYZERS:
                rows.append((path.name, "pes", {"error": f"{t}: no reader (415)"}))
                continue
            rows.append((path.name, "pes", run_case(path, t, "pes")))

    head = (
        f"{'case':<34} {'stitches':>9} {'analyse':>8} {'fit':>5} {'preview':>8} "
        f"{'convert':>8} {'total':>7} {'parent':>7} {'worker':>7}"
    )
    print(head)
    print(f"{'':<34} {'':>9} {'ms':>8} {'ms':>5} {'ms':>8} {'ms':>8} {'ms':>7} {'MB':>7} {'MB':>7}")
    print("-" * len(head))
    for name, _native, r in rows:
        if "error" in r:
            print(f"{name:<34} {r['error']}")
            continue
        total = sum(
            float(r.get(k, 0.0)) for k in ("analysis_ms", "fit_ms", "preview_ms", "convert_ms")
        )
        convert_ms = r.get("convert_ms", "—" if r.get("fits") else "no fit")
        print(
            f"{name:<34} {r['stitches']:>9,} {fmt(r['analysis_ms']):>8} "
            f"{fmt(r['fit_ms'], '.1f'):>5} "
            f"{fmt(r['preview_ms']):>8} {fmt(convert_ms):>8} {fmt(total):>7} "
            f"{fmt(r['parent_mb']):>7} {fmt(r['worker_mb']):>7}"
        )
    target = [r for n, _, r in rows if n.startswith("generated 200k") and "error" not in r]
    worst = max(sum(float(r.get(k, 0.0)) for k in STAGES) for r in target)
    peak = max(max(float(r["parent_mb"]), float(r["worker_mb"])) for r in target)
    print()
    print(
        f"200k-stitch design: worst total {worst / 1000:.2f} s (target < 2 s), "
        f"peak {peak:.0f} MB per process (target < 200 MB)"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        result = one(Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "True")
        print(json.dumps(result))
        sys.exit(0)
    sys.exit(main())
