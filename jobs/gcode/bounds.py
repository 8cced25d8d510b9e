"""A bounding box grown point by point (the interpreter's moves, extrusions, the part)."""

from __future__ import annotations

import math

from jobs.base import Bounds


class Box:
    def __init__(self) -> None:
        self.lo = [math.inf, math.inf, math.inf]
        self.hi = [-math.inf, -math.inf, -math.inf]

    def add(self, x: float, y: float, z: float) -> None:
        lo, hi = self.lo, self.hi
        if x < lo[0]:
            lo[0] = x
        if x > hi[0]:
            hi[0] = x
        if y < lo[1]:
            lo[1] = y
        if y > hi[1]:
            hi[1] = y
        if z < lo[2]:
            lo[2] = z
        if z > hi[2]:
            hi[2] = z

    def bounds(self) -> Bounds | None:
        if self.lo[0] == math.inf:
            return None
        return Bounds(
            min_x=self.lo[0],
            min_y=self.lo[1],
            min_z=self.lo[2],
            max_x=self.hi[0],
            max_y=self.hi[1],
            max_z=self.hi[2],
        )
