"""Embroidery machines fed by a folder: the USB stick they read, or a network share.

The runner has already made the machine's own file (``jobs.embroidery.analysis.convert``: native
format, centred in its hoop, read back and compared). This driver puts it where the
machine looks for it — atomically (temporary name, fsync, rename), under a name the
machine accepts, with its colour side files — reads it back from the medium, and then
waits: such a machine never says when it starts or finishes. A person reports "started
on the machine" (and which colour block comes next), and confirms the result.

A missing folder (stick not inserted, share down) makes the machine *offline*: no job
is handed over, so none is lost. Once a job is delivered, the stick leaving is normal
(it goes into the machine) and the job stays with the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from drivers.base import (
    Clock,
    Driver,
    DriverCapabilities,
    DriverConfig,
    DriverUnavailable,
    JobPhase,
    JobProgress,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
    StatusCallback,
)

NATIVE_TYPES = frozenset({"pes", "pec", "dst", "exp", "jef", "vp3", "xxx", "u01", "tbf"})
SIDE_TYPES = frozenset({"inf", "edr", "col"})
TEMP_SUFFIX = ".fq-part"

_CHARSETS = {
    "alnum": r"A-Za-z0-9",
    "alnum_underscore": r"A-Za-z0-9_",
    "alnum_dash_underscore": r"A-Za-z0-9_\-",
}


class FolderConfig(DriverConfig):
    folder: Path
    """The USB stick's mount point or the share the machine reads."""
    subfolder: str = ""
    """Where the machine looks inside it, e.g. "EMB/Embf" (Janome)."""
    create_subfolder: bool = True
    require_mount: bool = False
    """``folder`` must be a mount point: with the stick out, never write to the bare
    directory underneath (the machine would never see the file)."""
    name_max_length: int = Field(8, ge=1, le=64)
    """Characters before the extension (many machines show 8)."""
    name_chars: Literal["alnum", "alnum_underscore", "alnum_dash_underscore"] = "alnum"
    name_case: Literal["upper", "lower", "keep"] = "upper"
    extension_case: Literal["upper", "lower"] = "upper"
    name_from: Literal["design", "job"] = "design"
    """design: from the name the customer gave the file; job: "FQ" and the job number."""
    overwrite: Literal["unique", "replace", "refuse"] = "unique"
    """A different file with the same name is there: number the new one, replace the
    old one, or refuse the job."""
    min_free_mb: float = Field(1.0, ge=0)
    """Space left free on the medium after writing."""
    poll_s: float = Field(2.0, gt=0)
    """How often the folder is looked at while nothing happens."""
    remove_on_cancel: bool = True
    """Delete a cancelled job's file, so nobody embroiders it by mistake."""

    @field_validator("subfolder")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = Path(value).parts
        if Path(value).is_absolute() or ".." in parts:
            raise ValueError("must be a path inside the folder, like EMB/Embf")
        return value


@dataclass(frozen=True)
class Delivery:
    name: str
    """The file name on the medium, as the operator will look for it."""
    relative: str
    """Its path inside ``folder``."""
    sha256: str
    size: int
    side_files: tuple[str, ...] = ()


def sanitise_stem(text: str, config: FolderConfig) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(f"[^{_CHARSETS[config.name_chars]}]", "", folded)
    if config.name_case == "upper":
        stem = stem.upper()
    elif config.name_case == "lower":
        stem = stem.lower()
    return stem[: config.name_max_length]


def file_stem(ticket: JobTicket, config: FolderConfig) -> str:
    if config.name_from == "job":
        return sanitise_stem(f"FQ{ticket.job_id}", config) or str(ticket.job_id)
    stem = sanitise_stem(Path(ticket.file_name).stem, config)
    return stem or sanitise_stem(f"FQ{ticket.job_id}", config) or str(ticket.job_id)


def extension(file_type: str, config: FolderConfig) -> str:
    return file_type.upper() if config.extension_case == "upper" else file_type.lower()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_back(path: Path) -> str:
    """Hash the file as the medium holds it: drop the cached pages first, so the bytes
    come from the stick, not from what we just wrote into memory."""
    with path.open("rb") as fh:
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        digest = hashlib.sha256()
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(source: Path, target: Path) -> None:
    temp = target.with_name(f".{target.name}{TEMP_SUFFIX}")
    try:
        with source.open("rb") as src, temp.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        temp.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _fsync_dir(target.parent)


