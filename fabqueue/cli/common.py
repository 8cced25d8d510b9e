"""Helpers shared by commands."""

from __future__ import annotations

import sys
from typing import NoReturn


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"fabqueue: {message}", file=sys.stderr)
    raise SystemExit(code)
