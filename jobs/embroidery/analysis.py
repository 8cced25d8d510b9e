"""Embroidery jobs: what fabqueue says about a stitch file, its picture, and the file
made for the machine that takes it.

Entry points (bound to a file type, since stored files are named by their hash):
``analyzer(t)``, ``previewer(t)``, ``converter(t)`` for :mod:`jobs.registry`.
Reading is guarded (:mod:`jobs.embroidery.read`), figures are pure
(:mod:`jobs.embroidery.figures`), hoops are arithmetic (:mod:`jobs.embroidery.hoop`), writing
is checked (:mod:`jobs.embroidery.write`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jobs.base import Analysis, Artifact, Bounds, FileRejected, MachineKind, Preview, Quantity
from jobs.embroidery import formats
from jobs.embroidery.figures import Figures, compute
from jobs.embroidery.formats import READABLE, WRITABLE
from jobs.embroidery.hoop import describe
from jobs.embroidery.read import Design, read_design
from jobs.embroidery.render import render
from jobs.embroidery.write import write_native
from jobs.params.embroidery import EmbroideryParams

ANALYZER = "embroidery"


def params_of(params: BaseModel | None) -> EmbroideryParams:
    if params is None:
        return EmbroideryParams()
    if not isinstance(params, EmbroideryParams):
        raise FileRejected("an embroidery file needs an embroidery machine")
    return params


def reader_settings(file_type: str, params: EmbroideryParams) -> dict[str, Any]:
    """DST and JEF have no trim code: the machine's own rule says how many jumps make one."""
    return dict(formats.reader_settings(file_type, params.trim_at))


_CACHE_SIZE = 2
_CACHE_MAX_RECORDS = 600_000
"""Bigger designs (rare) are read again rather than kept: 20 bytes a record."""
_cache: OrderedDict[tuple[Any, ...], Design] = OrderedDict()
_cache_lock = threading.Lock()


def load(path: Path, file_type: str, params: EmbroideryParams) -> Design:
    """Read once for the analysis and the picture that follows it (same file, same
    settings): the worker is the slow part of both."""
    stat = path.stat()
    settings = reader_settings(file_type, params)
    key = (str(path), stat.st_size, stat.st_mtime_ns, file_type, tuple(sorted(settings.items())))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    design = read_design(path, file_type, settings=settings)
    if len(design) > _CACHE_MAX_RECORDS:
        return design
    with _cache_lock:
        _cache[key] = design
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return design


def analyze(path: Path, file_type: str, params: BaseModel | None = None) -> Analysis:
    p = params_of(params)
    design = load(path, file_type, p)
    return build_analysis(design, compute(design, p), p)


def build_analysis(design: Design, fig: Figures, p: EmbroideryParams) -> Analysis:
    width, height = fig.size_mm
    x0, y0, x1, y1 = fig.extents_mm
    fit = p.hoop_for(width, height)
    colours_known = not any(b.thread.assigned for b in fig.blocks)
    threads: list[dict[str, Any]] = []
    for block in fig.blocks:
        entry = block.thread.as_dict()
        if entry not in threads:
            threads.append(entry)
    hoop = None
    if fit.hoop is not None:
        hoop = {
            "name": fit.hoop.name,
            "width_mm": fit.hoop.width_mm,
            "height_mm": fit.hoop.height_mm,
            "margin_mm": p.hoop_margin_mm,
            "rotated": fit.rotated,
        }
    return Analysis(
        kind=MachineKind.embroidery,
        file_type=design.file_type,
        analyzer=ANALYZER,
        duration_s=round(fig.duration_s, 1),
        material={
            Quantity.THREAD_M: round(fig.thread_m, 2),
            Quantity.BOBBIN_M: round(fig.bobbin_m, 2),
        },
        bounds=Bounds(min_x=x0, min_y=y0, max_x=x1, max_y=y1),
        counts={
            Quantity.STITCHES: fig.stitches,
            Quantity.TRIMS: fig.trims,
            Quantity.COLOUR_CHANGES: fig.colour_changes,
            Quantity.HOOPINGS: 1,
            "jumps": fig.jumps,
            "stops": fig.stops,
            "manual_colour_changes": fig.manual_changes,
        },
        warnings=design.warnings + warnings(fig, p, colours_known, fit.rotated, fit.hoop),
        details={
            "format": READABLE.get(design.file_type, design.file_type.upper()),
            "design_name": design.name,
            "size_mm": [round(width, 1), round(height, 1)],
            "hoop": hoop,
            "turn_to_fit": fit.turn_to_fit.name if fit.turn_to_fit else None,
            "colours_in_file": colours_known,
            "unique_colours": fig.unique_colours,
            "threads": threads,
            "blocks": [b.as_dict() for b in fig.blocks],
            "longest_stitch_mm": round(fig.longest_stitch_mm, 2),
            "longest_jump_mm": round(fig.longest_jump_mm, 2),
            "long_stitches": fig.long_stitches,
            "short_stitches": fig.short_stitches,
            "untrimmed_jumps": fig.untrimmed_jumps,
            "density": {
                "cell_mm": p.density_cell_mm,
                "limit_per_mm2": p.max_density_per_mm2,
                "max_per_mm2": round(fig.max_density, 1),
                "hot_cells": fig.hot_cells,
                "hot_spots": fig.hot_spots,
            },
            "thread": {
                "rule_m": round(fig.thread_rule_m, 2),
                "path_m": round(fig.thread_path_m, 2),
                "stitch_path_m": round(fig.path_m, 2),
                "travel_m": round(fig.travel_m, 2),
            },
            "time_s": {k: round(v, 1) for k, v in fig.time_s.items()},
            "machine": {
                "needles": p.needles,
                "spm": p.spm,
                "native_format": p.native_format,
            },
        },
    )


