"""Vinyl cutting entry points: analyse, preview and convert SVG and HP-GL files.

``analyze`` answers at submission (what it costs, whether it fits, what to watch when
weeding); ``convert`` runs at dispatch for the machine that took the job and writes
the HP-GL its driver sends. Both plan the same cut (:mod:`jobs.vinyl.plan`), so the time
and bytes the analysis announces are those of the file the machine gets.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from jobs.base import (
    Analysis,
    AnalysisError,
    Artifact,
    Bounds,
    FileRejected,
    MachineKind,
    Preview,
    Quantity,
)
from jobs.params.cutter import CutterParams
from jobs.vinyl import hpgl
from jobs.vinyl import plan as cut_plan
from jobs.vinyl.geometry import CutPath, Drawing, clean
from jobs.vinyl.order import travel
from jobs.vinyl.render import preview_svg_document
from jobs.vinyl.svg.read import read_svg

_CACHE: OrderedDict[tuple[object, ...], tuple[Drawing, cut_plan.CutPlan, bytes]] = OrderedDict()
_CACHE_SIZE = 4


def _params(params: BaseModel | None) -> CutterParams:
    if params is None:
        return CutterParams()
    if not isinstance(params, CutterParams):
        raise AnalysisError("a vinyl file needs a vinyl cutter's parameters")
    return params


def _planned(
    path: Path, params: CutterParams, copies: int, strict: bool
) -> tuple[Drawing, cut_plan.CutPlan, bytes]:
    """Read, plan and write the job once per (file, parameters, copies)."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size, params.model_dump_json(), copies, strict)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    drawing = read_svg(path, params.curve_tolerance_mm)
    plan = cut_plan.plan(drawing, params, copies, strict=strict)
    data = _hpgl_bytes(plan, params)
    _CACHE[key] = (drawing, plan, data)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return drawing, plan, data


def _hpgl_bytes(plan: cut_plan.CutPlan, params: CutterParams) -> bytes:
    frame = hpgl.DeviceFrame(params.hpgl, plan.layout.extent_u, plan.layout.extent_v)
    strokes = [frame.to_steps(h) for h in plan.holder]
    return hpgl.write(strokes, params.hpgl, params.cut_speed_mm_s)


def transmission_seconds(n_bytes: int, baud: int) -> float:
    """8N1: ten bits on the wire per byte."""
    return n_bytes * 10 / baud


def analyze_svg(path: Path, params: BaseModel | None = None) -> Analysis:
    p = _params(params)
    drawing, plan, data = _planned(path, p, 1, strict=False)
    st = plan.stats
    lay = plan.layout
    geometry_s = cut_plan.estimate_seconds(plan, p)
    tx_s = transmission_seconds(len(data), p.baud)
    if params is None:
        area = lay.copy_u * lay.copy_v
        length = lay.copy_u
    else:
        length = lay.extent_u
        area = length * p.roll_width_mm
    x0, y0, x1, y1 = st.box
    return Analysis(
        kind=MachineKind.vinyl_cutter,
        file_type="svg",
        analyzer="vinyl-svg",
        duration_s=round(max(geometry_s, tx_s), 1),
        material={
            Quantity.VINYL_AREA_MM2: round(area, 1),
            Quantity.VINYL_LENGTH_MM: round(length, 2),
            Quantity.CUT_LENGTH_MM: round(st.cut_length_mm, 2),
        },
        bounds=Bounds(min_x=x0, min_y=y0, max_x=x1, max_y=y1),
        counts={
            Quantity.PATHS: st.paths,
            Quantity.PIECES: st.pieces,
            Quantity.COUNTERS: st.counters,
        },
        warnings=[*drawing.warnings, *plan.warnings],
        details={
            "travel_mm": round(plan.travel_mm, 1),
            "travel_document_order_mm": round(plan.travel_document_order_mm, 1),
            "contours_by_depth": {str(k): v for k, v in st.depths.items()},
            "open_paths": st.open_paths,
            "tiny_islands": st.tiny_islands[:20],
            "tiny_island_count": len(st.tiny_islands),
            "small_features": st.small_features,
            "geometry_s": round(geometry_s, 1),
            "transmission_s": round(tx_s, 1),
            "hpgl_bytes": len(data),
            "rotated": lay.rotated,
            "copies_per_row": _per_row(st, p),
            "layout_mm": [round(lay.extent_u, 2), round(lay.extent_v, 2)],
            "document_mm": drawing.details.get("document_mm"),
        },
    )


