"""A model made into G-code, start to end, as one worker task: the mesh is read and
checked, then sliced (or found in the cache), and PrusaSlicer's verdict put in words.

Run in a worker process of the models lane, never in the server: reading a 200 MB mesh
and waiting half a minute for PrusaSlicer are both a worker's business.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobs.base import FileRejected
from jobs.models3d.mesh import check_mesh, read_mesh
from jobs.models3d.slice import SliceRequest, slice_model

_REPAIRS = ("edges_fixed", "degenerate_facets", "facets_removed", "facets_reversed")


def model_to_gcode(
    model: Path, file_type: str, req: SliceRequest, cache_dir: Path
) -> tuple[Path, dict[str, Any]]:
    """The G-code of ``model`` (in ``cache_dir``) and how it was made, for the job's
    analysis: what the counter must know goes in ``warnings``."""
    problems = check_mesh(read_mesh(model, file_type), req.bed_mm, req.scale)
    if problems:
        raise FileRejected("; ".join(problems))
    result = slice_model(model, file_type, req, cache_dir)
    mesh = mesh_words(result.mesh_report)
    return result.gcode, {
        "warnings": [] if mesh["manifold"] else [mesh["said"]],
        "sliced_for": req.machine,
        "preset": req.preset,
        "material_type": req.material_type,
        "scale": req.scale,
        "slicer_s": round(result.slicer_s, 2),
        "cached": result.cached,
        "mesh": mesh,
    }


def mesh_words(report: dict[str, str]) -> dict[str, Any]:
    """PrusaSlicer's verdict on the mesh, with whether it repaired it."""
    repaired = {
        k: int(v) for k, v in report.items() if k in _REPAIRS and v.strip().isdigit() and int(v) > 0
    }
    manifold = report.get("manifold", "?").strip()
    words = "the mesh is closed (manifold)" if manifold == "yes" else "the mesh is not closed"
    if manifold != "yes":
        words += f" ({report.get('open_edges', '?').strip()} open edge(s) left)"
    if repaired:
        words += "; PrusaSlicer repaired it: " + ", ".join(f"{k} {v}" for k, v in repaired.items())
    return {"manifold": manifold == "yes", "repaired": repaired, "said": words}
