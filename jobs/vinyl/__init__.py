"""Vinyl cutting: SVG import, geometry, cut plan and order, blade offset, HP-GL, preview.

Entry points are the analyzers, previews and converters for SVG and HP-GL files.
"""

from jobs.vinyl.analysis import (
    analyze_hpgl,
    analyze_svg,
    convert_hpgl,
    convert_svg,
    preview_hpgl,
    preview_svg,
)

__all__ = [
    "analyze_hpgl",
    "analyze_svg",
    "convert_hpgl",
    "convert_svg",
    "preview_hpgl",
    "preview_svg",
]