def _per_row(stats: cut_plan.DesignStats, params: CutterParams) -> int:
    """How many copies sit side by side across the roll (for quotes of many copies)."""
    return cut_plan.choose_layout(stats, params, 1000).per_row


def preview_svg(path: Path, params: BaseModel | None, analysis: Analysis) -> Preview:
    p = _params(params)
    _, plan, _ = _planned(path, p, 1, strict=False)
    roll = p.roll_width_mm if params is not None else None
    doc = preview_svg_document(plan.tip_paths, plan.layout.extent_u, plan.layout.extent_v, roll)
    return Preview(media_type="image/svg+xml", data=doc)


def convert_svg(path: Path, params: BaseModel, out_dir: Path, copies: int = 1) -> Artifact:
    p = _params(params)
    if copies < 1:
        raise FileRejected("copies must be at least 1")
    _, plan, data = _planned(path, p, copies, strict=True)
    out = out_dir / f"{path.stem or 'job'}.hpgl"
    out.write_bytes(data)
    return Artifact(
        path=out,
        file_type="hpgl",
        details={
            "hpgl_bytes": len(data),
            "copies_laid_out": copies,
            "copies_per_row": plan.layout.per_row,
            "layout_mm": [round(plan.layout.extent_u, 2), round(plan.layout.extent_v, 2)],
        },
    )


# --- HP-GL brought as it is ------------------------------------------------------------


