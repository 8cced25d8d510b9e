"""How long a Marlin-style firmware takes to run a sequence of straight moves.

The model is Marlin's planner (``Marlin/src/module/planner.cpp``), the same one
PrusaSlicer's ``GCodeProcessor`` and Cura's ``TimeEstimateCalculator`` imitate:

* every move is a block with a trapezoidal speed profile (accelerate, cruise, decelerate)
  at the block's acceleration;
* the nominal speed is the requested feed rate, raised to the minimum feed rate and
  lowered until no axis exceeds its maximum feed rate;
* the acceleration is the print, travel or retract acceleration (M204), lowered until no
  axis exceeds its maximum acceleration (M201);
* the speed at the junction of two blocks is limited either by classic jerk (the largest
  instantaneous per-axis speed change, M205 X/Y/Z/E) or by junction deviation (M205 J);
* a backward pass lowers entry speeds so every block can slow down in time for the next
  ones, a forward pass lowers them where a block cannot accelerate fast enough.

Lookahead covers the whole file, in constant memory: blocks are committed as soon as
nothing that follows can change their speeds (see :meth:`Planner._plan`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MINIMUM_PLANNER_SPEED = 0.05
"""mm/s: Marlin's speed at the end of the queue when junction deviation is used."""

KIND_EXTRUDE = 0
KIND_TRAVEL = 1
KIND_RETRACT = 2
KIND_NAMES = ("extrude", "travel", "retract")

_MAX_PENDING = 4096
"""Blocks kept for lookahead before the oldest half is committed regardless (only reached
by pathological files: thousands of tiny moves without any corner)."""
_PLAN_EVERY = 256


@dataclass
class MotionLimits:
    """The firmware settings the planner uses; M201/M203/M204/M205 in a file change them."""

    max_feedrate: list[float] = field(default_factory=lambda: [200.0, 200.0, 12.0, 120.0])
    """mm/s per axis X, Y, Z, E (M203)."""
    max_accel: list[float] = field(default_factory=lambda: [1000.0, 1000.0, 200.0, 5000.0])
    """mm/s² per axis X, Y, Z, E (M201)."""
    jerk: list[float] = field(default_factory=lambda: [8.0, 8.0, 0.4, 4.5])
    """mm/s per axis X, Y, Z, E (M205 X/Y/Z/E), classic jerk only."""
    accel_print: float = 1250.0
    accel_travel: float = 1250.0
    accel_retract: float = 1250.0
    min_feedrate: float = 0.0
    """mm/s, extruding moves (M205 S)."""
    min_travel_feedrate: float = 0.0
    """mm/s, travel moves (M205 T)."""
    junction_deviation_mm: float | None = None
    """None: classic jerk. A value: Marlin's junction deviation (M205 J)."""
    minimum_planner_speed: float = MINIMUM_PLANNER_SPEED

    def copy(self) -> MotionLimits:
        return MotionLimits(
            max_feedrate=list(self.max_feedrate),
            max_accel=list(self.max_accel),
            jerk=list(self.jerk),
            accel_print=self.accel_print,
            accel_travel=self.accel_travel,
            accel_retract=self.accel_retract,
            min_feedrate=self.min_feedrate,
            min_travel_feedrate=self.min_travel_feedrate,
            junction_deviation_mm=self.junction_deviation_mm,
            minimum_planner_speed=self.minimum_planner_speed,
        )


def block_time(distance: float, accel: float, v0: float, vc: float, v1: float) -> float:
    """Seconds to run ``distance`` mm entering at ``v0``, cruising at most at ``vc`` and
    leaving at ``v1`` (mm/s), accelerating and braking at ``accel`` mm/s²."""
    if distance <= 0.0:
        return 0.0
    if accel <= 0.0:
        return distance / vc
    two_a = 2.0 * accel
    # A plan never asks for a speed change the block is too short for; should the
    # lookahead have been cut short, brake (or speed up) as much as the block allows.
    if v0 * v0 > v1 * v1 + two_a * distance:
        v1 = math.sqrt(v0 * v0 - two_a * distance)
        return (v0 - v1) / accel
    if v1 * v1 > v0 * v0 + two_a * distance:
        v1 = math.sqrt(v0 * v0 + two_a * distance)
        return (v1 - v0) / accel
    up = (vc * vc - v0 * v0) / two_a
    down = (vc * vc - v1 * v1) / two_a
    if up + down <= distance:
        return (vc - v0) / accel + (vc - v1) / accel + (distance - up - down) / vc
    # No room to reach the cruise speed: accelerate to a peak, then brake.
    peak = math.sqrt(max(0.0, (two_a * distance + v0 * v0 + v1 * v1) * 0.5))
    peak = max(peak, v0, v1)
    return (peak - v0) / accel + (peak - v1) / accel


