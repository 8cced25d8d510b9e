"""SVG documents as a cutter sees them: units, transforms, styles, visibility, path data."""

from jobs.vinyl.svg.read import read_svg

__all__ = ["read_svg"]
