"""A cutter job's own mirror and weeding border reach the HP-GL made at dispatch (they
go over the material's mirror and the machine's border)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.base import JobTicket
from fabqueue.dispatch.prepare import prepare_ticket
from fabqueue.profiles.loader import load_profiles
from fabqueue.services.analysis import CHOICES_KEY, job_choices
from fabqueue.storage import FileStore
from tests.support.web import STICKER, intake_profiles


class InThisProcess:
    """The worker pool's ``run``, in the test's process (the conversion is the same)."""

    def run(self, fn: Any, *args: Any, wait: bool = False) -> Any:
        return fn(*args)


def _hpgl(tmp_path: Path, material: str, choices: dict[str, bool] | None, n: int) -> str:
    profiles = load_profiles(intake_profiles(tmp_path / f"profiles-{n}"))
    store = FileStore(tmp_path / f"data-{n}")
    store.ensure()
    with STICKER.open("rb") as fh:
        stored = store.save(fh, limit=10_000_000)
    ticket = JobTicket(
        job_id=n,
        ref=f"fq-{n}-1",
        file_path=store.path_for(stored.sha256),
        file_name="gecko.svg",
        file_type="svg",
        material=material,
        params={CHOICES_KEY: choices} if choices else {},
    )
    made = prepare_ticket(
        ticket,
        machine=profiles.machines["plotter"],
        materials=profiles.materials,
        store=store,
        workers=InThisProcess(),  # type: ignore[arg-type]
    )
    assert made.file_type == "hpgl"
    return made.file_path.read_text()


def _first_down(hpgl: str) -> str:
    return next(c for c in hpgl.split(";") if c.startswith("PD"))


def test_the_jobs_choices_go_over_the_material_and_the_machine(tmp_path: Path) -> None:
    flex = _hpgl(tmp_path, "flex-blanc", None, 1)
    plain = _hpgl(tmp_path, "vinyle-noir", None, 2)
    not_mirrored = _hpgl(tmp_path, "flex-blanc", {"mirror": False}, 3)
    unbordered = _hpgl(tmp_path, "vinyle-noir", {"weeding_border": False}, 4)
    assert flex != plain, "flex is cut mirrored by default"
    assert not_mirrored == plain, "the job chose no mirror for its flex"
    # The machine's profile cuts a border around each copy; this job wanted none.
    assert unbordered.count("PD") < plain.count("PD")
    assert _first_down(unbordered) != _first_down(plain)


def test_choices_are_read_back_from_the_jobs_analysis() -> None:
    analysis = {"details": {CHOICES_KEY: {"mirror": 0, "weeding_border": 1}}}
    assert job_choices(analysis) == {"mirror": False, "weeding_border": True}
    assert job_choices({"details": {}}) == {} and job_choices(None) == {}
