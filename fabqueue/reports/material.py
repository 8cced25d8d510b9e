"""Material used and wasted, per quantity (filament g, vinyl m², thread m) and per
material, with the top causes of spoilt runs. Pure: rows in, figures out.

Used = every run's quantity from its analysis: succeeded runs in full, failed runs
× their progress when known (in full otherwise), bad runs in full. Wasted = failed and
bad runs, plus, on succeeded runs, the purge line when the analysis measured it and the
weeding offcut (vinyl used − design area) when it knows the design's area.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel

from fabqueue.reports.groups import of_rows
from fabqueue.reports.rows import JobRow, RedoRow, RunGroup

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


QUANTITY_SUMS = {
    "filament_g": ("filament_g", "filament_runs"),
    "vinyl_m2": ("vinyl_m2", "vinyl_runs"),
    "thread_m": ("thread_m", "thread_runs"),
}
"""Per quantity: the group's amount used, and its runs that asked for some."""
EXTRAS = {
    "filament_g": ("purge", "purge_g", "purge_runs"),
    "vinyl_m2": ("offcut", "offcut_m2", "offcut_runs"),
}
"""Per quantity: what a succeeded run still wastes, when its analysis measured it."""
RESULT = {"succeeded": "good", "failed": "failed", "redone": "redone"}
"""A run's result as the material report names it (cancelled jobs used nothing)."""


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def report(jobs: list[JobRow], redos: list[RedoRow]) -> MaterialReport:
    return report_of(of_rows(jobs, redos))


def report_of(groups: list[RunGroup]) -> MaterialReport:
    sums: dict[str, dict[str, float]] = {k: defaultdict(float) for k in QUANTITIES}
    per_material: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    causes: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for g in groups:
        result = RESULT.get(g.result)
        if result is None:
            continue
        material = g.material or "?"
        for key, (amount, runs) in QUANTITY_SUMS.items():
            if not getattr(g, runs):
                continue
            used = getattr(g, amount)
            s, pm = sums[key], per_material[(material, key)]
            s["used"] += used
            s[result] += used
            pm[0] += used
            if result != "good":
                pm[1] += used
            elif key in EXTRAS:
                name, extra, measured = EXTRAS[key]
                if getattr(g, measured):
                    s[name] += getattr(g, extra)
                    s[f"{name}_runs"] += getattr(g, measured)
                    pm[1] += getattr(g, extra)
        if result != "good":
            causes[(g.machine or "?", material)][0 if result == "failed" else 1] += g.runs
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
