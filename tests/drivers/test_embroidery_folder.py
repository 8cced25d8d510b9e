"""The folder driver: names, atomic delivery, overwrite rules, free space, a missing
stick, the operator's reports, cancel and resume; and a real FAT volume (fusefat)."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from drivers.base import (
    DriverUnavailable,
    JobPhase,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
)
from drivers.embroidery_folder import EmbroideryFolderDriver, FolderConfig, sanitise_stem
from fabqueue.clock import RealClock
from jobs.params.embroidery import EmbroideryParams, Hoop
from jobs.registry import convert
from tests.support.embroidery import CAT
from tests.support.waiting import wait_status

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """Real machine files made by the converter: a JEF, an EXP with its INF."""
    root = tmp_path_factory.mktemp("artifacts")
    hoops = [Hoop(name="200", width_mm=200, height_mm=200)]
    out = {}
    for fmt, side in (("jef", []), ("exp", ["inf"])):
        params = EmbroideryParams(native_format=fmt, hoops=hoops, side_files=side)
        a = convert(CAT / "Cake_3.pes", "pes", params, root / fmt)
        assert a is not None
        out[fmt] = (a.path, a.details)
    return out


def ticket(
    artifacts, fmt: str = "jef", job_id: int = 7, name: str = "Gâteau d'anniversaire.pes", **kw
) -> JobTicket:
    path, details = artifacts[fmt]
    return JobTicket(
        job_id=job_id,
        ref=f"fq-{job_id}-1",
        file_path=path,
        file_name=name,
        file_type=fmt,
        params=details,
        **kw,
    )


class Rig:
    def __init__(self, stick: Path, **cfg: object) -> None:
        self.stick = stick
        self.seen: list[MachineStatus] = []
        config = FolderConfig(folder=stick, poll_s=0.05, **cfg)  # type: ignore[arg-type]
        self.driver = EmbroideryFolderDriver(
            "brodeuse", config, on_status=self.seen.append, clock=RealClock()
        )

    @property
    def state(self) -> MachineState:
        return self.driver.status.state


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    stick = tmp_path / "stick"
    stick.mkdir()
    r = Rig(stick, subfolder="EMB/Embf")
    await r.driver.connect()
    yield r
    await r.driver.close()


@pytest.mark.parametrize(
    ("name", "cfg", "stem"),
    [
        ("Gâteau d'anniversaire.pes", {}, "GATEAUDA"),
        ("logo boulangerie.dst", {"name_case": "lower"}, "logobou"[:8] + "l"),
        (
            "Logo_Café-2.pes",
            {"name_chars": "alnum_dash_underscore", "name_case": "keep", "name_max_length": 20},
            "Logo_Cafe-2",
        ),
        ("日本.pes", {}, ""),
    ],
)
async def test_names(name: str, cfg: dict, stem: str) -> None:
    assert sanitise_stem(Path(name).stem, FolderConfig(folder=Path("/x"), **cfg)) == stem


async def test_delivers_atomically_where_the_machine_looks(rig: Rig, artifacts) -> None:
    t = ticket(artifacts)
    await rig.driver.start(t)
    target = rig.stick / "EMB" / "Embf" / "GATEAUDA.JEF"
    assert target.read_bytes() == t.file_path.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["GATEAUDA.JEF"]  # no temp left
    job = rig.driver.status.job
    assert job is not None and job.phase == JobPhase.starting and job.ref == t.ref
    assert "GATEAUDA.JEF is on the stick (EMB/Embf)" in (job.message or "")
    delivered = job.checkpoint["delivered"]
    assert delivered["sha256"] == hashlib.sha256(t.file_path.read_bytes()).hexdigest()
    assert delivered["relative"] == "EMB/Embf/GATEAUDA.JEF"
    assert rig.state == MachineState.busy


async def test_conversion_notes_reach_the_job(rig: Rig, artifacts) -> None:
    t = ticket(artifacts)
    t = t.model_copy(update={"params": {**t.params, "notes": ["DST carries no colours"]}})
    await rig.driver.start(t)
    assert rig.driver.status.job is not None
    assert rig.driver.status.job.checkpoint["notes"] == ["DST carries no colours"]


async def test_side_files_go_first_with_the_same_name(rig: Rig, artifacts) -> None:
    await rig.driver.start(ticket(artifacts, "exp"))
    folder = rig.stick / "EMB" / "Embf"
    assert sorted(p.name for p in folder.iterdir()) == ["GATEAUDA.EXP", "GATEAUDA.INF"]


async def test_the_same_design_again_is_not_copied_twice(rig: Rig, artifacts) -> None:
    await rig.driver.start(ticket(artifacts))
    await rig.driver.release()
    await rig.driver.start(ticket(artifacts, job_id=8))
    assert len(list((rig.stick / "EMB" / "Embf").iterdir())) == 1


@pytest.mark.parametrize(
    ("policy", "expected"), [("unique", "GATEAUD1.JEF"), ("replace", "GATEAUDA.JEF")]
)
async def test_another_design_under_the_same_name(
    tmp_path: Path, artifacts, policy: str, expected: str
) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "gateauda.jef").write_bytes(b"someone else's design")  # FAT ignores case
    r = Rig(stick, overwrite=policy)
    await r.driver.connect()
    try:
        await r.driver.start(ticket(artifacts))
        assert r.driver.status.job is not None
        assert r.driver.status.job.checkpoint["delivered"]["name"] == expected
    finally:
        await r.driver.close()


async def test_refuse_policy(tmp_path: Path, artifacts) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "GATEAUDA.JEF").write_bytes(b"another design")
    r = Rig(stick, overwrite="refuse")
    await r.driver.connect()
    try:
        with pytest.raises(JobRejected, match="already on the stick"):
            await r.driver.start(ticket(artifacts))
        assert (stick / "GATEAUDA.JEF").read_bytes() == b"another design"
    finally:
        await r.driver.close()


async def test_not_enough_room(tmp_path: Path, artifacts) -> None:
    stick = tmp_path / "stick"
    stick.mkdir()
    free_mb = shutil.disk_usage(stick).free / 1024 / 1024
    r = Rig(stick, min_free_mb=free_mb + 10)
    await r.driver.connect()
    try:
        with pytest.raises(DriverUnavailable, match="not enough room on the stick"):
            await r.driver.start(ticket(artifacts))
        assert list(stick.iterdir()) == []
        assert r.state == MachineState.idle  # it can take a smaller job
    finally:
        await r.driver.close()


async def test_no_stick_means_offline_and_nothing_is_handed_over(tmp_path: Path, artifacts) -> None:
    stick = tmp_path / "stick"
    r = Rig(stick)
    await r.driver.connect()
    try:
        assert r.state == MachineState.offline
        assert "insert the machine's USB stick" in (r.driver.status.message or "")
        with pytest.raises(DriverUnavailable):
            await r.driver.start(ticket(artifacts))
        stick.mkdir()
        await wait_status(r.seen, lambda s: s.state == MachineState.idle, within=5)
    finally:
        await r.driver.close()


async def test_a_bare_mount_point_is_not_the_stick(tmp_path: Path) -> None:
    stick = tmp_path / "media" / "STICK"
    stick.mkdir(parents=True)
    r = Rig(stick, require_mount=True)
    assert (await r.driver.probe()).state == MachineState.offline
    assert "not mounted" in (r.driver.status.message or "")


async def test_the_stick_leaving_with_a_job_is_normal(rig: Rig, artifacts) -> None:
    await rig.driver.start(ticket(artifacts))
    moved = rig.stick.with_name("in-the-machine")
    rig.stick.rename(moved)
    await asyncio.sleep(0.2)
    assert rig.state == MachineState.busy  # not offline: the job stays with the machine
    assert "stick is out" in (rig.driver.status.message or "")
    moved.rename(rig.stick)
    await rig.driver.release()
    assert rig.state == MachineState.idle


async def test_operator_reports_show_the_next_colour_block(rig: Rig, artifacts) -> None:
    t = ticket(artifacts)
    await rig.driver.start(t)
    report = {"next_block": 3, "blocks": 19, "progress": 0.12, "eta_s": 1500.0, "colour": "rouge"}
    await rig.driver.operator_report("someone-else", report)
    assert rig.driver.status.job is not None and rig.driver.status.job.phase == JobPhase.starting
    await rig.driver.operator_report(t.ref, report)
    job = rig.driver.status.job
    assert job is not None and job.phase == JobPhase.running
    assert job.progress == pytest.approx(0.12) and job.eta_s == pytest.approx(1500.0)
    assert job.message == "on the machine; colour block 3 of 19 next (rouge)"
    assert job.checkpoint["operator"] == report and "delivered" in job.checkpoint


async def test_cancel_removes_the_file(rig: Rig, artifacts) -> None:
    await rig.driver.start(ticket(artifacts, "exp"))
    await rig.driver.cancel()
    assert list((rig.stick / "EMB" / "Embf").iterdir()) == []
    phases = [s.job.phase for s in rig.seen if s.job]
    assert phases[-1] == JobPhase.cancelled
    assert rig.state == MachineState.idle


async def test_resume_without_the_stick_carries_on(tmp_path: Path, rig: Rig, artifacts) -> None:
    await rig.driver.start(ticket(artifacts))
    report = {"next_block": 4, "blocks": 19, "progress": 0.3, "eta_s": 900.0, "started_at": "x"}
    await rig.driver.operator_report("fq-7-1", report)
    checkpoint = rig.driver.status.job.checkpoint  # type: ignore[union-attr]
    # fabqueue restarts meanwhile; the stick is in the machine; staff resume the job.
    other = Rig(tmp_path / "gone")
    await other.driver.connect()
    try:
        await other.driver.start(ticket(artifacts, resume_from={**checkpoint, "resume": True}))
        job = other.driver.status.job
        assert job is not None and job.phase == JobPhase.running
        assert job.checkpoint["operator"]["next_block"] == 4
        assert "colour block 4 of 19 next" in (job.message or "")
    finally:
        await other.driver.close()


async def test_a_busy_machine_takes_no_second_job(rig: Rig, artifacts) -> None:
    await rig.driver.start(ticket(artifacts))
    with pytest.raises(DriverUnavailable, match="still holds job"):
        await rig.driver.start(ticket(artifacts, job_id=9))


# --- a real FAT volume ----------------------------------------------------------------


@pytest.fixture
def fat_stick(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An 8 MB FAT image mounted with fusefat: a USB stick without the hardware."""
    for tool in ("mkfs.vfat", "fusefat", "fusermount"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is missing (Debian: dosfstools, fusefat, fuse; .ci/run installs them)"
            )
    image = tmp_path / "stick.img"
    mount = tmp_path / "media" / "STICK"
    mount.mkdir(parents=True)
    with image.open("wb") as fh:
        fh.truncate(8 * 1024 * 1024)
    subprocess.run(["mkfs.vfat", "-n", "BRODERIE", str(image)], check=True, capture_output=True)
    subprocess.run(
        ["fusefat", "-o", "rw+", str(image), str(mount)], check=True, capture_output=True
    )
    try:
        yield image, mount
    finally:
        subprocess.run(["fusermount", "-u", str(mount)], check=False, capture_output=True)


