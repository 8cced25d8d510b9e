"""How long M109/M190 make the printer wait: heaters that warm and cool at fixed rates.

Heaters keep warming while the printer does other things (an M104 early in the start
G-code shortens the M109 that follows), so each heater remembers when it was last looked
at on the job's clock: motion, dwells, earlier waits and homing all count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Heater:
    temp: float
    target: float
    up: float
    """°C per second while heating."""
    down: float
    """°C per second while cooling."""

    def advance(self, dt: float) -> None:
        if dt <= 0.0 or self.temp == self.target:
            return
        if self.temp < self.target:
            self.temp = min(self.target, self.temp + self.up * dt)
        else:
            self.temp = max(self.target, self.temp - self.down * dt)

    def time_to(self, target: float, *, cooling: bool) -> float:
        if target > self.temp:
            return (target - self.temp) / self.up
        if cooling and target < self.temp:
            return (self.temp - target) / self.down
        return 0.0


class Heaters:
    """Nozzles (one per tool) and the bed, on one clock."""

    def __init__(
        self,
        *,
        ambient: float,
        nozzle_up: float,
        nozzle_down: float,
        bed_up: float,
        bed_down: float,
    ) -> None:
        self._ambient = ambient
        self._nozzle = (nozzle_up, nozzle_down)
        self._heaters: dict[str, _Heater] = {"bed": _Heater(ambient, ambient, bed_up, bed_down)}
        self._clock = 0.0
        self.waited_s = 0.0
        self.waits = 0

    def _get(self, name: str) -> _Heater:
        heater = self._heaters.get(name)
        if heater is None:
            up, down = self._nozzle
            heater = self._heaters[name] = _Heater(self._ambient, self._ambient, up, down)
        return heater

    def at(self, now: float) -> None:
        """The job's clock reached ``now`` seconds: heaters moved toward their targets."""
        dt = now - self._clock
        if dt > 0.0:
            for heater in self._heaters.values():
                heater.advance(dt)
            self._clock = now

    def set_target(self, name: str, target: float) -> None:
        self._get(name).target = max(target, self._ambient) if target > 0 else self._ambient

    def wait(self, name: str, target: float, *, cooling: bool) -> float:
        """Set ``name``'s target and wait until it is reached; returns the wait (s).

        ``cooling`` is Marlin's R form (wait for cooling too); the S form only waits
        while heating.
        """
        heater = self._get(name)
        self.set_target(name, target)
        seconds = heater.time_to(heater.target, cooling=cooling)
        if seconds > 0.0:
            self.at(self._clock + seconds)
            heater.temp = heater.target
            self.waited_s += seconds
            self.waits += 1
        return seconds

    @property
    def clock(self) -> float:
        return self._clock
