"""From a drawing to what the blade does: weeding figures, layout on the roll (mirror,
turn, copies in rows), weeding border and lines, cut order, overcut, blade offset.

Frames: the drawing is in SVG millimetres (x right, y down). The layout frame has
``u`` along the roll (the feed) and ``v`` across it (0 … roll width); the drawing's x
runs along the roll unless the design is turned. Device axes come later
(:class:`jobs.vinyl.hpgl.DeviceFrame`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from jobs.base import FileRejected
from jobs.params.cutter import CutterParams
from jobs.vinyl import blade
from jobs.vinyl import order as cut_order
from jobs.vinyl.geometry import (
    CutPath,
    Drawing,
    Points,
    bbox,
    bounds,
    enclosing,
    length,
    nesting,
    signed_area,
)

LEAD_IN_GAP_MM = 1.0
WEEDING_LINE_GAP_MM = 0.5
SHARP_TURN_DEG = 30.0


@dataclass
class DesignStats:
    box: tuple[float, float, float, float]
    """The design's box in SVG millimetres (x0, y0, x1, y1)."""
    cut_length_mm: float
    paths: int
    pieces: int
    counters: int
    depths: dict[int, int]
    """Closed contours by nesting depth (0 = outermost)."""
    parent: list[int]
    around: list[list[int]]
    """Every closed path around each path (the cut order keeps all of them after it)."""
    tiny_islands: list[dict[str, float]]
    small_features: int
    open_paths: int


@dataclass
class Layout:
    rotated: bool
    per_row: int
    columns: int
    copies: int
    copy_u: float
    copy_v: float
    extent_u: float
    extent_v: float
    fits: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class CutPlan:
    stats: DesignStats
    layout: Layout
    tip_paths: list[CutPath]
    """Ordered, overcut included: what the blade tip must trace (layout frame)."""
    holder: list[Points]
    """What the holder is commanded to do, blade offset included (layout frame)."""
    travel_mm: float
    travel_document_order_mm: float
    warnings: list[str] = field(default_factory=list)


def design_stats(drawing: Drawing, params: CutterParams) -> DesignStats:
    paths = drawing.paths
    box = bounds(paths) or (0.0, 0.0, 0.0, 0.0)
    around = enclosing(paths)
    parent, depth = nesting(paths, around)
    depths: dict[int, int] = {}
    pieces = counters = small = 0
    islands: list[dict[str, float]] = []
    for p, d in zip(paths, depth, strict=True):
        if not p.closed:
            continue
        depths[d] = depths.get(d, 0) + 1
        x0, y0, x1, y1 = bbox(p.points)
        if max(x1 - x0, y1 - y0) < params.min_feature_mm:
            small += 1
        if d % 2:
            counters += 1
            continue
        pieces += 1
        area = abs(signed_area(p.points))
        # A piece's vinyl is its area minus its direct holes'.
        if area < params.tiny_island_mm2:
            islands.append(
                {
                    "x": round((x0 + x1) / 2, 2),
                    "y": round((y0 + y1) / 2, 2),
                    "area_mm2": round(area, 3),
                }
            )
    return DesignStats(
        box=box,
        cut_length_mm=sum(length(p.points) for p in paths),
        paths=len(paths),
        pieces=pieces,
        counters=counters,
        depths=dict(sorted(depths.items())),
        parent=parent,
        around=around,
        tiny_islands=islands,
        small_features=small,
        open_paths=sum(1 for p in paths if not p.closed),
    )


def choose_layout(stats: DesignStats, params: CutterParams, copies: int) -> Layout:
    x0, y0, x1, y1 = stats.box
    f = 2 * params.frame_mm
    w, h = x1 - x0 + f, y1 - y0 + f
    lead = params.lead_in_mm + LEAD_IN_GAP_MM if params.lead_in_mm > 0 else 0.0
    gap = params.copy_gap_mm
    roll = params.roll_width_mm
    options = []
    for rotated, cu, cv in ((False, w, h), (True, h, w)):
        if rotated and not params.allow_rotation:
            continue
        fits = cv <= roll + 1e-6
        per_row = max(1, min(copies, math.floor((roll + gap + 1e-6) / (cv + gap)))) if fits else 1
        columns = math.ceil(copies / per_row)
        extent_u = lead + columns * cu + (columns - 1) * gap
        extent_v = per_row * cv + (per_row - 1) * gap
        options.append(
            (
                not fits,
                extent_u,
                rotated,
                Layout(rotated, per_row, columns, copies, cu, cv, extent_u, extent_v, fits),
            )
        )
    options.sort(key=lambda o: (o[0], o[1], o[2]))
    best = options[0][3]
    if not best.fits:
        turned = " even turned" if params.allow_rotation else ""
        best.problems.append(
            f"the design is {min(w, h) if params.allow_rotation else h:.1f} mm wide{turned}, "
            f"the roll only {roll:.0f} mm"
        )
    if best.extent_u > params.max_length_mm + 1e-6:
        best.fits = False
        best.problems.append(
            f"the job is {best.extent_u:.0f} mm long, more than the "
            f"{params.max_length_mm:.0f} mm this cutter takes in one go"
        )
    return best