def _read_hpgl(path: Path, params: CutterParams) -> tuple[hpgl.HpglDocument, list[CutPath]]:
    size = path.stat().st_size
    if size > hpgl.MAX_HPGL_BYTES:
        raise FileRejected(f"the HP-GL file is {size / 1e6:.0f} MB; the limit is 64 MB")
    data = path.read_bytes()
    if b"\x00" in data[:4096] and data[:2] != b"\x1b.":
        raise AnalysisError("this does not look like HP-GL (binary data)")
    try:
        doc = hpgl.read(data)
    except hpgl.HpglError as exc:
        raise AnalysisError(f"cannot read this HP-GL: {exc}") from None
    if not doc.commands:
        raise AnalysisError("no HP-GL commands found in this file")
    if doc.unsupported:
        names = ", ".join(sorted(doc.unsupported))
        raise FileRejected(
            f"this HP-GL uses {names} (arcs, circles or text), which fabqueue cannot check "
            "or lay out; export it with curves flattened to lines, or send the SVG"
        )
    if doc.garbage > max(16, len(data) // 100):
        raise AnalysisError(f"{doc.garbage} bytes of this file are not HP-GL")
    steps = params.hpgl.steps_per_mm
    paths = []
    for s in doc.strokes:
        mm = s / steps
        mm[:, 1] = -mm[:, 1]  # HP-GL y up -> SVG y down, for nesting and previews
        cleaned = clean(mm, False)
        if cleaned is not None:
            paths.append(CutPath(cleaned[0], cleaned[1], "hpgl"))
    return doc, paths


def analyze_hpgl(path: Path, params: BaseModel | None = None) -> Analysis:
    p = _params(params)
    doc, paths = _read_hpgl(path, p)
    if not paths:
        raise FileRejected("there is nothing to cut in this HP-GL file (no pen-down moves)")
    negative = any(float(s.min()) < 0 for s in doc.strokes)
    drawing = Drawing(paths=paths)
    st = cut_plan.design_stats(drawing, p)
    x0, y0, x1, y1 = st.box
    moves = travel(paths).travel_mm
    cut_s = st.cut_length_mm / p.cut_speed_mm_s + moves / p.travel_speed_mm_s
    geometry_s = cut_s + len(paths) * (p.lift_time_s + 2 * p.cut_speed_mm_s / p.acceleration_mm_s2)
    n_bytes = path.stat().st_size
    tx_s = transmission_seconds(n_bytes, p.baud)
    warnings = ["the HP-GL is cut as it is: no reordering, blade offset or overcut is added"]
    if negative:
        warnings.append("the file has negative coordinates, which most cutters cannot reach")
    w, h = x1 - x0, y1 - y0
    return Analysis(
        kind=MachineKind.vinyl_cutter,
        file_type="hpgl",
        analyzer="vinyl-hpgl",
        duration_s=round(max(geometry_s, tx_s), 1),
        material={
            Quantity.VINYL_AREA_MM2: round(
                (x1 * p.roll_width_mm) if params is not None else w * h, 1
            ),
            Quantity.VINYL_LENGTH_MM: round(x1 if params is not None else w, 2),
            Quantity.CUT_LENGTH_MM: round(st.cut_length_mm, 2),
        },
        bounds=Bounds(min_x=x0, min_y=y0, max_x=x1, max_y=y1),
        counts={
            Quantity.PATHS: st.paths,
            Quantity.PIECES: st.pieces,
            Quantity.COUNTERS: st.counters,
        },
        warnings=warnings,
        details={
            "travel_mm": round(moves, 1),
            "commands": dict(doc.commands.most_common(12)),
            "steps_per_mm": p.hpgl.steps_per_mm,
            "geometry_s": round(geometry_s, 1),
            "transmission_s": round(tx_s, 1),
            "hpgl_bytes": n_bytes,
            "contours_by_depth": {str(k): v for k, v in st.depths.items()},
            "tiny_island_count": len(st.tiny_islands),
        },
    )


def preview_hpgl(path: Path, params: BaseModel | None, analysis: Analysis) -> Preview:
    p = _params(params)
    _, paths = _read_hpgl(path, p)
    if not paths:
        raise FileRejected("nothing to draw")
    y_top = min(float(c.points[:, 1].min()) for c in paths)
    x_max = max(float(c.points[:, 0].max()) for c in paths)
    shifted = [
        CutPath(c.points - np.array([0.0, y_top]), c.closed, c.source, c.kind) for c in paths
    ]
    height = max(float(c.points[:, 1].max()) for c in shifted)
    doc = preview_svg_document(shifted, max(x_max, 1.0), max(height, 1.0), None)
    return Preview(media_type="image/svg+xml", data=doc)


def convert_hpgl(path: Path, params: BaseModel, out_dir: Path, copies: int = 1) -> Artifact:
    """Rewrite the HP-GL in the machine's dialect (its init and end sequences, one pair
    per command where it wants that, no stray ``IN;`` mid-job), coordinates untouched."""
    p = _params(params)
    doc, _ = _read_hpgl(path, p)
    if any(float(s.min()) < 0 for s in doc.strokes):
        raise FileRejected(
            "the HP-GL has negative coordinates, which the cutter cannot reach: export it "
            "with the origin at the lower-left corner of the design"
        )
    if copies > 1:
        raise FileRejected("copies of an HP-GL file cannot be laid out: send the SVG")
    strokes = [np.rint(s).astype(np.int64) for s in doc.strokes]
    data = hpgl.write(strokes, p.hpgl, p.cut_speed_mm_s)
    out = out_dir / f"{path.stem or 'job'}.hpgl"
    out.write_bytes(data)
    return Artifact(path=out, file_type="hpgl", details={"hpgl_bytes": len(data)})
