"""Energy: an ESTIMATE, per machine and per month, from the machine profile's power
figures and each run's times. Never a measurement: no machine reports its consumption.

Per run: heat-up watts × heat-up time + running watts × the rest of the run's time.
The run's time is the one machine hours use (``groups.run_seconds``); bad runs take
their estimate. Machines whose profile gives no power figures are listed, not guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from fabqueue.reports.groups import of_rows
from fabqueue.reports.period import Period
from fabqueue.reports.rows import JobRow, RedoRow, RunGroup

LABEL = "Estimation (puissances des profils machines × temps des travaux), pas une mesure"


@dataclass(frozen=True)
class Power:
    heatup_w: float
    running_w: float


class MachineEnergy(BaseModel):
    machine: str
    runs: int
    kwh: float


class EnergyReport(BaseModel):
    label: str = LABEL
    kwh: float
    machines: list[MachineEnergy]
    months: dict[str, float]
    not_estimated: list[str]
    """Machines with runs but no power figures in their profile."""


def report(
    jobs: list[JobRow], redos: list[RedoRow], period: Period, powers: Mapping[str, Power]
) -> EnergyReport:
    return report_of(of_rows(jobs, redos, period), period, powers)


def report_of(groups: list[RunGroup], period: Period, powers: Mapping[str, Power]) -> EnergyReport:
    per_machine: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    per_month: dict[str, float] = {m.label: 0.0 for m in period.months()}
    missing: set[str] = set()
    for g in groups:
        if g.result == "cancelled":
            continue
        slug = g.machine or "?"
        power = powers.get(slug)
        if power is None:
            missing.add(slug)
            continue
        # Heat-up watts over each run's heat-up, running watts over the rest of it.
        wh = (power.heatup_w * g.heat_s + power.running_w * (g.run_s - g.heat_s)) / 3600
        per_machine[slug][0] += g.runs
        per_machine[slug][1] += wh
        month = g.month or "?"
        per_month[month] = per_month.get(month, 0.0) + wh
    return EnergyReport(
        kwh=round(sum(v[1] for v in per_machine.values()) / 1000, 3),
        machines=[
            MachineEnergy(machine=m, runs=int(v[0]), kwh=round(v[1] / 1000, 3))
            for m, v in sorted(per_machine.items())
        ],
        months={m: round(wh / 1000, 3) for m, wh in per_month.items()},
        not_estimated=sorted(missing),
    )
