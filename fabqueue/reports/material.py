"""Material used and wasted, per quantity (filament g, vinyl m², thread m) and per
material, with the top causes of spoilt runs. Pure: rows in, figures out.

Used = every run's quantity from its analysis: succeeded runs in full, failed runs
× their progress when known (in full otherwise), bad runs in full. Wasted = failed and
bad runs, plus, on succeeded runs, the purge line when the analysis measured it and the
weeding offcut (vinyl used − design area) when it knows the design's area.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from fabqueue.reports.rows import JobRow, Quantities, RedoRow

QUANTITIES = {"filament_g": "g", "vinyl_m2": "m²", "thread_m": "m"}
TOP_CAUSES = 5


class QuantityUse(BaseModel):
    quantity: str
    unit: str
    used: float
    good: float
    failed: float
    redone: float
    purge: float
    offcut: float
    wasted: float
    waste_share: float | None
    purge_measured_runs: int
    """Succeeded runs whose analysis measured the purge line (the others count 0)."""
    offcut_measured_runs: int


class MaterialUse(BaseModel):
    material: str
    quantity: str
    used: float
    wasted: float
    waste_share: float | None


class Cause(BaseModel):
    machine: str
    material: str
    failed: int
    redone: int
    total: int


class MaterialReport(BaseModel):
    quantities: list[QuantityUse]
    materials: list[MaterialUse]
    causes: list[Cause]


@dataclass(frozen=True)
class Run:
    result: str
    """``good``, ``failed`` or ``redone``."""
    machine: str
    material: str
    q: Quantities
    fraction: float


def runs(jobs: list[JobRow], redos: list[RedoRow]) -> Iterator[Run]:
    for j in jobs:
        if j.state == "succeeded":
            yield Run("good", j.machine or "?", j.material or "?", j.q, 1.0)
        elif j.state == "failed":
            frac = 1.0 if j.progress is None else min(max(j.progress, 0.0), 1.0)
            yield Run("failed", j.machine or "?", j.material or "?", j.q, frac)
    for r in redos:
        yield Run("redone", r.machine or "?", r.material or "?", r.q, 1.0)


def amounts(q: Quantities) -> dict[str, float]:
    return {"filament_g": q.filament_g, "vinyl_m2": q.vinyl_mm2 / 1e6, "thread_m": q.thread_m}


def _extras(run: Run) -> dict[str, tuple[float | None, float | None]]:
    """(purge, offcut) per quantity for a succeeded run; None = not measured."""
    offcut = None
    if run.q.design_mm2 is not None and run.q.vinyl_mm2 > 0:
        offcut = max(run.q.vinyl_mm2 - run.q.design_mm2, 0.0) / 1e6
    return {
        "filament_g": (run.q.purge_g if run.q.filament_g > 0 else None, None),
        "vinyl_m2": (None, offcut),
        "thread_m": (None, None),
    }


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def report(jobs: list[JobRow], redos: list[RedoRow]) -> MaterialReport:
    sums: dict[str, dict[str, float]] = {k: defaultdict(float) for k in QUANTITIES}
    per_material: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    causes: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for run in runs(jobs, redos):
        extras = _extras(run) if run.result == "good" else {}
        for key, amount in amounts(run.q).items():
            if amount <= 0:
                continue
            used = amount * run.fraction
            s, pm = sums[key], per_material[(run.material, key)]
            s["used"] += used
            s[run.result] += used
            pm[0] += used
            if run.result != "good":
                pm[1] += used
            purge, offcut = extras.get(key, (None, None))
            for name, extra in (("purge", purge), ("offcut", offcut)):
                if extra is not None:
                    s[name] += extra
                    s[f"{name}_runs"] += 1
                    pm[1] += extra
        if run.result != "good":
            causes[(run.machine, run.material)][0 if run.result == "failed" else 1] += 1
    return MaterialReport(
        quantities=[_quantity(k, unit, sums[k]) for k, unit in QUANTITIES.items()],
        materials=[
            MaterialUse(
                material=m,
                quantity=k,
                used=round(u, 3),
                wasted=round(w, 3),
                waste_share=_share(w, u),
            )
            for (m, k), (u, w) in sorted(per_material.items())
        ],
        causes=_top(causes),
    )


def _quantity(key: str, unit: str, s: dict[str, float]) -> QuantityUse:
    wasted = s["failed"] + s["redone"] + s["purge"] + s["offcut"]
    return QuantityUse(
        quantity=key,
        unit=unit,
        used=round(s["used"], 3),
        good=round(s["good"], 3),
        failed=round(s["failed"], 3),
        redone=round(s["redone"], 3),
        purge=round(s["purge"], 3),
        offcut=round(s["offcut"], 3),
        wasted=round(wasted, 3),
        waste_share=_share(wasted, s["used"]),
        purge_measured_runs=int(s["purge_runs"]),
        offcut_measured_runs=int(s["offcut_runs"]),
    )


def _top(causes: dict[tuple[str, str], list[int]]) -> list[Cause]:
    ranked = sorted(causes.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
    return [
        Cause(machine=m, material=mat, failed=f, redone=r, total=f + r)
        for (m, mat), (f, r) in ranked[:TOP_CAUSES]
    ]
