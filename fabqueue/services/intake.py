"""Files as people bring them: models sliced into G-code, logos made into SVG, before
the ordinary analysis and pricing. Called by ``submit_job`` for every caller (API, the
OctoPrint-compatible upload, pages, CLI).

The made file becomes the job's file (what is priced, checked and sent); the source is
stored and indexed too, and named in the analysis' ``details["made_from"]``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from fabqueue.models import MachineRecord
from fabqueue.profiles import ProfileSet
from fabqueue.services.analysis import REFUSED, refusal
from fabqueue.services.errors import Invalid, ServiceError, TooLarge, UnsupportedFileType
from fabqueue.services.machines import params_of
from fabqueue.storage import FileStore, Stored
from fabqueue.workers import MODELS_LANE, WorkerPool, tasks
from jobs.base import AnalysisError, FileRejected
from jobs.logos import LOGO_TYPES, LogoOptions, TraceOptions
from jobs.models3d import SliceRequest
from jobs.params import MachineParams
from jobs.params.printer import PrinterParams
from jobs.registry import SOURCES, SourceSpec, file_type_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeOptions:
    """The few choices a model or a logo needs; ignored for ready files."""

    preset: str = "normal"
    infill_percent: int | None = None
    supports: bool = False
    brim_mm: float = 0.0
    scale: float = 1.0
    page: int | None = None
    threshold: int = 128
    speckle_px: int = 2
    corner: float = 1.0
    width_mm: float | None = None


def source_spec(file_type: str) -> SourceSpec | None:
    return SOURCES.get(file_type)


def unavailable() -> list[str]:
    """What this node cannot take in, in words (said at start-up and in /health)."""
    missing: dict[str, list[str]] = {}
    for file_type, spec in SOURCES.items():
        if not spec.available():
            missing.setdefault(spec.tool, []).append(file_type)
    return [
        f"{', '.join(sorted(types)).upper()} files are refused: {tool} is not installed"
        for tool, types in sorted(missing.items())
    ]


def _params(profiles: ProfileSet, record: MachineRecord) -> MachineParams:
    local = profiles.machines.get(record.slug)
    return local.params if local is not None else params_of(record)


def _slicing_dir(profiles: ProfileSet) -> Path:
    root = profiles.root if profiles.root is not None else Path("profiles")
    return root / "slicing"


@dataclass(frozen=True)
class SourceWork:
    """A model or logo to make into a job's file: the worker task and its folder."""

    file_type: str
    work: Path
    task: tuple[Any, ...]
    """The worker function and its arguments."""
    lane: str | None = None
    """The pool lane it runs in (models: their own); None: the ordinary workers."""


def slice_request(
    profiles: ProfileSet, target: MachineRecord, material: str | None, options: IntakeOptions
) -> SliceRequest:
    printer = _params(profiles, target)
    assert isinstance(printer, PrinterParams)
    if not 0 < options.scale <= 100:
        raise Invalid("scale must be above 0 and at most 100")
    mat = profiles.materials.get(material) if material else None
    return SliceRequest(
        profiles_dir=_slicing_dir(profiles),
        bed_mm=(printer.build_x_mm, printer.build_y_mm, printer.build_z_mm),
        machine=target.slug,
        material_type=(getattr(mat, "type", None) or "default").lower(),
        preset=options.preset,
        infill_percent=options.infill_percent,
        supports=options.supports,
        brim_mm=options.brim_mm,
        scale=options.scale,
    )


def _available(file_type: str) -> SourceSpec:
    spec = SOURCES[file_type]
    if not spec.available():
        raise Invalid(
            f"{file_type.upper()} files cannot be taken on this node: {spec.tool} is not "
            "installed (ask the admin to install it, or send a ready file)"
        )
    return spec


def plan_source(
    *,
    store: FileStore,
    profiles: ProfileSet,
    path: Path,
    file_type: str,
    targets: list[MachineRecord],
    material: str | None,
    options: IntakeOptions,
) -> SourceWork:
    """What a worker must do to make ``path`` (a model or a logo) into a job's file."""
    spec = _available(file_type)
    if spec.becomes == "gcode":
        req = slice_request(profiles, targets[0], material, options)
        cache = store.root / "cache" / "slices"
        work = Path(tempfile.mkdtemp(dir=store.root / "tmp", prefix="intake-"))
        return SourceWork(
            file_type, work, (tasks.make_model, path, file_type, req, cache), MODELS_LANE
        )
    trace = TraceOptions(
        threshold=options.threshold,
        speckle_px=options.speckle_px,
        corner=options.corner,
        width_mm=options.width_mm,
    )
    logo = LogoOptions(page=options.page, trace=trace)
    work = Path(tempfile.mkdtemp(dir=store.root / "tmp", prefix="intake-"))
    return SourceWork(file_type, work, (tasks.make_logo, path, file_type, logo, work))


