"""Files as people bring them: models sliced into G-code, logos made into SVG, before
the ordinary analysis and pricing. Called by ``submit_job`` for every caller (API, the
OctoPrint-compatible upload, pages, CLI).

The made file becomes the job's file (what is priced, checked and sent); the source is
stored and indexed too, and named in the analysis' ``details["made_from"]``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fabqueue.models import MachineRecord
from fabqueue.profiles import ProfileSet
from fabqueue.services.errors import Invalid, TooLarge, UnsupportedFileType
from fabqueue.services.machines import params_of
from fabqueue.storage import FileStore, Stored
from jobs.base import AnalysisError, FileRejected
from jobs.logos import LOGO_TYPES, LogoOptions, TraceOptions, logo_to_svg
from jobs.models3d import SliceRequest, check_mesh, read_mesh, slice_model
from jobs.params import MachineParams
from jobs.params.printer import PrinterParams
from jobs.registry import SOURCES, SourceSpec, file_type_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeOptions:
    """The few choices a model or a logo needs; ignored for ready files."""

    preset: str = "normal"
    infill_percent: int | None = None
    supports: bool = False
    brim_mm: float = 0.0
    scale: float = 1.0
    page: int | None = None
    threshold: int = 128
    speckle_px: int = 2
    corner: float = 1.0
    width_mm: float | None = None


def source_spec(file_type: str) -> SourceSpec | None:
    return SOURCES.get(file_type)


def unavailable() -> list[str]:
    """What this node cannot take in, in words (said at start-up and in /health)."""
    missing: dict[str, list[str]] = {}
    for file_type, spec in SOURCES.items():
        if not spec.available():
            missing.setdefault(spec.tool, []).append(file_type)
    return [
        f"{', '.join(sorted(types)).upper()} files are refused: {tool} is not installed"
        for tool, types in sorted(missing.items())
    ]


def _params(profiles: ProfileSet, record: MachineRecord) -> MachineParams:
    local = profiles.machines.get(record.slug)
    return local.params if local is not None else params_of(record)


def _slicing_dir(profiles: ProfileSet) -> Path:
    root = profiles.root if profiles.root is not None else Path("profiles")
    return root / "slicing"


def _slice(
    source: Path,
    file_type: str,
    *,
    store: FileStore,
    profiles: ProfileSet,
    target: MachineRecord,
    material: str | None,
    options: IntakeOptions,
) -> tuple[Path, dict[str, Any]]:
    printer = _params(profiles, target)
    assert isinstance(printer, PrinterParams)
    bed = (printer.build_x_mm, printer.build_y_mm, printer.build_z_mm)
    if not 0 < options.scale <= 100:
        raise Invalid("scale must be above 0 and at most 100")
    problems = check_mesh(read_mesh(source, file_type), bed, options.scale)
    if problems:
        raise Invalid("; ".join(problems))
    mat = profiles.materials.get(material) if material else None
    request = SliceRequest(
        profiles_dir=_slicing_dir(profiles),
        bed_mm=bed,
        machine=target.slug,
        material_type=(getattr(mat, "type", None) or "default").lower(),
        preset=options.preset,
        infill_percent=options.infill_percent,
        supports=options.supports,
        brim_mm=options.brim_mm,
        scale=options.scale,
    )
    result = slice_model(source, file_type, request, store.root / "cache" / "slices")
    mesh = _mesh_words(result.mesh_report)
    details = {
        "warnings": [] if mesh["manifold"] else [mesh["said"]],
        "sliced_for": target.slug,
        "preset": options.preset,
        "material_type": request.material_type,
        "scale": options.scale,
        "slicer_s": round(result.slicer_s, 2),
        "cached": result.cached,
        "mesh": mesh,
    }
    return result.gcode, details


def _mesh_words(report: dict[str, str]) -> dict[str, Any]:
    """PrusaSlicer's verdict on the mesh, with whether it repaired it."""
    repaired = {
        k: int(v)
        for k, v in report.items()
        if k in ("edges_fixed", "degenerate_facets", "facets_removed", "facets_reversed")
        and v.strip().isdigit()
        and int(v) > 0
    }
    manifold = report.get("manifold", "?").strip()
    words = "the mesh is closed (manifold)" if manifold == "yes" else "the mesh is not closed"
    if manifold != "yes":
        words += f" ({report.get('open_edges', '?').strip()} open edge(s) left)"
    if repaired:
        words += "; PrusaSlicer repaired it: " + ", ".join(f"{k} {v}" for k, v in repaired.items())
    return {"manifold": manifold == "yes", "repaired": repaired, "said": words}