def _place(
    paths: list[CutPath],
    stats: DesignStats,
    params: CutterParams,
    lay: Layout,
    u0: float,
    v0: float,
) -> list[CutPath]:
    x0, y0, x1, _ = stats.box
    w = x1 - x0
    f = params.frame_mm
    out = []
    for p in paths:
        x = p.points[:, 0] - x0
        y = p.points[:, 1] - y0
        if params.mirror:
            x = w - x
        u, v = (y, w - x) if lay.rotated else (x, y)
        out.append(replace(p, points=np.stack([u + u0 + f, v + v0 + f], axis=1)))
    return out


def _rect(u0: float, v0: float, u1: float, v1: float) -> Points:
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1], [u0, v0]], dtype=float)


def weeding_lines(
    design: list[CutPath], cell: tuple[float, float, float, float], spacing: float
) -> list[CutPath]:
    """Lines across the roll through the waste, every ``spacing`` mm, each from the
    border to the design (stopping short of it) so the waste lifts off in strips."""
    u0, v0, u1, v1 = cell
    segs = [np.stack([p.points[:-1], p.points[1:]], axis=1) for p in design]
    all_segs = np.concatenate(segs) if segs else np.zeros((0, 2, 2))
    out = []
    count = max(0, math.floor((u1 - u0) / spacing))
    offset = ((u1 - u0) - (count - 1) * spacing) / 2 if count else 0
    for k in range(count):
        uc = u0 + offset + k * spacing
        a, b = all_segs[:, 0], all_segs[:, 1]
        cross = (a[:, 0] - uc) * (b[:, 0] - uc) <= 0
        hit = cross & (a[:, 0] != b[:, 0])
        if hit.any():
            t = (uc - a[hit, 0]) / (b[hit, 0] - a[hit, 0])
            vs = a[hit, 1] + t * (b[hit, 1] - a[hit, 1])
            spans = [
                (v0, float(vs.min()) - WEEDING_LINE_GAP_MM),
                (float(vs.max()) + WEEDING_LINE_GAP_MM, v1),
            ]
        else:
            spans = [(v0, v1)]
        for s0, s1 in spans:
            if s1 - s0 > 1.0:
                pts = np.array([[uc, s0], [uc, s1]])
                out.append(CutPath(pts, False, "weeding line", kind="weeding"))
    return out


def overcut(p: CutPath, distance: float) -> CutPath:
    """Run a closed path on past its start by ``distance`` along itself."""
    if not p.closed or distance <= 0:
        return p
    pts = p.points
    seg = np.hypot(*np.diff(pts, axis=0).T)
    total = float(seg.sum())
    if total <= 0:
        return p
    distance = min(distance, total)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    k = int(np.searchsorted(cum, distance, side="right"))
    k = min(k, len(pts) - 1)
    extra = list(pts[1:k])
    t = (distance - cum[k - 1]) / max(1e-12, seg[k - 1])
    extra.append(pts[k - 1] + t * (pts[k] - pts[k - 1]))
    return replace(p, points=np.vstack([pts, np.array(extra)]))


