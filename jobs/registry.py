"""Which analyzer reads which file type. One explicit table, no import magic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from jobs import embroidery, gcode, sizeonly
from jobs.base import Analysis, AnalysisError, Artifact, MachineKind, Preview
from jobs.emb_formats import READABLE

AnalyzeFn = Callable[[Path, BaseModel | None], Analysis]
"""(file, the machine profile's kind section or None) -> Analysis"""
PreviewFn = Callable[[Path, BaseModel | None, Analysis], Preview | None]
ConvertFn = Callable[[Path, BaseModel, Path], Artifact]
"""(file, the machine's kind section, folder to write into) -> machine-ready file"""


@dataclass(frozen=True)
class AnalyzerSpec:
    kind: MachineKind
    analyze: AnalyzeFn
    preview: PreviewFn | None = None
    convert: ConvertFn | None = None
    """Makes the machine's own file; None when the file is sent as it is."""
    produces: frozenset[str] = frozenset()
    """File types ``convert`` writes (what the driver must take)."""


ANALYZERS: dict[str, AnalyzerSpec] = {
    "gcode": AnalyzerSpec(MachineKind.fdm_printer, gcode.analyze, gcode.preview),
    "gco": AnalyzerSpec(MachineKind.fdm_printer, gcode.analyze, gcode.preview),
    "g": AnalyzerSpec(MachineKind.fdm_printer, gcode.analyze, gcode.preview),
    # Until their analyzers land, vinyl files get a size-only analysis.
    "svg": AnalyzerSpec(MachineKind.vinyl_cutter, sizeonly.for_kind(MachineKind.vinyl_cutter)),
    "hpgl": AnalyzerSpec(MachineKind.vinyl_cutter, sizeonly.for_kind(MachineKind.vinyl_cutter)),
    "plt": AnalyzerSpec(MachineKind.vinyl_cutter, sizeonly.for_kind(MachineKind.vinyl_cutter)),
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


def convert(path: Path, file_type: str, params: BaseModel, out_dir: Path) -> Artifact | None:
    """The machine-ready file for ``params``' machine, or None to send the file as it is."""
    spec = ANALYZERS.get(file_type)
    if spec is None or spec.convert is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    return spec.convert(path, params, out_dir)


def sendable_types(spec: AnalyzerSpec, file_type: str) -> frozenset[str]:
    """What a driver receives for a submitted ``file_type``."""
    return spec.produces if spec.convert is not None else frozenset({file_type})
