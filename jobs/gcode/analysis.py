"""G-code analysis: planner time estimate, filament, bounds, slicer figures, preview.

``duration_s`` is this module's own estimate, never the slicer's: the motion planner's
time (:mod:`jobs.gcode.planner`) plus the file's dwells (G4). Heat-up (M109/M190 waits) and
overheads the file does not show (homing and bed levelling beyond their moves, the
per-job bed clearing) are reported apart in ``details`` (``heatup_s``, ``overhead_s``),
and ``details.machine_time_s`` adds them all up. The slicer's own figures go to
``details.slicer_*`` for comparison. See ``docs/gcode.md``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jobs.base import Analysis, AnalysisError, Bounds, MachineKind, Preview, Quantity
from jobs.gcode.motion import limits_from
from jobs.gcode.parse import Interpreter
from jobs.gcode.planner import KIND_NAMES, Planner
from jobs.params.printer import PrinterParams

ANALYZER = "gcode-planner"
DEFAULT_DENSITY_G_CM3 = 1.24
"""PLA, the usual filament, when neither the material nor the file gives a density."""


def grams(length_mm: float, diameter_mm: float, density_g_cm3: float) -> float:
    """Mass of ``length_mm`` of filament."""
    return length_mm * math.pi * (diameter_mm / 2.0) ** 2 * density_g_cm3 / 1000.0


def _per_tool(values: Any, tool: int) -> float | None:
    if isinstance(values, list) and values:
        v = values[tool] if tool < len(values) else values[-1]
        return float(v) if isinstance(v, int | float) and v > 0 else None
    return None


def analyze(path: Path, params: BaseModel | None = None) -> Analysis:
    printer = params if isinstance(params, PrinterParams) else PrinterParams()
    planner = Planner(limits_from(printer))
    interp = Interpreter(printer, planner=planner)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise AnalysisError(f"cannot read the file: {exc.strerror}") from exc
    with handle:
        interp.run(handle)
    _check_is_gcode(interp.counts)
    motion_s = planner.finish()
    meta = interp.meta.values
    warnings = list(interp.warnings) + interp.meta.warnings
    if interp.unknown:
        names = ", ".join(f"{n} ×{c}" for n, c in interp.unknown.most_common(8))
        warnings.append(
            f"{sum(interp.unknown.values())} commands not understood ({names}): "
            "counted, but their time is not estimated"
        )
    if interp.counts["extrusions"] == 0:
        warnings.append("the file extrudes nothing: it prints no part")
    filament = _Filament(interp, printer, warnings)
    duration_s = motion_s + interp.dwell_s
    if meta.get("slicer_duration_s") is None:
        warnings.append("the file carries no slicer time estimate to compare with")
    part_box, all_box = _boxes(interp)
    return Analysis(
        kind=MachineKind.fdm_printer,
        file_type="gcode",
        analyzer=ANALYZER,
        duration_s=round(duration_s, 3),
        material=filament.material(),
        bounds=part_box or all_box,
        counts=_counts(interp, planner),
        warnings=warnings,
        details=_details(interp, planner, printer, filament, motion_s),
    )


def _check_is_gcode(counts: Counter[str]) -> None:
    if counts["lines"] == 0:
        raise AnalysisError("the file is empty")
    unparsed = counts["unparsed"]
    if counts["commands"] == 0:
        if unparsed:
            raise AnalysisError(
                f"this is not G-code: none of its {counts['lines']} lines is a G-code command"
            )
        raise AnalysisError("the file holds no G-code commands")
    if unparsed > 20 and unparsed > counts["commands"]:
        raise AnalysisError(
            f"this does not look like G-code: {unparsed} of its {counts['lines']} lines "
            "are not G-code commands"
        )


class _Filament:
    """Filament per tool, with the file's diameters and densities where it gives them."""

    def __init__(self, interp: Interpreter, printer: PrinterParams, warnings: list[str]) -> None:
        meta = interp.meta.values
        self.per_tool_mm = interp.filament_mm()
        self.per_tool_g: dict[str, float] = {}
        density_known = True
        for tool, length in self.per_tool_mm.items():
            diameter = (
                _per_tool(meta.get("filament_diameter_mm"), tool) or printer.filament_diameter_mm
            )
            density = _per_tool(meta.get("filament_density_g_cm3"), tool)
            if density is None:
                density_known = False
                density = DEFAULT_DENSITY_G_CM3
            self.per_tool_g[str(tool)] = grams(length, diameter, density)
        if self.per_tool_mm and not density_known:
            warnings.append(
                f"the file gives no filament density: {DEFAULT_DENSITY_G_CM3} g/cm³ (PLA) is "
                "assumed until a material is chosen"
            )
        file_diameter = _per_tool(meta.get("filament_diameter_mm"), 0)
        if file_diameter is not None and abs(file_diameter - printer.filament_diameter_mm) > 0.1:
            warnings.append(
                f"the file was sliced for {file_diameter:g} mm filament; this printer takes "
                f"{printer.filament_diameter_mm:g} mm"
            )

    def material(self) -> dict[str, float]:
        if not self.per_tool_mm:
            return {}
        return {
            Quantity.FILAMENT_MM: round(sum(self.per_tool_mm.values()), 2),
            Quantity.FILAMENT_G: round(sum(self.per_tool_g.values()), 3),
        }


