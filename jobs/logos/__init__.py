"""Logos as people bring them (PDF, Illustrator, PNG, JPEG) turned into SVG for the
vinyl pipeline: ``pdftocairo -svg`` for vector files, ``potrace`` for pictures."""

from jobs.logos.convert import LOGO_TYPES, LogoOptions, LogoResult, logo_to_svg
from jobs.logos.pdf import pdf_available
from jobs.logos.trace import TraceOptions, trace_available

__all__ = [
    "LOGO_TYPES",
    "LogoOptions",
    "LogoResult",
    "TraceOptions",
    "logo_to_svg",
    "pdf_available",
    "trace_available",
]