def _jerk_factor(v_exit: float, v_entry: float, factor: float, max_jerk: float) -> float:
    """Marlin's junction jerk on one axis: the scaling ``factor`` after this axis.

    The speed change is the difference when the axis coasts on in the same direction,
    the larger speed when it reverses or stops."""
    v_exit *= factor
    v_entry *= factor
    if v_exit > v_entry:
        j = v_exit - v_entry if (v_entry > 0.0 or v_exit < 0.0) else max(v_exit, -v_entry)
    else:
        j = v_entry - v_exit if (v_entry < 0.0 or v_exit > 0.0) else max(-v_exit, v_entry)
    return factor * max_jerk / j if j > max_jerk else factor


def _within(value: float, limits: list[float], ax: float, ay: float, az: float, ae: float) -> float:
    """``value`` (an acceleration along the move) lowered until no axis, at its share
    ``a*`` of the move, exceeds its limit (unrolled: hot path)."""
    if value * ax > limits[0]:
        value = limits[0] / ax
    if value * ay > limits[1]:
        value = limits[1] / ay
    if value * az > limits[2]:
        value = limits[2] / az
    if value * ae > limits[3]:
        value = limits[3] / ae
    return value


class Planner:
    """Feed it moves in order; read :attr:`time` after :meth:`finish`.

    ``move`` takes the axis deltas in mm (E already scaled by the flow factor) and the
    requested feed rate in mm/s.
    """

    def __init__(self, limits: MotionLimits) -> None:
        self.limits = limits
        self.time = 0.0
        self.time_by_kind = [0.0, 0.0, 0.0]
        self.blocks = 0
        # Pending blocks, one list per block:
        # [distance, accel, nominal², max_entry², nominal_length, kind, stop², entry²]
        self._pending: list[list[float]] = []
        self._since_plan = 0
        self._fixed_entry2: float | None = None
        """Entry² of the first pending block when older blocks are already committed."""
        # The previous block, for junction speeds.
        self._has_prev = False
        self._prev_speed = (0.0, 0.0, 0.0, 0.0)
        self._prev_unit = (0.0, 0.0, 0.0, 0.0)
        self._prev_nominal = 0.0
        self._prev_safe = 0.0

    # -- adding moves ---------------------------------------------------------------

    def move(self, dx: float, dy: float, dz: float, de: float, feed: float) -> None:
        lim = self.limits
        xyz2 = dx * dx + dy * dy + dz * dz
        if xyz2 > 1e-18:
            distance = math.sqrt(xyz2)
            if de == 0.0:
                kind = KIND_TRAVEL
                accel = lim.accel_travel
                if feed < lim.min_travel_feedrate:
                    feed = lim.min_travel_feedrate
            else:
                kind = KIND_EXTRUDE if de > 0.0 else KIND_RETRACT
                accel = lim.accel_print
                if feed < lim.min_feedrate:
                    feed = lim.min_feedrate
        elif de != 0.0:
            distance = abs(de)
            kind = KIND_RETRACT
            accel = lim.accel_retract
            if feed < lim.min_feedrate:
                feed = lim.min_feedrate
        else:
            return
        if feed <= 0.0:
            feed = 1.0  # a zero feed rate would never finish; Marlin clamps it too
        inv = 1.0 / distance
        ux = dx * inv
        uy = dy * inv
        uz = dz * inv
        ue = de * inv
        ax = ux if ux >= 0.0 else -ux
        ay = uy if uy >= 0.0 else -uy
        az = uz if uz >= 0.0 else -uz
        ae = ue if ue >= 0.0 else -ue
        # Nominal speed: no axis faster than its maximum feed rate (unrolled: hot path).
        mf = lim.max_feedrate
        nominal = feed
        if nominal * ax > mf[0]:
            nominal = mf[0] / ax
        if nominal * ay > mf[1]:
            nominal = mf[1] / ay
        if nominal * az > mf[2]:
            nominal = mf[2] / az
        if nominal * ae > mf[3]:
            nominal = mf[3] / ae
        # Acceleration: no axis beyond its maximum acceleration.
        accel = _within(accel, lim.max_accel, ax, ay, az, ae)
        if accel <= 0.0:
            accel = 1.0
        vx = nominal * ux
        vy = nominal * uy
        vz = nominal * uz
        ve = nominal * ue

        jd = lim.junction_deviation_mm
        if jd is None:
            vmax, safe = self._jerk_junction(nominal, ax, ay, az, ae, vx, vy, vz, ve)
            stop = safe
        else:
            safe = nominal
            vmax = self._deviation_junction(distance, accel, nominal, ux, uy, uz, ue, de, jd)
            stop = lim.minimum_planner_speed
        self._has_prev = True
        self._prev_speed = (vx, vy, vz, ve)
        self._prev_nominal = nominal
        self._prev_safe = safe

        nominal2 = nominal * nominal
        mps = lim.minimum_planner_speed
        # A block long enough to brake from its nominal speed to (almost) nothing always
        # reaches its maximum entry speed: the passes can skip it (Marlin's nominal_length).
        nominal_length = 1.0 if nominal2 <= mps * mps + 2.0 * accel * distance else 0.0
        self._pending.append(
            [distance, accel, nominal2, vmax * vmax, nominal_length, kind, stop * stop, 0.0]
        )
        self.blocks += 1
        self._since_plan += 1
        if self._since_plan >= _PLAN_EVERY:
            self._since_plan = 0
            self._plan(final=False)

    def _jerk_junction(
        self,
        nominal: float,
        ax: float,
        ay: float,
        az: float,
        ae: float,
        vx: float,
        vy: float,
        vz: float,
        ve: float,
    ) -> tuple[float, float]:
        """Marlin's classic jerk: (the maximum junction speed, the block's safe speed).

        Safe speed: the speed from which the block can start or stop at once, no axis
        changing speed by more than its jerk. Marlin's iterative form reduces to this
        minimum. Unrolled: this is the hottest code of the analysis."""
        jx, jy, jz, je = self.limits.jerk
        safe = nominal
        if ax * safe > jx:
            safe = jx / ax
        if ay * safe > jy:
            safe = jy / ay
        if az * safe > jz:
            safe = jz / az
        if ae * safe > je:
            safe = je / ae
        prev_nominal = self._prev_nominal
        if not self._has_prev or prev_nominal <= 1e-4:
            return safe, safe
        # The junction speed shared by both blocks: the lower nominal speed, scaled down
        # until no axis' speed change exceeds its jerk.
        if nominal < prev_nominal:
            vmax = nominal
            smaller = nominal / prev_nominal
        else:
            vmax = prev_nominal
            smaller = 1.0
        px, py, pz, pe = self._prev_speed
        factor = 1.0
        a, b = px * smaller, vx
        if a != b:
            factor = _jerk_factor(a, b, factor, jx)
        a, b = py * smaller, vy
        if a != b:
            factor = _jerk_factor(a, b, factor, jy)
        a, b = pz * smaller, vz
        if a != b:
            factor = _jerk_factor(a, b, factor, jz)
        a, b = pe * smaller, ve
        if a != b:
            factor = _jerk_factor(a, b, factor, je)
        vmax *= factor
        # When both blocks could stop from their safe speeds anyway, use them.
        threshold = vmax * 0.99
        if self._prev_safe > threshold and safe > threshold:
            vmax = safe
        return vmax, safe

    def _deviation_junction(
        self,
        distance: float,
        accel: float,
        nominal: float,
        ux: float,
        uy: float,
        uz: float,
        ue: float,
        de: float,
        deviation: float,
    ) -> float:
        """Marlin's junction deviation: the maximum junction speed."""
        if de != 0.0 and (ux or uy or uz):
            # Marlin normalises the junction vector with E when the move extrudes.
            n = 1.0 / math.sqrt(ux * ux + uy * uy + uz * uz + ue * ue)
            unit = (ux * n, uy * n, uz * n, ue * n)
        else:
            unit = (ux, uy, uz, ue)
        prev_unit = self._prev_unit
        self._prev_unit = unit
        if not self._has_prev or self._prev_nominal <= 1e-4:
            return 0.0
        cos_theta = -(
            prev_unit[0] * unit[0]
            + prev_unit[1] * unit[1]
            + prev_unit[2] * unit[2]
            + prev_unit[3] * unit[3]
        )
        mps = self.limits.minimum_planner_speed
        if cos_theta > 0.999999:
            v2 = mps * mps  # a full reversal
        else:
            cos_theta = max(cos_theta, -0.999999)
            jx = unit[0] - prev_unit[0]
            jy = unit[1] - prev_unit[1]
            jz = unit[2] - prev_unit[2]
            je = unit[3] - prev_unit[3]
            norm = math.sqrt(jx * jx + jy * jy + jz * jz + je * je)
            junction_accel = accel
            if norm > 0.0:
                ma = self.limits.max_accel
                for j, m in ((jx, ma[0]), (jy, ma[1]), (jz, ma[2]), (je, ma[3])):
                    aj = abs(j) / norm
                    if aj > 0.0 and m > 0.0 and junction_accel * aj > m:
                        junction_accel = m / aj
            sin_half = math.sqrt(0.5 * (1.0 - cos_theta))
            v2 = junction_accel * deviation * sin_half / (1.0 - sin_half)
            if distance < 1.0 and cos_theta < -0.7071067812:
                # Short segments of a curve: the speed of the arc they approximate.
                theta = math.acos(-cos_theta)
                if theta > 0.0:
                    v2 = min(v2, distance * junction_accel / theta)
        v2 = min(v2, nominal * nominal, self._prev_nominal * self._prev_nominal)
        return math.sqrt(v2)

    # -- stops and time -----------------------------------------------------------

    def sync(self) -> None:
        """The machine stops here (M400, G4, M109, a tool change...): plan everything."""
        self._plan(final=True)
        self._has_prev = False
        self._fixed_entry2 = None

    def dwell(self, seconds: float) -> None:
        self.sync()
        if seconds > 0.0:
            self.time += seconds

    def finish(self) -> float:
        self.sync()
        return self.time

    def _passes(self, end_entry2: float) -> list[float]:
        """Backward then forward pass; entry² of each block in ``b[7]``; returns the
        backward limits."""
        blocks = self._pending
        n = len(blocks)
        back = [0.0] * n
        next_entry2 = end_entry2
        for i in range(n - 1, -1, -1):
            b = blocks[i]
            if b[4]:
                entry2 = b[3]
            else:
                entry2 = next_entry2 + 2.0 * b[1] * b[0]
                if entry2 > b[3]:
                    entry2 = b[3]
            back[i] = entry2
            next_entry2 = entry2
        if self._fixed_entry2 is not None:
            back[0] = self._fixed_entry2
        prev = blocks[0]
        prev[7] = back[0]
        for i in range(1, n):
            b = blocks[i]
            entry2 = back[i]
            if not prev[4]:
                reach2 = prev[7] + 2.0 * prev[1] * prev[0]
                if reach2 < entry2:
                    entry2 = reach2
            b[7] = entry2
            prev = b
        return back

    def _plan(self, *, final: bool) -> None:
        """Backward and forward passes over the pending blocks; commit the stable ones.

        Each entry speed is the lowest of three limits: the block's maximum entry speed,
        the backward limit (slow down in time for what follows, ending with a stop at the
        end of the known blocks) and the forward limit (what the previous block can
        accelerate to). More blocks can only raise the backward limit. So an entry speed
        is final when it is the maximum entry speed, or when it is below the backward limit
        and the previous entry is final: every block before the first entry that is not
        final is committed.
        """
        blocks = self._pending
        n = len(blocks)
        if n == 0:
            return
        back = self._passes(blocks[-1][6])
        if final:
            commit = n
        else:
            stable = 0
            for i in range(n - 1, 0, -1):
                if blocks[i][7] == blocks[i][3]:
                    stable = i
                    break
            i = stable + 1
            while i < n and (blocks[i][7] < back[i] or blocks[i][7] == blocks[i][3]):
                i += 1
            commit = i - 1  # the last stable block's own exit is not known yet
            if n >= _MAX_PENDING and commit < n // 2:
                # Speeds that ramp over thousands of blocks. Commit half of them anyway,
                # planned as if the unknown moves let the head keep its speed: the half
                # committed is thousands of blocks away from that guess.
                self._passes(blocks[-1][3])
                commit = n // 2
            elif commit <= 0:
                return
        time = self.time
        by_kind = self.time_by_kind
        sqrt = math.sqrt
        for i in range(commit):
            b = blocks[i]
            exit2 = blocks[i + 1][7] if i + 1 < n else b[6]
            t = block_time(b[0], b[1], sqrt(b[7]), sqrt(b[2]), sqrt(exit2))
            time += t
            by_kind[int(b[5])] += t
        self.time = time
        if commit >= n:
            self._pending = []
            self._fixed_entry2 = None
        else:
            self._pending = blocks[commit:]
            self._fixed_entry2 = self._pending[0][7]
