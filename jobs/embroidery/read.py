"""Reading a stitch file without trusting it.

The reader runs in a worker process (:mod:`jobs.embroidery.worker`) with a wall-clock limit, a
memory limit and a CPU limit; whatever it returns is then checked for plausibility
(a header where the format has one, the end of the data reached, sane extents and
stitch lengths) before any figure is computed from it.
"""

from __future__ import annotations

import os
import pickle
import re
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jobs.base import AnalysisError
from jobs.embroidery.formats import (
    DEFAULT_MAX_RECORDS,
    MAX_FILE_BYTES,
    READABLE,
    STRICT_END,
    UNREADABLE_HINTS,
    describe_readable,
)

# pyembroidery's command numbers (EmbConstant), kept here so the parent needs no pattern.
STITCH, JUMP, TRIM, STOP, END, COLOR_CHANGE = 0, 1, 2, 3, 4, 5
SEQUIN_MODE, SEQUIN_EJECT, NEEDLE_SET, SLOW, FAST = 6, 7, 9, 0xB, 0xC
COLOR_BREAK = 0xE2
COMMAND_MASK = 0xFF

SEQUENTIAL = frozenset({"dst", "dsb", "dsz", "tbf", "exp", "jef", "10o", "100", "u01"})
"""Formats read front to back up to an end mark or the end of the file."""
PADDING = b"\x00\x1a\x20\xff"

MAX_EXTENT_MM = 1500.0
"""No embroidery frame is larger; a design beyond it is a misread file."""

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int32]


