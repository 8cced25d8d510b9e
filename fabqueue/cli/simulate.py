"""``fabqueue simulate <machine>``: run a software machine on a pseudo-terminal and print
its device path, so a driver, OctoPrint or a terminal can open it like real hardware."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from drivers.emulators import EMULATORS
from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="run an emulated machine on a pseudo-terminal")
    p.add_argument("machine", help=f"one of: {', '.join(sorted(EMULATORS)) or '(none yet)'}")
    p.add_argument("--baud", type=int, default=115200, help="pace bytes at this rate")
    p.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="emulator setting (repeatable)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target = EMULATORS.get(args.machine)
    if target is None:
        fail(f"no emulator {args.machine!r}; known: {', '.join(sorted(EMULATORS)) or 'none'}")
    module, _, function = target.partition(":")
    entry = getattr(importlib.import_module(module), function)
    result: int = entry(args)
    return result
