"""Large test files made on the fly, never held whole in memory."""

from __future__ import annotations

import hashlib


class PatternStream:
    """A readable stream of ``size`` bytes of a repeating, non-trivial pattern."""

    def __init__(self, size: int, seed: bytes = b"fabqueue") -> None:
        self.size = size
        self.pos = 0
        block = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(256))
        self.block = block * 128  # 1 MiB

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        n = left if n < 0 else min(n, left)
        start = self.pos % len(self.block)
        if start + n <= len(self.block):
            out = self.block[start : start + n]
        else:
            out = (self.block[start:] + self.block)[:n]
        self.pos += len(out)
        return out