@dataclass(frozen=True)
class Thread:
    colour: str
    """#rrggbb"""
    name: str | None = None
    catalog: str | None = None
    brand: str | None = None
    assigned: bool = False
    """The file names no colour: fabqueue chose this one for the picture."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "colour": self.colour,
            "name": self.name,
            "catalog": self.catalog,
            "brand": self.brand,
            "assigned": self.assigned,
        }


@dataclass
class Design:
    """A stitch file as arrays: positions in 1/10 mm (+y down), pyembroidery commands."""

    file_type: str
    x: Floats
    y: Floats
    cmd: Ints
    threads: list[Thread] = field(default_factory=list)
    name: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def commands(self) -> Ints:
        return self.cmd & COMMAND_MASK

    def __len__(self) -> int:
        return int(self.cmd.shape[0])

    def payload(self, metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """What :func:`jobs.embroidery.worker.build_pattern` rebuilds a pattern from."""
        return {
            "x": np.ascontiguousarray(self.x, dtype=np.float64).tobytes(),
            "y": np.ascontiguousarray(self.y, dtype=np.float64).tobytes(),
            "cmd": np.ascontiguousarray(self.cmd, dtype=np.int32).tobytes(),
            "threads": [(t.colour, t.name, t.catalog, t.brand) for t in self.threads],
            "metadata": metadata or {},
        }


@dataclass(frozen=True)
class WorkerLimits:
    seconds: float = 30.0
    """Wall-clock time for one read or write (a 200,000-stitch file reads in 0.5 s)."""
    memory_mb: int = 1536
    """Address space of the worker: pyembroidery holds ~150 bytes per stitch."""
    max_records: int = DEFAULT_MAX_RECORDS
    """Records one file may make, counted by the worker as it reads: what comes back
    to this process (20 bytes a record, plus the checks' arrays) stays bounded."""


class WorkerFailed(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        """timeout | memory | crash | error"""
        self.detail = detail


def run_worker(op: str, args: tuple[Any, ...], limits: WorkerLimits) -> Any:
    """Run ``jobs.embroidery.worker.OPS[op](*args)`` in a bounded child process.

    A fresh interpreter (``python -m jobs.embroidery.worker``, ~40 ms to start), not a fork: the
    callers live in threads of the API and the runners, and forking a threaded process
    can leave the child waiting forever on a lock some other thread held.
    """
    request = pickle.dumps(
        (op, args, limits.memory_mb * 1024 * 1024, int(limits.seconds) + 1),
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([_PACKAGE_ROOT, *_python_path()]),
        # One thread: OpenBLAS would otherwise reserve buffers per core at import, eating
        # the worker's address-space limit before any file is read.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.embroidery.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = proc.communicate(request, timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise WorkerFailed("timeout", f"gave up after {limits.seconds:.0f} s") from None
    memory_mb = _effective_memory_mb(limits.memory_mb)
    if proc.returncode != 0 or not out:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        signal_name = f"signal {-proc.returncode}" if proc.returncode < 0 else "an error"
        if b"MemoryError" in err:
            raise WorkerFailed("memory", f"needed more than {memory_mb} MB")
        raise WorkerFailed("crash", f"the worker stopped with {signal_name} {tail[0][:200]}")
    answer = pickle.loads(out)
    _note_peak(float(answer[-1]) if isinstance(answer[-1], float) else 0.0)
    status = answer[0]
    if status == "ok":
        return answer[1]
    if status == "memory":
        raise WorkerFailed("memory", f"needed more than {memory_mb} MB")
    raise WorkerFailed("error", f"{answer[1]}: {answer[2]}")


def _effective_memory_mb(asked_mb: int) -> int:
    """The child's memory limit: this process's own bound, when tighter, wins (the
    child inherits it; see ``jobs.embroidery.worker._limit``)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    return asked_mb if hard == resource.RLIM_INFINITY else min(asked_mb, hard >> 20)


_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
_peak = {"mb": 0.0}


def _note_peak(mb: float) -> None:
    _peak["mb"] = max(_peak["mb"], mb)


def worker_peak_mb() -> float:
    """The highest peak memory of any worker this process started (for benchmarks)."""
    return _peak["mb"]


def _python_path() -> list[str]:
    current = os.environ.get("PYTHONPATH", "")
    return [p for p in current.split(os.pathsep) if p]


def design_from_payload(file_type: str, payload: dict[str, Any]) -> Design:
    threads = [Thread(colour=c, name=d, catalog=k, brand=b) for c, d, k, b in payload["threads"]]
    extras: dict[str, str] = payload.get("extras", {})
    name = extras.get("name") or extras.get("Name")
    return Design(
        file_type=file_type,
        x=np.frombuffer(payload["x"], dtype=np.float64),
        y=np.frombuffer(payload["y"], dtype=np.float64),
        cmd=np.frombuffer(payload["cmd"], dtype=np.int32),
        threads=threads,
        name=name,
        extras=extras,
    )


def _refuse(file_type: str, why: str) -> AnalysisError:
    what = READABLE.get(file_type, file_type.upper())
    return AnalysisError(f"this {what} file {why}. Formats accepted: {describe_readable()}")


def read_design(
    path: Path,
    file_type: str,
    *,
    settings: dict[str, Any] | None = None,
    limits: WorkerLimits | None = None,
) -> Design:
    """Read and check a stitch file; :class:`AnalysisError` says why it cannot be used."""
    file_type = file_type.lower()
    if file_type not in READABLE:
        hint = UNREADABLE_HINTS.get(file_type)
        lead = hint + ". " if hint else f"{file_type or 'this'} files are not stitch files. "
        raise AnalysisError(f"{lead}Formats accepted: {describe_readable()}")
    size = path.stat().st_size
    if size == 0:
        raise _refuse(file_type, "is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise _refuse(
            file_type, f"is {size / 1e6:.0f} MB; stitch files are under {MAX_FILE_BYTES >> 20} MB"
        )
    limits = limits or WorkerLimits()
    _check_record_budget(file_type, size, limits.max_records)
    with path.open("rb") as fh:
        head = fh.read(1024)
    if file_type == "dst":
        _check_dst_header(head)
    try:
        payload = run_worker(
            "read", (str(path), file_type, settings or {}, limits.max_records), limits
        )
    except WorkerFailed as exc:
        raise _refuse(file_type, _failure_text(exc)) from exc
    design = design_from_payload(file_type, payload)
    _check_complete(design, head, size, payload.get("short_reads", []))
    _check_all_read(path, design, size, int(payload.get("furthest", size)))
    _check_plausible(design, size)
    if file_type == "dst":
        design.warnings.extend(_dst_consistency(path, head, design))
    if file_type == "pes":
        design.warnings.extend(_pes_consistency(path, design))
    return design


_MAX_BYTES_PER_RECORD = {"exp": 4}
"""Formats read to their last byte whose every record takes at most this many bytes (an
EXP stitch is 2 bytes, a command 4): the file's size alone shows it is over budget."""


def _check_record_budget(file_type: str, size: int, max_records: int) -> None:
    per_record = _MAX_BYTES_PER_RECORD.get(file_type)
    if per_record is not None and size // per_record > max_records:
        raise _refuse(
            file_type,
            f"is refused: at {size / 1e6:.1f} MB it makes at least {size // per_record:,} "
            f"records, more than the {max_records:,} a design may have",
        )


def _failure_text(exc: WorkerFailed) -> str:
    if exc.kind == "timeout":
        return f"could not be read in time ({exc.detail}): damaged, or far too large"
    if exc.kind == "memory":
        return f"is too large to read safely ({exc.detail})"
    if exc.kind == "crash":
        return f"made the reader crash ({exc.detail})"
    if exc.detail.startswith("TooManyRecords:"):
        return "is refused: " + exc.detail.split(":", 1)[1].strip()
    if exc.detail.startswith("RanOutOfData:"):
        where = exc.detail.split(":", 1)[1].strip()
        return f"is cut short: {where}, before its end; ask for the file again"
    return f"could not be read ({exc.detail}): damaged, or not really this format"


# --- completeness -------------------------------------------------------------------


def _check_complete(
    design: Design, head: bytes, size: int, short_reads: list[tuple[int, int, int]]
) -> None:
    partial = [r for r in short_reads if r[2] > 0]
    if partial or (short_reads and design.file_type in STRICT_END):
        where = (partial or short_reads)[0][0]
        raise _refuse(
            design.file_type,
            f"is cut short: its data stops at byte {where} of {size} before the end mark; "
            "ask for the file again",
        )
    if design.file_type == "jef" and len(head) >= 32:
        offset = int.from_bytes(head[0:4], "little")
        points = int.from_bytes(head[28:32], "little")
        expected = offset + 2 * points
        if points > 0 and size + 4 < expected:
            raise _refuse(
                "jef",
                f"is cut short: its header announces {expected} bytes, the file holds {size}; "
                "ask for the file again",
            )
    if design.file_type == "pec" and head.startswith(b"#PEC") and len(head) >= 525:
        # The stitch block's length sits at a fixed place after the 0x1D0-byte header.
        block_end = int.from_bytes(head[522:525], "little") - 5 + 525
        if block_end > size:
            raise _refuse(
                "pec",
                f"is cut short: its stitches should run to byte {block_end}, the file holds "
                f"{size}; ask for the file again",
            )
    if design.file_type == "hus" and len(head) >= 8:
        declared = int.from_bytes(head[4:8], "little")
        if declared > 0 and len(design) < declared:
            raise _refuse(
                "hus",
                f"is cut short: its header announces {declared} records, "
                f"{len(design)} could be read; ask for the file again",
            )


def _check_all_read(path: Path, design: Design, size: int, furthest: int) -> None:
    """A reader of a sequential format that stops well before the end met a code it
    does not know: a damaged file, or bytes that are not this format at all."""
    if design.file_type not in SEQUENTIAL or size - furthest <= 8:
        return
    with path.open("rb") as fh:
        fh.seek(furthest)
        tail = fh.read(64 * 1024)
    if len(tail) < size - furthest or tail.strip(PADDING):
        raise _refuse(
            design.file_type,
            f"stops making sense at byte {furthest} of {size} (an unknown code, "
            f"{size - furthest} bytes left unread): damaged, or not really this format",
        )


# --- DST ----------------------------------------------------------------------------

_DST_FIELD = re.compile(rb"([A-Z+\-]{2}):([^\r\x1a]*)")


def dst_header_fields(head: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in _DST_FIELD.findall(head[:512].split(b"\x1a", 1)[0]):
        fields.setdefault(key.decode("ascii"), value.decode("latin-1").strip())
    return fields


def _check_dst_header(head: bytes) -> None:
    if len(head) < 512 or not head.startswith(b"LA:"):
        raise _refuse(
            "dst",
            "has no Tajima header (a DST starts with a 512-byte header beginning 'LA:'); "
            "it is damaged or not a DST",
        )


def _header_int(fields: dict[str, str], key: str) -> int | None:
    raw = fields.get(key, "").replace(" ", "")
    return int(raw) if re.fullmatch(r"[+-]?\d{1,7}", raw) else None


def _dst_consistency(path: Path, head: bytes, design: Design) -> list[str]:
    """Header figures against the records; the records win, the header earns a warning."""
    warnings: list[str] = []
    fields = dst_header_fields(head)
    data = np.fromfile(path, dtype=np.uint8, offset=512)
    records = data[: data.shape[0] // 3 * 3].reshape(-1, 3)
    ends = np.flatnonzero((records[:, 2] & 0xF3) == 0xF3)
    end_at = int(ends[0]) + 1 if ends.shape[0] else records.shape[0]
    declared = _header_int(fields, "ST")
    if declared is None:
        warnings.append("the DST header's stitch count (ST) is missing or unreadable")
    elif abs(declared - end_at) > max(10, 0.02 * end_at):
        warnings.append(
            f"the DST header announces {declared} records, the file holds {end_at}; "
            "the records are used"
        )
    extents = [_header_int(fields, k) for k in ("+X", "-X", "+Y", "-Y")]
    if all(v is not None for v in extents) and len(design):
        px, nx, py, ny = (abs(v) for v in extents if v is not None)
        width = float(design.x.max() - design.x.min())
        height = float(design.y.max() - design.y.min())
        off = max(abs((px + nx) - width), abs((py + ny) - height)) / 10.0
        if (px + nx + py + ny) > 0 and off > 2.0:
            warnings.append(
                f"the DST header's extents ({(px + nx) / 10:.1f} × {(py + ny) / 10:.1f} mm) "
                f"disagree with the stitches by {off:.1f} mm; the stitches are used"
            )
    return warnings


# --- PES ----------------------------------------------------------------------------


def _pes_consistency(path: Path, design: Design) -> list[str]:
    """A PES holds the design twice: Brother's design objects (``CEmbOne``, with their
    box) and the PEC block the machine stitches, which is what pyembroidery reads. When
    the two disagree, say so (the corpus's Embroidermodder.PES has its PEC block turned
    by 90° against its own design box)."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    pec_at = int.from_bytes(head[8:12], "little") if len(head) >= 12 else 0
    at = head.find(b"CEmbOne", 0, pec_at if 0 < pec_at <= len(head) else len(head))
    if at < 0 or len(head) < at + 7 + 8:
        return []
    left, top, right, bottom = (
        int.from_bytes(head[at + 7 + 2 * i : at + 9 + 2 * i], "little", signed=True)
        for i in range(4)
    )
    box_w, box_h = (right - left) / 10.0, (bottom - top) / 10.0
    stitch = design.commands == STITCH
    w = float(design.x[stitch].max() - design.x[stitch].min()) / 10.0
    h = float(design.y[stitch].max() - design.y[stitch].min()) / 10.0
    if box_w <= 0 or box_h <= 0 or (abs(box_w - w) <= 1.0 and abs(box_h - h) <= 1.0):
        return []
    if abs(box_w - h) <= 1.0 and abs(box_h - w) <= 1.0:
        return [
            f"this PES disagrees with itself: its design box is {box_w:.1f} × {box_h:.1f} mm, "
            f"its machine stitches {w:.1f} × {h:.1f} mm, turned by 90°; the stitches are "
            "used: check the orientation with the customer"
        ]
    return [
        f"this PES disagrees with itself: its design box is {box_w:.1f} × {box_h:.1f} mm, "
        f"its machine stitches {w:.1f} × {h:.1f} mm; the stitches are used"
    ]


# --- plausibility -------------------------------------------------------------------


def _check_plausible(design: Design, size: int) -> None:
    cmds = design.commands
    stitch = cmds == STITCH
    count = int(stitch.sum())
    if count == 0:
        raise _refuse(design.file_type, "holds no stitches")
    if not (np.all(np.isfinite(design.x)) and np.all(np.isfinite(design.y))):
        raise _refuse(design.file_type, "holds impossible coordinates")
    sx, sy = design.x[stitch], design.y[stitch]
    width = float(sx.max() - sx.min()) / 10.0
    height = float(sy.max() - sy.min()) / 10.0
    if max(width, height) > MAX_EXTENT_MM:
        raise _refuse(
            design.file_type,
            f"spreads over {width:.0f} × {height:.0f} mm, larger than any embroidery frame: "
            "it was not read correctly",
        )
    if len(design) > 4 * size:
        raise _refuse(design.file_type, f"yields {len(design)} records from {size} bytes")
    if count >= 200 and _looks_random(design, stitch):
        raise _refuse(
            design.file_type,
            "reads as random movements (most stitches 8 mm or longer, in every direction): "
            "it is not really this format",
        )


def _looks_random(design: Design, stitch: npt.NDArray[np.bool_]) -> bool:
    """Bytes that are not a design, decoded as relative moves, make long stitches of
    uniformly random length; real designs are mostly 1-5 mm stitches."""
    both = stitch[1:] & stitch[:-1]
    lengths = np.hypot(np.diff(design.x), np.diff(design.y))[both] / 10.0
    if lengths.shape[0] < 100:
        return False
    return bool(np.median(lengths) > 6.0 and np.mean(lengths > 8.0) > 0.35)
