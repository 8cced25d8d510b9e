"""What the workers run: the file work of :mod:`jobs.registry`, by name.

Module-level functions, so a task pickles as a reference; the worker imports this
module once (the fork server preloads it) and keeps it warm.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jobs import registry
from jobs.base import Analysis, Artifact, Preview
from jobs.logos import LogoOptions, logo_to_svg
from jobs.models3d import SliceRequest, model_to_gcode


def analyze(path: Path, file_type: str, params: BaseModel | None) -> Analysis:
    return registry.analyze(path, file_type, params)


def preview(
    path: Path, file_type: str, params: BaseModel | None, analysis: Analysis
) -> Preview | None:
    return registry.preview(path, file_type, params, analysis)


def convert(
    path: Path, file_type: str, params: BaseModel, out_dir: Path, copies: int
) -> Artifact | None:
    return registry.convert(path, file_type, params, out_dir, copies=copies)


def make_model(
    path: Path, file_type: str, req: SliceRequest, cache_dir: Path
) -> tuple[Path, dict[str, Any]]:
    return model_to_gcode(path, file_type, req, cache_dir)


def make_logo(
    path: Path, file_type: str, options: LogoOptions, work: Path
) -> tuple[Path, dict[str, Any]]:
    result = logo_to_svg(path, file_type, options, work)
    return result.svg, result.details


def pid_of_worker() -> int:
    """Nothing but the round trip (benchmarks, and a check that the pool is alive)."""
    return os.getpid()