def _boxes(interp: Interpreter) -> tuple[Bounds | None, Bounds | None]:
    """(the part's box, every move's box)."""
    extrusion_box = interp.extrusions.bounds()
    part_box = interp.part.bounds() or extrusion_box
    if part_box is not None and 0.0 < part_box.min_z <= 2.0:
        # The lowest extrusion is the top of the first layer: the part starts on the bed.
        part_box = part_box.model_copy(update={"min_z": 0.0})
    return part_box, interp.all_moves.bounds()


def _counts(interp: Interpreter, planner: Planner) -> dict[str, int]:
    counts = interp.counts
    return {
        "lines": counts["lines"],
        "commands": counts["commands"],
        "moves": counts["moves"],
        "extrusions": counts["extrusions"],
        "arcs": counts["arcs"],
        "arc_segments": counts["arc_segments"],
        "layers": interp.meta.layer_marks or counts["z_levels"],
        "tool_changes": counts["tool_changes"],
        "heat_waits": counts["heat_waits"],
        "homings": counts["homings"],
        "dwells": counts["dwells"],
        "unknown_commands": sum(interp.unknown.values()),
        "unparsed_lines": counts["unparsed"],
        "nonfinite_values": counts["nonfinite"],
        "thumbnails": len(interp.meta.thumbnails),
        "planner_blocks": planner.blocks,
    }


_COPIED_META = (
    "filament_type",
    "nozzle_diameter_mm",
    "layer_height_mm",
    "printer_model",
    "printer_settings",
    "flavor",
    "layer_count",
)


