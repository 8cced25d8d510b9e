"""Which analyzer reads which file type. One explicit table, no import magic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from jobs import gcode, vinyl
from jobs.base import Analysis, AnalysisError, Artifact, MachineKind, Preview
from jobs.embroidery import analysis as embroidery
from jobs.embroidery.formats import READABLE
from jobs.logos import pdf_available, trace_available
from jobs.logos.convert import PDF_TYPES, RASTER_TYPES
from jobs.models3d import MODEL_TYPES, slicer_available

AnalyzeFn = Callable[[Path, BaseModel | None], Analysis]
"""(file, the machine profile's kind section or None) -> Analysis"""
PreviewFn = Callable[[Path, BaseModel | None, Analysis], Preview | None]
ConvertFn = Callable[[Path, BaseModel, Path], Artifact]
"""(file, the machine's kind section, folder to write into) -> machine-ready file"""
CopiesConvertFn = Callable[[Path, BaseModel, Path, int], Artifact]
"""Like ConvertFn, laying the job's copies out in one file (vinyl copies on the roll)."""


@dataclass(frozen=True)
class AnalyzerSpec:
    kind: MachineKind
    analyze: AnalyzeFn
    preview: PreviewFn | None = None
    convert: ConvertFn | None = None
    """Makes the machine's own file; None when the file is sent as it is."""
    produces: frozenset[str] = frozenset()
    """File types ``convert`` writes (what the driver must take)."""
    convert_copies: CopiesConvertFn | None = None
    """Used instead of ``convert`` when set: the copies go into the one machine file."""


ANALYZERS: dict[str, AnalyzerSpec] = {
    "gcode": AnalyzerSpec(MachineKind.fdm_printer, gcode.analyze, gcode.preview),
    "gco": AnalyzerSpec(MachineKind.fdm_printer, gcode.analyze, gcode.preview),
    "g": AnalyzerSpec(MachineKind.fdm_printer, gcode.analyze, gcode.preview),
    "svg": AnalyzerSpec(
        MachineKind.vinyl_cutter,
        vinyl.analyze_svg,
        vinyl.preview_svg,
        vinyl.convert_svg,
        frozenset({"hpgl"}),
        vinyl.convert_svg,
    ),
    **{
        ext: AnalyzerSpec(
            MachineKind.vinyl_cutter,
            vinyl.analyze_hpgl,
            vinyl.preview_hpgl,
            vinyl.convert_hpgl,
            frozenset({"hpgl"}),
            vinyl.convert_hpgl,
        )
        for ext in ("hpgl", "plt")
    },
    **{
        ext: AnalyzerSpec(
            MachineKind.embroidery,
            embroidery.analyzer(ext),
            embroidery.previewer(ext),
            embroidery.converter(ext),
            produces=embroidery.PRODUCES,
        )
        for ext in READABLE
    },
}


@dataclass(frozen=True)
class SourceSpec:
    """A file type made into another before it is analysed: a model sliced into G-code,
    a logo turned into SVG. The made file is the job's; the source is kept beside it."""

    kind: MachineKind
    becomes: str
    tool: str
    """The Debian package that does it, named in the error when it is missing."""
    available: Callable[[], bool]


SOURCES: dict[str, SourceSpec] = {
    **{t: SourceSpec(MachineKind.fdm_printer, "gcode", "prusa-slicer", slicer_available)
       for t in MODEL_TYPES},
    **{t: SourceSpec(MachineKind.vinyl_cutter, "svg", "poppler-utils", pdf_available)
       for t in PDF_TYPES},
    **{t: SourceSpec(MachineKind.vinyl_cutter, "svg", "potrace", trace_available)
       for t in RASTER_TYPES},
}  # fmt: skip


def file_type_of(filename: str) -> str:
    """The lower-case extension without its dot ('' when there is none)."""
    name = Path(filename).name
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def accepted_types(kind: MachineKind | None = None) -> list[str]:
    return sorted(t for t, spec in ANALYZERS.items() if kind is None or spec.kind == kind)


def analyze(path: Path, file_type: str, params: BaseModel | None = None) -> Analysis:
    spec = ANALYZERS.get(file_type)
    if spec is None:
        raise AnalysisError(
            f"unknown file type {file_type!r}; accepted: {', '.join(accepted_types())}"
        )
    # Stored files are named by hash: the type comes from the name the user gave.
    return spec.analyze(path, params).model_copy(update={"file_type": file_type})


def preview(
    path: Path, file_type: str, params: BaseModel | None, analysis: Analysis
) -> Preview | None:
    spec = ANALYZERS.get(file_type)
    return spec.preview(path, params, analysis) if spec and spec.preview else None


def convert(
    path: Path, file_type: str, params: BaseModel, out_dir: Path, copies: int = 1
) -> Artifact | None:
    """The machine-ready file for ``params``' machine, or None to send the file as it is."""
    spec = ANALYZERS.get(file_type)
    if spec is None or spec.convert is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    if spec.convert_copies is not None:
        return spec.convert_copies(path, params, out_dir, copies)
    return spec.convert(path, params, out_dir)


def sendable_types(spec: AnalyzerSpec, file_type: str) -> frozenset[str]:
    """What a driver receives for a submitted ``file_type``."""
    return spec.produces if spec.convert is not None else frozenset({file_type})