class EmbroideryFolderDriver(Driver[FolderConfig]):
    name = "embroidery_folder"
    Config = FolderConfig
    default_capabilities = DriverCapabilities(
        file_types=NATIVE_TYPES,
        can_pause=False,
        can_cancel=True,
        reports_progress=False,
        reports_completion=False,
        needs_operator_start=True,
        can_resume=True,
    )

    def __init__(
        self, machine: str, config: FolderConfig, *, on_status: StatusCallback, clock: Clock
    ) -> None:
        super().__init__(machine, config, on_status=on_status, clock=clock)
        self._job: JobProgress | None = None
        self._delivery: Delivery | None = None
        self._poll: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # --- the folder --------------------------------------------------------------------

    @property
    def target_dir(self) -> Path:
        return self.cfg.folder / self.cfg.subfolder if self.cfg.subfolder else self.cfg.folder

    def folder_problem(self) -> str | None:
        """Why nothing can be delivered now (None: the folder is there and writable)."""
        root = self.cfg.folder
        if not root.is_dir():
            return f"{root} is not there: insert the machine's USB stick (or mount its share)"
        if self.cfg.require_mount and not os.path.ismount(root):
            return f"{root} is not mounted: insert the machine's USB stick"
        target = self.target_dir
        if not target.is_dir() and not self.cfg.create_subfolder:
            return f"{target} is missing on the stick (the machine reads {self.cfg.subfolder})"
        if not os.access(root, os.W_OK):
            return f"{root} is read-only (is the stick's write-protect switch on?)"
        return None

    async def _refresh(self) -> MachineStatus:
        problem = await asyncio.to_thread(self.folder_problem)
        if self._job is not None:
            # The stick may well be in the machine: the job stays with the machine.
            note = "the stick is out (in the machine?)" if problem else None
            return self._push(state=MachineState.busy, message=note)
        if problem:
            return self._push(state=MachineState.offline, job=None, message=problem)
        return self._push(state=MachineState.idle, job=None, message=None)

    async def _watch(self) -> None:
        while True:
            try:
                await self._refresh()
            except Exception:  # a flaky share must not kill the watcher
                self.log.exception("cannot look at %s", self.cfg.folder)
            await self.clock.sleep(self.cfg.poll_s)

    # --- Driver ------------------------------------------------------------------------

    async def connect(self) -> None:
        await self._refresh()
        if self._poll is None or self._poll.done():
            self._poll = asyncio.create_task(self._watch(), name=f"folder-{self.machine}")

    async def close(self) -> None:
        if self._poll is not None and not self._poll.done():
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        self._poll = None

    async def probe(self) -> MachineStatus:
        return await self._refresh()

    async def start(self, ticket: JobTicket) -> None:
        async with self._lock:
            if self._job is not None:
                raise DriverUnavailable(f"{self.machine} still holds job {self._job.ref}")
            reason = self.supports(ticket)
            if reason is not None:
                raise JobRejected(reason)
            previous = (ticket.resume_from or {}).get("delivered")
            problem = await asyncio.to_thread(self.folder_problem)
            if problem and previous:
                # Resuming a job already delivered: its file went into the machine with
                # the stick. Carry on from where the operator said it was.
                delivery = Delivery(**{**previous, "side_files": tuple(previous["side_files"])})
            elif problem:
                raise DriverUnavailable(problem)
            else:
                delivery = await asyncio.to_thread(self._deliver, ticket)
            self._delivery = delivery
            operator = (ticket.resume_from or {}).get("operator")
            where = self.cfg.subfolder or "the top folder"
            checkpoint: dict[str, Any] = {
                "delivered": {
                    "name": delivery.name,
                    "relative": delivery.relative,
                    "sha256": delivery.sha256,
                    "size": delivery.size,
                    "side_files": list(delivery.side_files),
                }
            }
            notes = [str(n) for n in ticket.params.get("notes", [])]
            if notes:
                # What the operator must know at the machine (no colours in DST…).
                checkpoint["notes"] = notes
            if operator:
                checkpoint["operator"] = operator
                self._job = JobProgress(
                    ref=ticket.ref,
                    phase=JobPhase.running,
                    progress=operator.get("progress"),
                    eta_s=operator.get("eta_s"),
                    message=f"{delivery.name}: resumed; {block_message(operator)}",
                    checkpoint=checkpoint,
                )
            else:
                self._job = JobProgress(
                    ref=ticket.ref,
                    phase=JobPhase.starting,
                    message=(
                        f"{delivery.name} is on the stick ({where}): hoop the garment, load "
                        "the design on the machine, then report it started"
                    ),
                    checkpoint=checkpoint,
                )
            self._push(state=MachineState.busy, job=self._job, message=None)

    def _deliver(self, ticket: JobTicket) -> Delivery:
        target_dir = self.target_dir
        if self.cfg.create_subfolder:
            target_dir.mkdir(parents=True, exist_ok=True)
        source = ticket.file_path
        sides = [
            source.with_name(name)
            for name in ticket.params.get("side_files", [])
            if Path(name).suffix.lstrip(".").lower() in SIDE_TYPES
        ]
        for side in sides:
            if not side.is_file():
                raise JobRejected(f"the colour file {side.name} was not made")
        digest = _sha256(source)
        size = source.stat().st_size + sum(s.stat().st_size for s in sides)
        stem = self._free_stem(file_stem(ticket, self.cfg), ticket.file_type, digest)
        free = shutil.disk_usage(target_dir).free
        needed = size + int(self.cfg.min_free_mb * 1024 * 1024)
        if free < needed:
            raise DriverUnavailable(
                f"not enough room on the stick: {free / 1e6:.1f} MB free, "
                f"{needed / 1e6:.1f} MB needed; delete old designs from it"
            )
        side_names = []
        # Colour files first: the machine must never list a stitch file without them.
        for side in sides:
            name = f"{stem}.{extension(side.suffix.lstrip('.'), self.cfg)}"
            self._put(side, target_dir / name)
            side_names.append(name)
        name = f"{stem}.{extension(ticket.file_type, self.cfg)}"
        self._put(source, target_dir / name, digest)
        relative = str((target_dir / name).relative_to(self.cfg.folder))
        return Delivery(name, relative, digest, size, tuple(side_names))

    def _put(self, source: Path, target: Path, digest: str | None = None) -> None:
        expected = digest or _sha256(source)
        if target.is_file() and _sha256(target) == expected:
            return  # already there, byte for byte (a resumed or repeated job)
        _write_atomic(source, target)
        if _read_back(target) != expected:
            with contextlib.suppress(OSError):
                target.unlink()
            raise DriverUnavailable(
                f"{target.name} did not read back as written: the stick may be failing"
            )

    def _free_stem(self, stem: str, file_type: str, digest: str) -> str:
        """A name not taken by another design (the same design may stay)."""

        def taken(candidate: str) -> bool:
            path = self.target_dir / f"{candidate}.{extension(file_type, self.cfg)}"
            if not path.exists():
                # FAT sticks ignore case: look for the name in any case.
                lower = path.name.lower()
                with contextlib.suppress(OSError):
                    return any(
                        p.name.lower() == lower and _sha256(p) != digest
                        for p in self.target_dir.iterdir()
                    )
                return False
            return _sha256(path) != digest

        if not taken(stem) or self.cfg.overwrite == "replace":
            return stem
        if self.cfg.overwrite == "refuse":
            raise JobRejected(
                f"{stem}.{extension(file_type, self.cfg)} is already on the stick and is "
                "another design; rename the job's file or remove the old one"
            )
        for n in range(1, 10_000):
            suffix = str(n)
            candidate = stem[: self.cfg.name_max_length - len(suffix)] + suffix
            if not taken(candidate):
                return candidate
        raise DriverUnavailable("the stick is full of designs with this name")

    async def operator_report(self, ref: str, report: dict[str, Any]) -> None:
        job = self._job
        if job is None or job.ref != ref:
            return
        self._job = JobProgress(
            ref=ref,
            phase=JobPhase.running,
            progress=report.get("progress"),
            eta_s=report.get("eta_s"),
            message=block_message(report),
            checkpoint={**job.checkpoint, "operator": report},
        )
        self._push(state=MachineState.busy, job=self._job)

    async def cancel(self) -> None:
        job, delivery = self._job, self._delivery
        if job is None:
            return
        if self.cfg.remove_on_cancel and delivery is not None:
            await asyncio.to_thread(self._remove, delivery)
        self._job = None
        self._delivery = None
        self._push(job=job.model_copy(update={"phase": JobPhase.cancelled, "eta_s": None}))
        await self._refresh()

    def _remove(self, delivery: Delivery) -> None:
        if self.folder_problem() is not None:
            return  # the stick is in the machine; the operator knows the job is off
        main = self.cfg.folder / delivery.relative
        with contextlib.suppress(OSError):
            # Only our design: someone may have put another under that name since.
            if _sha256(main) == delivery.sha256:
                main.unlink()
        for side in delivery.side_files:
            with contextlib.suppress(OSError):
                (main.parent / side).unlink()

    async def release(self) -> None:
        self._job = None
        self._delivery = None
        await self._refresh()

    async def emergency_stop(self) -> str:
        """The machine stitches from its own copy of the design: nothing here can stop it."""
        await self.release()
        return (
            "nothing to stop from here: the embroidery machine runs its own copy of the "
            "design; stop it with the machine's own button"
        )


def block_message(report: dict[str, Any]) -> str:
    block, blocks = report.get("next_block"), report.get("blocks")
    if not block:
        return "started on the machine"
    if blocks and block > blocks:
        return "last colour block done"
    colour = report.get("colour")
    what = f" ({colour})" if colour else ""
    total = f" of {blocks}" if blocks else ""
    return f"on the machine; colour block {block}{total} next{what}"