def _details(
    interp: Interpreter,
    planner: Planner,
    printer: PrinterParams,
    filament: _Filament,
    motion_s: float,
) -> dict[str, Any]:
    meta = interp.meta.values
    dwell_s = interp.dwell_s
    duration_s = motion_s + dwell_s
    heatup_s = interp.heaters.waited_s
    homing_s = interp.overhead_s
    overhead_s = homing_s + printer.job_overhead_s
    slicer_s = meta.get("slicer_duration_s")
    extrusion_box = interp.extrusions.bounds()
    all_box = interp.all_moves.bounds()
    thumbnails = [t for t in interp.meta.thumbnails if t.complete]
    best = max(thumbnails, key=lambda t: t.width * t.height, default=None)
    details: dict[str, Any] = {
        "motion_s": round(motion_s, 3),
        "dwell_s": round(dwell_s, 3),
        "heatup_s": round(heatup_s, 1),
        "homing_s": round(homing_s, 1),
        "overhead_s": round(overhead_s, 1),
        "machine_time_s": round(duration_s + heatup_s + overhead_s, 1),
        "time_by_move": {
            name: round(t, 1) for name, t in zip(KIND_NAMES, planner.time_by_kind, strict=True)
        },
        "junction": (
            "junction_deviation" if planner.limits.junction_deviation_mm is not None else "jerk"
        ),
        "limits_from_file": interp.counts["limit_commands"] > 0,
        "filament_mm_per_tool": {str(t): round(v, 2) for t, v in filament.per_tool_mm.items()},
        "filament_g_per_tool": {t: round(v, 3) for t, v in filament.per_tool_g.items()},
        "filament_density_g_cm3": meta.get("filament_density_g_cm3"),
        "filament_diameter_mm": meta.get("filament_diameter_mm") or [printer.filament_diameter_mm],
        "flow_percents": sorted(interp.flows),
        "extrusion_bounds": extrusion_box.model_dump() if extrusion_box else None,
        "all_moves_bounds": all_box.model_dump() if all_box else None,
        "slicer": meta.get("slicer"),
        "slicer_duration_s": slicer_s,
        "slicer_filament_mm": _round(meta.get("slicer_filament_mm"), 2),
        "slicer_filament_g": _round(meta.get("slicer_filament_g"), 3),
        "estimate_vs_slicer_pct": (
            round((duration_s / slicer_s - 1.0) * 100.0, 2) if slicer_s else None
        ),
        "thumbnails": [t.as_dict() for t in interp.meta.thumbnails],
        "thumbnail": best.as_dict() if best else None,
    }
    details.update({key: meta[key] for key in _COPIED_META if key in meta})
    return details


def _round(value: Any, digits: int) -> float | None:
    return round(float(value), digits) if isinstance(value, int | float) else None


def with_material(
    analysis: Analysis, *, density_g_cm3: float | None, diameter_mm: float | None
) -> Analysis:
    """The analysis with grams recomputed for the chosen material (its density and, when
    the file gives none, its diameter). The analyzed lengths do not change."""
    if analysis.kind != MachineKind.fdm_printer or density_g_cm3 is None:
        return analysis
    per_tool = analysis.details.get("filament_mm_per_tool") or {}
    diameters = analysis.details.get("filament_diameter_mm") or []
    total = 0.0
    per_tool_g: dict[str, float] = {}
    for tool, length in per_tool.items():
        d = diameter_mm or _per_tool(diameters, int(tool)) or 1.75
        per_tool_g[tool] = round(grams(float(length), d, density_g_cm3), 3)
        total += per_tool_g[tool]
    material = dict(analysis.material)
    warnings = list(analysis.warnings)
    if per_tool:
        material[Quantity.FILAMENT_G] = round(total, 3)
        warnings = [w for w in warnings if "gives no filament density" not in w]
    file_d = _per_tool(diameters, 0)
    if diameter_mm is not None and file_d is not None and abs(file_d - diameter_mm) > 0.1:
        warnings.append(
            f"the file was sliced for {file_d:g} mm filament, the material is {diameter_mm:g} mm"
        )
    details = {
        **analysis.details,
        "filament_g_per_tool": per_tool_g,
        "material_density_g_cm3": density_g_cm3,
    }
    return analysis.model_copy(
        update={"material": material, "warnings": warnings, "details": details}
    )


def preview(path: Path, params: BaseModel | None, analysis: Analysis) -> Preview | None:
    """The slicer's thumbnail when the file has one, else a top view of the extrusions."""
    from jobs.gcode.render import read_thumbnail, top_view  # the preview is rarely needed

    thumb = analysis.details.get("thumbnail")
    if isinstance(thumb, dict):
        picture = read_thumbnail(path, thumb)
        if picture is not None:
            return picture
    printer = params if isinstance(params, PrinterParams) else PrinterParams()
    return top_view(path, printer, analysis)
