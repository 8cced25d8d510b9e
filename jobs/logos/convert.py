"""One entry point: any logo file to an SVG the vinyl pipeline takes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobs.base import FileRejected
from jobs.logos.pdf import choose_page, is_raster_only, pdf_page_to_png, pdf_page_to_svg
from jobs.logos.trace import TraceOptions, trace

PDF_TYPES = frozenset({"pdf", "ai"})
RASTER_TYPES = frozenset({"png", "jpg", "jpeg"})
LOGO_TYPES = PDF_TYPES | RASTER_TYPES
RASTER_PDF_DPI = 300


@dataclass(frozen=True)
class LogoOptions:
    page: int | None = None
    trace: TraceOptions = field(default_factory=TraceOptions)


@dataclass(frozen=True)
class LogoResult:
    svg: Path
    details: dict[str, Any]


def logo_to_svg(source: Path, file_type: str, options: LogoOptions, out_dir: Path) -> LogoResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    if file_type in RASTER_TYPES:
        svg = trace(source, options.trace, out_dir / "traced.svg")
        return LogoResult(svg, {"from": file_type, "traced": True, **_trace_details(options)})
    if file_type not in PDF_TYPES:
        raise FileRejected(f"{file_type} is not a logo type ({', '.join(sorted(LOGO_TYPES))})")
    page = choose_page(source, options.page)
    svg = pdf_page_to_svg(source, page, out_dir / "page.svg")
    if not is_raster_only(svg):
        return LogoResult(svg, {"from": file_type, "page": page, "traced": False})
    # A scanned logo saved as PDF: the page is a picture, so it is traced like a photo.
    png = pdf_page_to_png(source, page, out_dir / "page", RASTER_PDF_DPI)
    traced = trace(png, replace(options.trace, dpi=RASTER_PDF_DPI), out_dir / "traced.svg")
    details = {"from": file_type, "page": page, "traced": True, **_trace_details(options)}
    return LogoResult(traced, details)


def _trace_details(options: LogoOptions) -> dict[str, Any]:
    t = options.trace
    return {"threshold": t.threshold, "speckle_px": t.speckle_px, "corner": t.corner}
