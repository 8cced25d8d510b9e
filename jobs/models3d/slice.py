"""PrusaSlicer's command line as a separate process, with time and memory limits.

PrusaSlicer is never imported: it runs as ``prusa-slicer`` (Debian's package, headless
with ``--export-gcode``), so a mesh that makes it crash or balloon costs one process, not
the service. Results are cached by content: the key is the model's bytes, the ``.ini``
files' bytes and the command line, so a profile edit slices again and nothing else does.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobs.base import AnalysisError, FileRejected

SLICER = "prusa-slicer"
PRESETS = ("brouillon", "normal", "fin")
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MEMORY_BYTES = 3 * 1024**3
DEFAULT_CACHE_BYTES = 2 * 1024**3
_CACHE_VERSION = b"fabqueue-slice-1"


def slicer_available() -> bool:
    return shutil.which(SLICER) is not None


@dataclass(frozen=True)
class SliceRequest:
    """What decides the G-code: the slicing profiles and the café's few choices."""

    profiles_dir: Path
    """``profiles/slicing``: machines/, materials/, presets/ of PrusaSlicer ``.ini``."""
    bed_mm: tuple[float, float, float]
    machine: str = "default"
    material_type: str = "pla"
    preset: str = "normal"
    infill_percent: int | None = None
    supports: bool = False
    brim_mm: float = 0.0
    scale: float = 1.0
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    cache_bytes: int = DEFAULT_CACHE_BYTES
    """Sliced G-code kept in the cache; the least recently used is removed past it."""


@dataclass(frozen=True)
class SliceResult:
    gcode: Path
    cached: bool
    slicer_s: float
    """Wall time PrusaSlicer itself took, mesh report included (0 from the cache)."""
    mesh_report: dict[str, str] = field(default_factory=dict)
    """PrusaSlicer's ``--info`` figures (manifold, open_edges, edges_fixed…)."""


def _ini(folder: Path, name: str, what: str) -> Path:
    path = folder / f"{name.lower()}.ini"
    if not path.is_file():
        fallback = folder / "default.ini"
        if folder.name != "presets" and fallback.is_file():
            return fallback
        known = sorted(p.stem for p in folder.glob("*.ini"))
        raise FileRejected(f"no slicing {what} {name!r}; known: {', '.join(known) or 'none'}")
    return path


def profile_files(req: SliceRequest) -> list[Path]:
    """Machine, then material, then preset: later files override earlier ones."""
    if req.preset not in PRESETS:
        raise FileRejected(f"unknown preset {req.preset!r}; choose one of {', '.join(PRESETS)}")
    root = req.profiles_dir
    return [
        _ini(root / "machines", req.machine, "machine"),
        _ini(root / "materials", req.material_type, "material"),
        _ini(root / "presets", req.preset, "preset"),
    ]


def _options(req: SliceRequest) -> list[str]:
    x, y, z = req.bed_mm
    args = [
        f"--bed-shape=0x0,{x:g}x0,{x:g}x{y:g},0x{y:g}",
        f"--max-print-height={z:g}",
        f"--center={x / 2:g},{y / 2:g}",
    ]
    if req.infill_percent is not None:
        args.append(f"--fill-density={req.infill_percent}%")
    if req.supports:
        args.append("--support-material")
    if req.brim_mm > 0:
        args.append(f"--brim-width={req.brim_mm:g}")
    if req.scale != 1.0:
        args.append(f"--scale={req.scale:g}")
    return args


def _limits(memory_bytes: int, cpu_s: int) -> None:  # pragma: no cover - runs in the child
    # Both set here, not inherited: a worker process that starts the slicer has its own,
    # smaller limits, meant for reading files, not for PrusaSlicer.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, resource.RLIM_INFINITY))
    os.nice(5)