def make_from_source(
    *,
    store: FileStore,
    profiles: ProfileSet,
    source: Stored,
    file_type: str,
    targets: list[MachineRecord],
    material: str | None,
    options: IntakeOptions,
    upload_limit: int,
) -> tuple[Stored, dict[str, Any]]:
    """Slice or convert the stored ``source``; store the result and say how it was made
    (``details["warnings"]`` are for the job's analysis: what the counter must know)."""
    spec = SOURCES[file_type]
    if not spec.available():
        raise Invalid(
            f"{file_type.upper()} files cannot be taken on this node: {spec.tool} is not "
            "installed (ask the admin to install it, or send a ready file)"
        )
    work = Path(tempfile.mkdtemp(dir=store.root / "tmp", prefix="intake-"))
    try:
        made, details = _make(
            source.path, file_type, spec, store, profiles, targets, material, options, work
        )
        with made.open("rb") as fh:
            stored = store.save(fh, limit=max(upload_limit, made.stat().st_size))
    except (AnalysisError, FileRejected) as exc:
        raise Invalid(str(exc)) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    details = {"file_type": file_type, "sha256": source.sha256, "size": source.size, **details}
    return stored, details


def _make(
    path: Path,
    file_type: str,
    spec: SourceSpec,
    store: FileStore,
    profiles: ProfileSet,
    targets: list[MachineRecord],
    material: str | None,
    options: IntakeOptions,
    work: Path,
) -> tuple[Path, dict[str, Any]]:
    if spec.becomes == "gcode":
        return _slice(
            path, file_type, store=store, profiles=profiles, target=targets[0],
            material=material, options=options,
        )  # fmt: skip
    trace = TraceOptions(
        threshold=options.threshold,
        speckle_px=options.speckle_px,
        corner=options.corner,
        width_mm=options.width_mm,
    )
    result = logo_to_svg(path, file_type, LogoOptions(page=options.page, trace=trace), work)
    return result.svg, result.details


def logo_preview(
    *, store: FileStore, stream: BinaryIO, filename: str, options: IntakeOptions, upload_limit: int
) -> bytes:
    """The SVG a logo would become with ``options``, nothing kept (a live preview)."""
    file_type = file_type_of(filename)
    spec = SOURCES.get(file_type)
    if spec is None or spec.becomes != "svg":
        raise UnsupportedFileType(
            f"only logos can be previewed here: {', '.join(sorted(LOGO_TYPES))}",
            accepted=sorted(LOGO_TYPES),
        )
    if not spec.available():
        raise Invalid(f"{file_type.upper()} logos cannot be taken: {spec.tool} is not installed")
    store.ensure()
    work = Path(tempfile.mkdtemp(dir=store.root / "tmp", prefix="preview-"))
    try:
        source = work / f"logo.{file_type}"
        size = 0
        with source.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > upload_limit:
                    raise TooLarge(f"the file is over {upload_limit} bytes", limit=upload_limit)
                out.write(chunk)
        made = _make(source, file_type, spec, store, ProfileSet(), [], None, options, work)
        return made[0].read_bytes()
    except (AnalysisError, FileRejected) as exc:
        raise Invalid(str(exc)) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