def plan(
    drawing: Drawing,
    params: CutterParams,
    copies: int = 1,
    strict: bool = False,
    start: tuple[float, float] = (0.0, 0.0),
) -> CutPlan:
    """The whole job. ``strict``: refuse (FileRejected) what does not fit instead of
    reporting it; conversion for a machine is strict, analysis is not."""
    if not drawing.paths:
        raise FileRejected("there is nothing to cut in this file (no visible shapes)")
    stats = design_stats(drawing, params)
    warnings: list[str] = []
    if stats.small_features:
        msg = (
            f"{stats.small_features} contour(s) are smaller than {params.min_feature_mm:g} mm: "
            "too small to weed reliably"
        )
        if params.reject_below_min_feature:
            raise FileRejected(msg + "; enlarge the design or remove them")
        warnings.append(msg)
    if stats.tiny_islands:
        warnings.append(
            f"{len(stats.tiny_islands)} piece(s) under {params.tiny_island_mm2:g} mm² "
            "will be easy to lose when weeding"
        )
    lay = choose_layout(stats, params, copies)
    if lay.problems and strict:
        raise FileRejected("; ".join(lay.problems))
    warnings.extend(lay.problems)
    lead = params.lead_in_mm + LEAD_IN_GAP_MM if params.lead_in_mm > 0 else 0.0
    design = drawing.paths
    all_paths: list[CutPath] = []
    parent: list[int] = []
    around: list[list[int]] = []
    doc_order: list[CutPath] = []
    for k in range(copies):
        row, col = k % lay.per_row, k // lay.per_row
        u0 = lead + col * (lay.copy_u + params.copy_gap_mm)
        v0 = row * (lay.copy_v + params.copy_gap_mm)
        placed = _place(design, stats, params, lay, u0, v0)
        base = len(all_paths)
        border_index = base + len(placed)
        extra: list[CutPath] = []
        if params.weeding_border:
            cell = (u0, v0, u0 + lay.copy_u, v0 + lay.copy_v)
            if params.weeding_lines:
                extra = weeding_lines(placed, cell, params.weeding_line_spacing_mm)
            border = CutPath(_rect(*cell), True, "weeding border", kind="border")
        all_paths.extend(placed)
        top = border_index if params.weeding_border else -1
        outer = [top] if params.weeding_border else []
        parent.extend(base + q if q >= 0 else top for q in stats.parent)
        around.extend(outer + [base + q for q in ups] for ups in stats.around)
        doc_order.extend(placed)
        if params.weeding_border:
            all_paths.append(border)
            parent.append(-1)
            around.append([])
            all_paths.extend(extra)
            parent.extend([border_index] * len(extra))
            around.extend([border_index] for _ in extra)
            doc_order.extend([*extra, border])
    lead_path = None
    if params.lead_in_mm > 0:
        lead_path = CutPath(
            np.array([[0.0, 0.0], [params.lead_in_mm, 0.0]]), False, "alignment cut", kind="lead_in"
        )
        start = (params.lead_in_mm, 0.0)
    ordered = cut_order.order(all_paths, parent, start, around=around)
    travel = cut_order.travel(ordered).travel_mm
    travel_doc = cut_order.travel(doc_order).travel_mm
    tips = [overcut(p, params.overcut_mm) for p in ordered]
    if lead_path is not None:
        tips.insert(0, lead_path)
    holder: list[Points] = []
    heading = None
    for p in tips:
        h, heading = blade.compensate(
            p.points, params.blade_offset_mm, params.swivel_threshold_deg, heading
        )
        holder.append(h)
    tips, holder = _keep_on_the_sheet(tips, holder, lay)
    return CutPlan(stats, lay, tips, holder, travel, travel_doc, warnings)


def _keep_on_the_sheet(
    tips: list[CutPath], holder: list[Points], lay: Layout
) -> tuple[list[CutPath], list[Points]]:
    """Swivels swing the holder up to the blade offset outside the design: move the job
    so that none needs a coordinate below 0, and grow the layout to what the holder
    reaches (the device frame flips axes, so both edges matter). A clamped swivel
    leaves the tip 0.12 mm off the corner."""
    if not holder:
        return tips, holder
    reach = np.concatenate(holder)
    shift = -np.minimum(reach.min(axis=0), 0.0)
    top = reach.max(axis=0) + shift
    lay.extent_u = max(lay.extent_u, float(top[0]))
    lay.extent_v = max(lay.extent_v, float(top[1]))
    if not shift.any():
        return tips, holder
    return [replace(p, points=p.points + shift) for p in tips], [h + shift for h in holder]


def estimate_seconds(plan_: CutPlan, params: CutterParams) -> float:
    """Machine time from the geometry: cutting and travelling at the profile's speeds,
    a stop at every path start and sharp corner, a lift per path."""
    cut = sum(length(h) for h in plan_.holder)
    starts = [h[0] for h in plan_.holder]
    ends = [h[-1] for h in plan_.holder]
    moves = [math.dist(a, b) for a, b in zip([(0.0, 0.0), *ends[:-1]], starts, strict=True)]
    stops = 0
    for p in plan_.tip_paths:
        d = np.diff(p.points, axis=0)
        ang = np.arctan2(d[:, 1], d[:, 0])
        turn = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
        stops += 1 + int((turn > math.radians(SHARP_TURN_DEG)).sum())
    v, vt, a = params.cut_speed_mm_s, params.travel_speed_mm_s, params.acceleration_mm_s2
    n = len(plan_.holder)
    return cut / v + stops * v / a + sum(moves) / vt + n * vt / a + n * params.lift_time_s