def _refused(file_type: str, exc: Exception) -> ServiceError:
    if isinstance(exc, (AnalysisError, FileRejected)):
        return Invalid(str(exc))
    return refusal(file_type, exc)


def run_source(
    workers: WorkerPool, work: SourceWork, owner: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """Do ``work`` in a worker, from a thread; ``owner``: whose turn it takes."""
    pool = workers.lane(work.lane) if work.lane else workers
    try:
        made: tuple[Path, dict[str, Any]] = pool.run(*work.task, owner=owner)
    except REFUSED as exc:
        raise _refused(work.file_type, exc) from exc
    return made


async def arun_source(
    workers: WorkerPool, work: SourceWork, owner: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """Do ``work`` in a worker without holding a thread while it waits (slicing: ~30 s)."""
    pool = workers.lane(work.lane) if work.lane else workers
    try:
        made: tuple[Path, dict[str, Any]] = await pool.arun(*work.task, owner=owner)
    except REFUSED as exc:
        raise _refused(work.file_type, exc) from exc
    return made


def keep_made(
    store: FileStore,
    source: Stored,
    work: SourceWork,
    made: tuple[Path, dict[str, Any]],
    upload_limit: int,
) -> tuple[Stored, dict[str, Any]]:
    """Store what the worker made and say how it was made (``details["warnings"]``
    are for the job's analysis)."""
    path, details = made
    with path.open("rb") as fh:
        stored = store.save(fh, limit=max(upload_limit, path.stat().st_size))
    return stored, {
        "file_type": work.file_type,
        "sha256": source.sha256,
        "size": source.size,
        **details,
    }


def drop_work(work: SourceWork) -> None:
    shutil.rmtree(work.work, ignore_errors=True)


def make_from_source(
    *,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    source: Stored,
    file_type: str,
    targets: list[MachineRecord],
    material: str | None,
    options: IntakeOptions,
    upload_limit: int,
    owner: str | None = None,
) -> tuple[Stored, dict[str, Any]]:
    """Slice or convert the stored ``source`` in a worker (blocking this thread); store
    the result and say how it was made. ``owner``: whose turn it takes in the pool."""
    work = plan_source(
        store=store, profiles=profiles, path=source.path, file_type=file_type,
        targets=targets, material=material, options=options,
    )  # fmt: skip
    try:
        return keep_made(store, source, work, run_source(workers, work, owner), upload_limit)
    finally:
        drop_work(work)


def logo_preview(
    *,
    store: FileStore,
    workers: WorkerPool,
    stream: BinaryIO,
    filename: str,
    options: IntakeOptions,
    upload_limit: int,
) -> bytes:
    """The SVG a logo would become with ``options``, nothing kept (a live preview)."""
    file_type = file_type_of(filename)
    spec = SOURCES.get(file_type)
    if spec is None or spec.becomes != "svg":
        raise UnsupportedFileType(
            f"only logos can be previewed here: {', '.join(sorted(LOGO_TYPES))}",
            accepted=sorted(LOGO_TYPES),
        )
    if not spec.available():
        raise Invalid(f"{file_type.upper()} logos cannot be taken: {spec.tool} is not installed")
    store.ensure()
    work = Path(tempfile.mkdtemp(dir=store.root / "tmp", prefix="preview-"))
    try:
        source = work / f"logo.{file_type}"
        size = 0
        with source.open("wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > upload_limit:
                    raise TooLarge(f"the file is over {upload_limit} bytes", limit=upload_limit)
                out.write(chunk)
        plan = plan_source(
            store=store, profiles=ProfileSet(), path=source, file_type=file_type,
            targets=[], material=None, options=options,
        )  # fmt: skip
        try:
            return run_source(workers, plan)[0].read_bytes()
        finally:
            drop_work(plan)
    finally:
        shutil.rmtree(work, ignore_errors=True)
