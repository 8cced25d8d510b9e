"""``fabqueue analyze FILE``: what fabqueue understands of a job file, offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fabqueue.cli.common import fail

_HEADLINE_DETAILS = (
    "heatup_s",
    "overhead_s",
    "machine_time_s",
    "slicer_duration_s",
    "slicer_filament_mm",
    "slicer_filament_g",
)
"""Details also printed at the top level of ``--json`` (analyzers that have them)."""


def register(sub: Any) -> None:
    p = sub.add_parser("analyze", help="analyse a job file (duration, material, size)")
    p.add_argument("file", type=Path)
    p.add_argument("--machine", help="use this machine profile's parameters")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fabqueue.profiles import ProfileErrors, load_profiles
    from fabqueue.settings import Settings
    from jobs.base import AnalysisError, FileRejected
    from jobs.registry import analyze, file_type_of

    if not args.file.is_file():
        fail(f"no file {args.file}")
    params = None
    if args.machine:
        try:
            profiles = load_profiles(Settings().profiles_dir)
        except ProfileErrors as exc:
            fail(str(exc))
        profile = profiles.machines.get(args.machine)
        if profile is None:
            fail(f"no machine profile {args.machine!r}")
        params = profile.params
    try:
        analysis = analyze(args.file, file_type_of(args.file.name), params)
    except (AnalysisError, FileRejected) as exc:
        fail(f"{args.file}: {exc}", code=1)
    headline = {
        **analysis.material,
        **{k: analysis.details[k] for k in _HEADLINE_DETAILS if k in analysis.details},
    }
    if args.json:
        print(json.dumps({**analysis.model_dump(mode="json"), **headline}, indent=2))
        return 0
    print(f"{args.file.name}: {analysis.kind.value}, analysed by {analysis.analyzer}")
    if analysis.duration_s is not None:
        print(f"  duration   {analysis.duration_s / 60:.1f} min")
    for key, label in (
        ("heatup_s", "heat-up"),
        ("overhead_s", "overhead"),
        ("slicer_duration_s", "slicer"),
    ):
        if isinstance(headline.get(key), int | float):
            print(f"  {label:<10} {headline[key] / 60:.1f} min")
    for key, value in analysis.material.items():
        print(f"  {key:<10} {value:.2f}")
    if analysis.bounds is not None:
        x, y, z = analysis.bounds.size
        print(f"  size       {x:.1f} × {y:.1f} × {z:.1f} mm")
    for key, count in analysis.counts.items():
        print(f"  {key:<10} {count}")
    for warning in analysis.warnings:
        print(f"  warning: {warning}")
    return 0
