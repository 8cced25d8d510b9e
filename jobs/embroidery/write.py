"""Making the machine's own file: centred in its hoop, encoded for it, read back and
compared before anyone sends it anywhere.

pyembroidery 1.5.1's writers have known defects (research/embroidery.md §1.6), each
guarded here:

* a non-ASCII design name corrupts a PES/PEC header (and any string whose byte length
  is written as its character count: INF, PES metadata) → every string we write is
  folded to ASCII, names to ``[A-Za-z0-9]`` and the format's length;
* the extended DST header overflows its 512 bytes with many colours (19 colours →
  phantom stitches) → the extended header is written only when it fits;
* a DST's ``CO:`` counts colour changes but not stops (some machines then refuse a
  one-colour file) → stops are written as colour changes, the same bytes in DST;
* VP3 truncates coordinates (≤ 0.14 mm drift) → tolerated, and checked, at 0.2 mm;
* a colourless source (DST, EXP) would get random threads → a fixed palette instead.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from jobs.base import Artifact, FileRejected
from jobs.embroidery.figures import block_spans, compute, thread_for
from jobs.embroidery.formats import WRITABLE, reader_settings
from jobs.embroidery.hoop import fit_problem
from jobs.embroidery.read import (
    COLOR_CHANGE,
    JUMP,
    STITCH,
    STOP,
    TRIM,
    Design,
    Floats,
    Ints,
    Thread,
    WorkerFailed,
    WorkerLimits,
    design_from_payload,
    run_worker,
)
from jobs.params.embroidery import EmbroideryParams

DST_HEADER = 512
DST_SAFE_HEADER = 500
"""Bytes the extended DST header may use: the writer pads to 512 and the record data
must start exactly there."""

COUNT_TOLERANCE = 0.01
EXTENT_TOLERANCE_MM = 0.2


@dataclass(frozen=True)
class Placement:
    rotated: bool
    hoop_name: str
    offset: tuple[float, float]
    """What was subtracted from every position (1/10 mm) to centre the design."""


def ascii_text(text: str | None, limit: int = 40) -> str | None:
    if text is None:
        return None
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = re.sub(r"[^\x20-\x7e]", "", folded).strip()
    return folded[:limit] or None


def design_label(name: str | None, limit: int) -> str:
    """The name written inside the file: letters and digits only (the PES bug), cut to
    what the header holds."""
    folded = ascii_text(name, 200) or ""
    label = re.sub(r"[^A-Za-z0-9]", "", folded)[:limit]
    return label or "DESIGN"[:limit]


def place(design: Design, params: EmbroideryParams) -> tuple[Design, Placement]:
    """Centre the needle penetrations on the origin (the hoop's centre), turned by 90°
    if the profile allows it and only that fits; FileRejected if nothing fits."""
    stitch = design.commands == STITCH
    sx, sy = design.x[stitch], design.y[stitch]
    x0, x1, y0, y1 = float(sx.min()), float(sx.max()), float(sy.min()), float(sy.max())
    width, height = (x1 - x0) / 10, (y1 - y0) / 10
    fit = params.hoop_for(width, height)
    if fit.hoop is None:
        raise FileRejected(fit_problem(fit, width, height, params.hoop_margin_mm) or "fits no hoop")
    cx, cy = round((x0 + x1) / 2), round((y0 + y1) / 2)
    x, y = design.x - cx, design.y - cy
    if fit.rotated:
        # A quarter turn clockwise as seen on the machine's screen (+y points down).
        x, y = -y, x
    placed = Design(
        file_type=design.file_type,
        x=x,
        y=y,
        cmd=design.cmd,
        threads=design.threads,
        name=design.name,
        extras=design.extras,
    )
    return placed, Placement(fit.rotated, fit.hoop.name, (float(cx), float(cy)))


def _threads_for_writing(design: Design) -> list[Thread]:
    """One thread per block pyembroidery will count, strings folded to ASCII."""
    count = max((t for _, _, t in block_spans(design.commands)), default=0) + 1
    count = max(count, len(design.threads))
    out = []
    for i in range(count):
        t = thread_for(design, i)
        out.append(
            Thread(
                colour=t.colour,
                name=ascii_text(t.name, 30) or "Thread",
                catalog=ascii_text(t.catalog, 12) or "",
                brand=ascii_text(t.brand, 20) or "",
                assigned=t.assigned,
            )
        )
    return out


def _dst_extended_fits(label: str, threads: list[Thread]) -> bool:
    lines = [
        f"LA:{label:<16}\r",
        f"ST:{0:7d}\r",
        f"CO:{0:3d}\r",
        *(["+X:    0\r"] * 4),
        "AX:+    0\r",
        "AY:+    0\r",
        "MX:+    0\r",
        "MY:+    0\r",
        "PD:******\r",
        *(f"TC:{t.colour},{t.name},{t.catalog}\r" for t in threads),
    ]
    return sum(len(line.encode("utf-8")) for line in lines) + 1 <= DST_SAFE_HEADER


def encoder_settings(
    params: EmbroideryParams,
    label: str,
    threads: list[Thread],
    notes: list[str],
    stamp: datetime | None = None,
) -> dict[str, Any]:
    fmt = params.native_format
    spec = WRITABLE[fmt]
    settings: dict[str, Any] = {}
    if params.max_stitch_mm is not None:
        settings["max_stitch"] = min(spec.max_stitch, int(params.max_stitch_mm * 10))
    if params.max_jump_mm is not None:
        settings["max_jump"] = min(spec.max_jump, int(params.max_jump_mm * 10))
    if params.tie_on:
        settings["tie_on"] = True
    if params.tie_off:
        settings["tie_off"] = True
    if fmt in ("dst", "jef"):
        settings["trim_at"] = params.trim_at
    if fmt == "jef":
        settings["trims"] = params.write_trims
        # JEF carries a date; the source's makes the output the same at every conversion
        # (a resumed job finds its file already on the stick).
        settings["date"] = (stamp or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    version = params.format_version
    if fmt == "dst" and version == "extended" and not _dst_extended_fits(label, threads):
        notes.append(
            f"{len(threads)} colours do not fit the extended DST header: "
            "written with the plain header (colours on the operator sheet)"
        )
        version = "default"
    if version is not None:
        settings["version"] = version
    return settings


def _prepare_commands(design: Design, fmt: str) -> Design:
    """Reorder and rename commands where a writer would mangle them; the stitches and
    their order are untouched."""
    x, y, cmds = design.x.copy(), design.y.copy(), design.cmd.copy()
    _change_before_travel(x, y, cmds)
    if fmt == "dst":
        stops = (cmds & 0xFF) == STOP
        cmds[stops] = (cmds[stops] & ~0xFF) | COLOR_CHANGE
    return Design(
        file_type=design.file_type,
        x=x,
        y=y,
        cmd=cmds,
        threads=design.threads,
        name=design.name,
        extras=design.extras,
    )


def _change_before_travel(x: Floats, y: Floats, cmds: Ints) -> None:
    """Jumps just before a colour change travel in the old colour; the VP3 writer then
    starts the next block where the last stitch was and loses the move (Star.XXX → VP3
    came back shifted 1.3 mm). Change colour first, then travel: same path, in place."""
    base = cmds & 0xFF
    for cc in np.flatnonzero(base == COLOR_CHANGE).tolist():
        first = cc
        while first > 0 and base[first - 1] == JUMP:
            first -= 1
        if first == cc or first == 0:
            continue
        word = cmds[cc]
        cmds[first + 1 : cc + 1] = cmds[first:cc].copy()
        x[first + 1 : cc + 1] = x[first:cc].copy()
        y[first + 1 : cc + 1] = y[first:cc].copy()
        cmds[first] = word
        x[first], y[first] = x[first - 1], y[first - 1]
        base = cmds & 0xFF


def write_native(
    design: Design,
    params: EmbroideryParams,
    out_dir: Path,
    *,
    stamp: datetime | None = None,
    limits: WorkerLimits | None = None,
) -> Artifact:
    """Place, encode, write, read back, compare. The design is the source as read."""
    fmt = params.native_format
    spec = WRITABLE[fmt]
    notes: list[str] = []
    placed, placement = place(design, params)
    placed = _prepare_commands(placed, fmt)
    label = design_label(design.name, spec.label_max)
    threads = _threads_for_writing(placed)
    placed.threads = threads
    settings = encoder_settings(params, label, threads, notes, stamp)
    stem = label.lower()
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / f"{stem}.{fmt}"
    sides = [(side, str(out_dir / f"{stem}.{side}")) for side in params.side_files]
    read_back_settings = reader_settings(fmt, params.trim_at)
    try:
        payload = run_worker(
            "write",
            (
                placed.payload({"name": label}),
                str(out_path),
                fmt,
                settings,
                sides,
                read_back_settings,
                (limits or WorkerLimits()).max_records,
            ),
            limits or WorkerLimits(),
        )
    except WorkerFailed as exc:
        raise FileRejected(
            f"could not write the {spec.description} file for this machine: {exc.detail}"
        ) from exc
    written = design_from_payload(fmt, payload)
    check = compare(placed, written, fmt, params)
    if not spec.carries_colours and not params.side_files:
        notes.append(
            f"{spec.description} carries no colours: thread the needles from the colour "
            "blocks of the operator sheet"
        )
    if not spec.own_trim_code:
        notes.append(
            f"trims are written as {params.trim_at} small jumps: the machine must be set "
            f"to trim after {params.trim_at} jumps"
        )
    source_fig = compute(placed, params)
    return Artifact(
        path=out_path,
        file_type=fmt,
        details={
            "label": label,
            "native_format": fmt,
            "format_version": settings.get("version"),
            "hoop": placement.hoop_name,
            "rotated": placement.rotated,
            "side_files": [Path(p).name for _, p in sides],
            "stitches": check["stitches"],
            "colour_changes": source_fig.colour_changes,
            "blocks": [
                {
                    "number": b.number,
                    "colour": b.thread.colour,
                    "name": b.thread.name,
                    "catalog": b.thread.catalog,
                    "stitches": b.stitches,
                    "minutes": round(b.seconds / 60.0, 2),
                }
                for b in source_fig.blocks
            ],
            "read_back": check,
            "notes": notes,
        },
    )


def _stitch_box(d: Design) -> tuple[int, float, float, float, float]:
    s = d.commands == STITCH
    if not s.any():
        return (0, 0.0, 0.0, 0.0, 0.0)
    x, y = d.x[s], d.y[s]
    return (int(s.sum()), float(x.min()), float(y.min()), float(x.max()), float(y.max()))


def compare(source: Design, written: Design, fmt: str, params: EmbroideryParams) -> dict[str, Any]:
    """The file as the machine will read it must be the design we meant to write:
    same needle penetrations (count within 1 %, box within 0.2 mm), same colour blocks."""
    n0, *box0 = _stitch_box(source)
    n1, *box1 = _stitch_box(written)
    ties = (3 if params.tie_on else 0) + (3 if params.tie_off else 0)
    colours0 = _block_colours(source)
    blocks0 = len(colours0)
    blocks1 = len(_block_colours(written))
    # PEC keeps one colour change per change of colour: two blocks of the same thread
    # in a row come back as one (no stop is needed between them).
    merged = sum(1 for a, b in itertools.pairwise(colours0) if a == b)
    fewest = blocks0 - merged if fmt in ("pes", "pec") else blocks0
    allowed = COUNT_TOLERANCE * n0 + ties * max(1, blocks0) * 2
    drift = max(abs(a - b) for a, b in zip(box0, box1, strict=True)) / 10.0 if n1 else 0.0
    problems = []
    if n1 == 0:
        problems.append("it holds no stitches")
    if abs(n1 - n0) > allowed:
        problems.append(f"{n1} stitches instead of {n0}")
    if drift > EXTENT_TOLERANCE_MM:
        problems.append(f"its outline moved by {drift:.2f} mm")
    if not fewest <= blocks1 <= blocks0:
        problems.append(f"{blocks1} colour blocks instead of {blocks0}")
    trims0, trims1 = _trims(source), _trims(written)
    if fmt == "jef" and not params.write_trims:
        trims0 = 0  # the profile asked for a JEF without trims
    # Some formats read extra trims back (PEC marks long jumps as trims): more is the
    # format's way; fewer is a thread the machine leaves uncut.
    if trims1 < trims0:
        problems.append(f"{trims1} trims instead of {trims0}")
    if problems:
        raise FileRejected(
            f"the {WRITABLE[fmt].description} file written for this machine does not read "
            f"back as the design ({'; '.join(problems)}); it was not delivered"
        )
    return {
        "stitches": n1,
        "source_stitches": n0,
        "trims": trims1,
        "source_trims": trims0,
        "drift_mm": round(drift, 3),
    }


def _trims(d: Design) -> int:
    return int(np.count_nonzero(d.commands == TRIM))


def _block_colours(d: Design) -> list[str]:
    """The thread colour of each block that has stitches, in order."""
    stitch_cum = np.concatenate(([0], np.cumsum(d.commands == STITCH)))
    return [
        thread_for(d, t).colour.lower()
        for start, end, t in block_spans(d.commands)
        if stitch_cum[end] - stitch_cum[start] > 0
    ]
