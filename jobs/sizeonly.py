"""Stand-in analysis for kinds whose analyzer has not landed: size only, said plainly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from jobs.base import Analysis, MachineKind


def for_kind(kind: MachineKind) -> Callable[[Path, BaseModel | None], Analysis]:
    def analyze(path: Path, params: BaseModel | None = None) -> Analysis:
        size = path.stat().st_size
        return Analysis(
            kind=kind,
            file_type=path.suffix.lstrip(".").lower() or "unknown",
            analyzer="size-only",
            counts={"bytes": size},
            warnings=[
                "size-only analysis: no duration, material or fit check for this file type yet"
            ],
        )

    return analyze