@pytest.mark.slow
async def test_on_a_real_fat_stick(fat_stick: tuple[Path, Path], artifacts) -> None:
    image, mount = fat_stick
    r = Rig(mount, subfolder="EMB/Embf", require_mount=True)
    await r.driver.connect()
    try:
        assert r.state == MachineState.idle
        t = ticket(artifacts, "exp")
        await r.driver.start(t)
        folder = mount / "EMB" / "Embf"
        assert sorted(p.name for p in folder.iterdir()) == ["GATEAUDA.EXP", "GATEAUDA.INF"]
        assert (folder / "GATEAUDA.EXP").read_bytes() == t.file_path.read_bytes()
        # The stick goes into the machine.
        await asyncio.to_thread(subprocess.run, ["fusermount", "-u", str(mount)], check=True)
        await wait_status(
            r.seen, lambda s: s.message is not None and "stick is out" in s.message, within=5
        )
        assert r.state == MachineState.busy
        await r.driver.release()
        assert r.state == MachineState.offline  # the next job waits for the stick
        await asyncio.to_thread(
            subprocess.run, ["fusefat", "-o", "rw+", str(image), str(mount)], check=True
        )
        for _ in range(100):
            if r.state == MachineState.idle:
                break
            await asyncio.sleep(0.05)
        assert r.state == MachineState.idle
        # The design is still on the stick, as the machine left it.
        assert (mount / "EMB" / "Embf" / "GATEAUDA.EXP").is_file()
    finally:
        await r.driver.close()


async def test_emergency_stop_says_there_is_nothing_to_stop(rig: Rig, artifacts) -> None:
    await rig.driver.start(ticket(artifacts))
    said = await rig.driver.emergency_stop()
    assert said.startswith("nothing to stop from here")
    assert rig.driver.status.job is None