def warnings(
    fig: Figures,
    p: EmbroideryParams,
    colours_known: bool,
    rotated: bool,
    hoop: Any,
) -> list[str]:
    out: list[str] = []
    if rotated and hoop is not None:
        out.append(
            f"turned by 90° to fit {describe(hoop)}: this machine's profile allows it; "
            "check the customer agrees with the orientation"
        )
    if not colours_known:
        out.append(
            "the file names no thread colours: the picture uses a stand-in palette; "
            "ask the customer for the colour chart"
        )
    if p.needles == 1 and fig.colour_changes:
        out.append(
            f"single-needle machine: {fig.colour_changes} colour change(s), "
            f"{fig.manual_changes} to re-thread by hand"
        )
    elif fig.manual_changes:
        out.append(
            f"{fig.unique_colours} colours for {p.needles} needles: "
            f"{fig.manual_changes} stop(s) to re-thread by hand"
        )
    if fig.over_max_stitch:
        out.append(
            f"{fig.over_max_stitch} stitch(es) longer than this machine's "
            f"{p.max_stitch_mm:g} mm: each becomes a jump and a stitch in the machine's file"
        )
    if fig.untrimmed_jumps:
        out.append(
            f"{fig.untrimmed_jumps} jump(s) longer than {p.untrimmed_jump_mm:g} mm without a "
            "trim in the file: loose threads to cut unless the machine trims them itself"
        )
    if fig.stitches and fig.short_stitches > p.short_stitch_share * fig.stitches:
        out.append(
            f"{fig.short_stitches} stitches shorter than {p.min_stitch_mm:g} mm "
            f"({100 * fig.short_stitches / fig.stitches:.1f} %): thread breaks likely, and "
            "some machines refuse such files"
        )
    if fig.hot_cells:
        out.append(
            f"{fig.hot_cells} spot(s) denser than {p.max_density_per_mm2:g} needle "
            f"penetrations per mm² (worst {fig.max_density:.0f}): risk of thread breaks and "
            "puckering; see the red squares on the picture"
        )
    return out


def preview(
    path: Path, file_type: str, params: BaseModel | None, analysis: Analysis
) -> Preview | None:
    p = params_of(params)
    design = load(path, file_type, p)
    return Preview(media_type="image/png", data=render(design, compute(design, p), p))


def convert(path: Path, file_type: str, params: BaseModel, out_dir: Path) -> Artifact:
    """The machine's native file, centred in its hoop, checked by reading it back."""
    p = params_of(params)
    design = read_design(path, file_type, settings=reader_settings(file_type, p))
    stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return write_native(design, p, out_dir, stamp=stamp)


def analyzer(file_type: str) -> Callable[[Path, BaseModel | None], Analysis]:
    def bound(path: Path, params: BaseModel | None = None) -> Analysis:
        return analyze(path, file_type, params)

    return bound


def previewer(file_type: str) -> Callable[[Path, BaseModel | None, Analysis], Preview | None]:
    return lambda path, params, analysis: preview(path, file_type, params, analysis)


def converter(file_type: str) -> Callable[[Path, BaseModel, Path], Artifact]:
    return lambda path, params, out_dir: convert(path, file_type, params, out_dir)


PRODUCES = frozenset(WRITABLE)
