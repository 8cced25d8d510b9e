"""``fabqueue`` command line. Each command group lives in its own module and adds itself
to the parser through ``register(subparsers)``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fabqueue.cli import (
    analyze,
    bookings,
    books,
    client,
    database,
    mail,
    nodes,
    profiles,
    quotes,
    reports,
    serve,
    simulate,
    storage,
    users,
)

COMMAND_MODULES = (
    serve,
    database,
    users,
    client,
    analyze,
    profiles,
    simulate,
    quotes,
    bookings,
    books,
    reports,
    storage,
    mail,
    nodes,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fabqueue", description="Runs the fab machines of a café numérique."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Their INFO lines (each HTTP request, each migration step) bury the answer.
        for name in ("alembic", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
