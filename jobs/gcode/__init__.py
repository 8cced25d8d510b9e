"""G-code for 3D printers: streaming reader, slicer metadata, motion planner, heat-up, preview.

Entry points: :func:`analyze` (time, filament, fit) and :func:`preview` (the slicer's
thumbnail, or a top view drawn from the moves).
"""

from jobs.gcode.analysis import analyze, preview

__all__ = ["analyze", "preview"]