def _run(args: list[str], req: SliceRequest) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [SLICER, *args],
            capture_output=True,
            text=True,
            timeout=req.timeout_s,
            preexec_fn=lambda: _limits(req.memory_bytes, math.ceil(req.timeout_s)),
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except FileNotFoundError as exc:
        raise FileRejected(
            "model slicing is unavailable: prusa-slicer is not installed on this node "
            "(apt install prusa-slicer)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise FileRejected(
            f"slicing took longer than {req.timeout_s:.0f} s and was stopped; simplify the model"
        ) from exc


_INFO = re.compile(r"^(\w+)\s*=\s*(.+?)\s*$", re.MULTILINE)
_ERROR = re.compile(r"\[error\]\s*(.*)|^(?:Error|error):?\s*(.*)$", re.MULTILINE)


def mesh_report(model: Path, req: SliceRequest) -> dict[str, str]:
    """What PrusaSlicer finds in the mesh (manifold, open edges, what it repaired)."""
    done = _run(["--info", str(model)], req)
    return {k: v for k, v in _INFO.findall(done.stdout) if not k.startswith("vertex")}


_OUT_OF_MEMORY = ("bad_alloc", "failed to map segment", "Cannot allocate memory", "out of memory")


def _failure(done: subprocess.CompletedProcess[str], req: SliceRequest) -> str:
    said = done.stderr + done.stdout
    if any(sign in said for sign in _OUT_OF_MEMORY):
        return (
            f"PrusaSlicer went over its memory limit ({req.memory_bytes // 2**20} MB) and "
            "was stopped; simplify the model"
        )
    if done.returncode < 0:
        return f"PrusaSlicer stopped on signal {-done.returncode} (it crashed on this model)"
    found = [a or b for a, b in _ERROR.findall(said)]
    tail = "; ".join(m for m in found if m) or (done.stderr.strip().splitlines() or ["?"])[-1]
    return f"PrusaSlicer could not slice this model: {tail}"


def cache_key(model: Path, req: SliceRequest, files: list[Path]) -> str:
    digest = hashlib.sha256(_CACHE_VERSION)
    with model.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    for path in files:
        digest.update(b"\0" + path.read_bytes())
    digest.update("\0".join(_options(req)).encode())
    return digest.hexdigest()


def slice_model(model: Path, file_type: str, req: SliceRequest, cache_dir: Path) -> SliceResult:
    """G-code for ``model``, from the cache when this exact slicing was done before."""
    files = profile_files(req)
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{cache_key(model, req, files)}.gcode"
    # PrusaSlicer picks its reader by the name's extension; stored files have none.
    # Its own folder per call: two uploads of one model may be sliced at the same time.
    work = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".slicing-"))
    try:
        source = work / f"model.{file_type}"
        if _same_fs(model, work):
            os.link(model, source)
        else:
            shutil.copyfile(model, source)
        started = time.perf_counter()
        report = mesh_report(source, req)
        if target.exists():
            os.utime(target)  # recently used: the last to be trimmed
            return SliceResult(target, cached=True, slicer_s=0.0, mesh_report=report)
        out = work / "out.gcode"
        args = ["--export-gcode", *(f"--load={p}" for p in files), *_options(req)]
        done = _run([*args, f"--output={out}", str(source)], req)
        elapsed = time.perf_counter() - started
        if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            raise AnalysisError(_failure(done, req))
        out.replace(target)  # atomic: a reader never sees half a file
    finally:
        shutil.rmtree(work, ignore_errors=True)
    trim_cache(cache_dir, req.cache_bytes, keep=target)
    return SliceResult(target, cached=False, slicer_s=elapsed, mesh_report=report)


def trim_cache(cache_dir: Path, max_bytes: int, *, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used sliced files until the cache holds at most
    ``max_bytes`` (``keep``, the file just made, stays even if alone it is larger).
    A file being read by a job is safe: the job's copy is in the file store."""
    entries = []
    for path in cache_dir.glob("*.gcode"):
        try:
            st = path.stat()
        except FileNotFoundError:  # trimmed by a slicing next door
            continue
        entries.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, path in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        if path == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    return removed


def _same_fs(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev
