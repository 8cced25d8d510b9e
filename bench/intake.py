"""Intake benchmark: files as people bring them, to a priced job or to HP-GL.

1. a 5 MB binary STL (a closed sphere, ~100 000 triangles) → sliced by prusa-slicer
   (preset normal, no cache) → G-code analysed → priced. Target < 30 s; PrusaSlicer's own
   share is reported beside the total.
2. a vector PDF logo (the inkcut rectangles page, made with WeasyPrint) → SVG
   (pdftocairo) → HP-GL.
3. a 1600 × 1200 JPEG of that logo → traced (potrace) → HP-GL. Target < 3 s.

Each run is a fresh process. Peak memory: the Python process's VmHWM, and each external
tool's own peak (PrusaSlicer, pdftocairo, potrace) measured by GNU time through wrappers
put first on PATH (ru_maxrss of children would count the Python parent's memory, which
a vfork'ed child inherits). Median of RUNS runs, with min–max.

    .venv/bin/python bench/intake.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RUNS = 5


TOOLS = ("prusa-slicer", "pdftocairo", "pdfinfo", "potrace")


def _rss() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    peaks = [
        float(line.split()[-1]) / 1024
        for line in Path(os.environ["BENCH_TIME_LOG"]).read_text().splitlines()
        if line.strip()
    ]
    return {"python_mb": float(hwm.split()[1]) / 1024, "children_mb": max(peaks, default=0.0)}


def _wrappers(folder: Path, log: Path) -> dict[str, str]:
    """PATH and log for tools that report their own peak RSS (kB) to ``log``."""
    folder.mkdir(exist_ok=True)
    for tool in TOOLS:
        real = shutil.which(tool)
        if real is None:
            continue
        wrapper = folder / tool
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o "{log}" -f "%M" {real} "$@"\n')
        wrapper.chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}", "BENCH_TIME_LOG": str(log)}


def run_stl(model: Path, work: Path) -> dict[str, float]:
    from fabqueue.pricing.engine import PriceInput, price_line
    from fabqueue.profiles import load_profiles
    from jobs.gcode import analyze
    from jobs.gcode.analysis import with_material
    from jobs.models3d import SliceRequest, read_mesh, slice_model
    from jobs.params.printer import PrinterParams

    profiles = load_profiles(REPO / "profiles")
    machine = profiles.machines["imprimante-sim"]
    printer = machine.params
    assert isinstance(printer, PrinterParams)
    material = profiles.materials["pla-noir"]
    started = time.perf_counter()
    read_mesh(model, "stl")
    bed = (printer.build_x_mm, printer.build_y_mm, printer.build_z_mm)
    request = SliceRequest(profiles_dir=REPO / "profiles" / "slicing", bed_mm=bed)
    sliced = slice_model(model, "stl", request, work / "cache")
    analysis = analyze(sliced.gcode, printer)
    analysis = with_material(
        analysis, density_g_cm3=material.density_g_cm3, diameter_mm=material.diameter_mm
    )
    price = price_line(
        PriceInput(analysis=analysis, hourly_rate=Decimal(machine.hourly_rate), material=material),
        profiles.prices,
    )
    total = time.perf_counter() - started
    return {
        "total_s": total,
        "slicer_s": sliced.slicer_s,
        "price_eur": float(price.unit_price),
        "print_h": (analysis.duration_s or 0) / 3600,
        "gcode_mb": sliced.gcode.stat().st_size / 1e6,
        **_rss(),
    }


def run_logo(source: Path, file_type: str, work: Path) -> dict[str, float]:
    from fabqueue.profiles import load_profiles
    from jobs.logos import LogoOptions, TraceOptions, logo_to_svg
    from jobs.vinyl import convert_svg

    cutter = load_profiles(REPO / "profiles").machines["plotter-sim"].params
    started = time.perf_counter()
    options = LogoOptions(trace=TraceOptions(width_mm=100))
    made = logo_to_svg(source, file_type, options, work / "logo")
    (work / "out").mkdir()
    hpgl = convert_svg(made.svg, cutter, work / "out")
    total = time.perf_counter() - started
    return {"total_s": total, "hpgl_kb": hpgl.path.stat().st_size / 1024, **_rss()}


def make_inputs(work: Path) -> dict[str, Path]:
    from PIL import Image

    from tests.support.intake import LOGO, filled, logo_pdf, render_png, sphere_mesh

    stl = sphere_mesh(work / "sphere.stl", 30.0, 158)
    pdf = logo_pdf(work / "logo.pdf")
    painted = logo_pdf(work / "filled.pdf", filled(LOGO, work / "filled.svg"))
    png = render_png(painted, work / "filled", 1200)
    photo = Image.new("RGB", (1600, 1200), "white")
    photo.paste(Image.open(png).convert("RGB"), (200, 0))
    jpeg = work / "logo.jpg"
    photo.save(jpeg, quality=85)
    return {"stl": stl, "pdf": pdf, "jpg": jpeg}


def _child(kind: str, path: str, work: str) -> None:
    result = (
        run_stl(Path(path), Path(work)) if kind == "stl" else run_logo(Path(path), kind, Path(work))
    )
    print(json.dumps(result))


def _measure(kind: str, path: Path, root: Path) -> list[dict[str, float]]:
    runs = []
    for i in range(RUNS):
        work = root / f"{kind}-{i}"
        work.mkdir()
        env = {**os.environ, **_wrappers(root / "bin", work / "peaks.log")}
        (work / "peaks.log").touch()
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(path), str(work)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


def _spread(runs: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in runs]
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = make_inputs(root)
        size_mb = inputs["stl"].stat().st_size / 1e6
        stl = _measure("stl", inputs["stl"], root)
        print(f"STL {size_mb:.1f} MB → sliced → analysed → priced, {RUNS} runs, median (min–max)")
        print(f"  total            {_spread(stl, 'total_s')} s   target < 30 s")
        print(f"  prusa-slicer     {_spread(stl, 'slicer_s')} s")
        print(f"  peak memory      python {_spread(stl, 'python_mb')} MB, "
              f"prusa-slicer {_spread(stl, 'children_mb')} MB")  # fmt: skip
        print(f"  (mesh check, analysis and pricing: the rest; {stl[0]['gcode_mb']:.1f} MB G-code)")
        print(f"  print time {stl[0]['print_h']:.2f} h, price {stl[0]['price_eur']:.2f} € HT")
        for kind, label, target in (
            ("pdf", "PDF logo → SVG → HP-GL", ""),
            ("jpg", "1600×1200 JPEG → traced → HP-GL", "   target < 3 s"),
        ):
            runs = _measure(kind, inputs[kind], root)
            print(f"{label}, {RUNS} runs")
            print(f"  total            {_spread(runs, 'total_s')} s{target}")
            print(f"  peak memory      python {_spread(runs, 'python_mb')} MB, "
                  f"largest tool {_spread(runs, 'children_mb')} MB")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
