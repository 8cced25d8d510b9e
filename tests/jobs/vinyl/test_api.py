"""Vinyl jobs through the API: every corpus SVG is taken or refused with a clear 4xx,
bad files are refused clearly, and an SVG submitted to a machine on the emulated
cutter comes out of the line as the HP-GL conversion made for that machine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.emulators.hpgl_cutter import CutterSettings, HpglCutterEmulator
from fabqueue.services.analysis import CHOICES_KEY
from fabqueue.settings import Settings
from jobs.vinyl import hpgl
from tests.conftest import Api
from tests.jobs.vinyl.test_svg_robustness import BILLION_LAUGHS
from tests.support.api import submit
from tests.support.factories import tiny_gcode, write_profiles
from tests.support.vinyl import SVG_DIR, svg
from tests.support.waiting import wait_for
from tests.support.web import STICKER, intake_profiles

SIM_CUTTER = """
    name = "Cutter"
    kind = "vinyl_cutter"
    [driver]
    type = "sim"
    speed = 3600
    [cutter]
    roll_width_mm = 610
"""

SERIAL_CUTTER = """
    name = "Serial cutter"
    kind = "vinyl_cutter"
    [driver]
    type = "hpgl_serial"
    port = "{port}"
    baud = 2000000
    pacing = "esc_b"
    [cutter]
    roll_width_mm = 300
    baud = 2000000
    [cutter.hpgl]
    coordinates = "relative"
    end_move = "past_job"
"""


def cutter_settings(settings: Settings, tmp: Path, body: str, dispatch: bool) -> Settings:
    root = write_profiles(tmp / "vinyl-profiles", {"cutter": body})
    return settings.model_copy(update={"profiles_dir": root, "start_dispatcher": dispatch})


@pytest.fixture
def cutter_api(make_api: Any, settings: Settings, tmp_path: Path) -> Api:
    api: Api = make_api(cutter_settings(settings, tmp_path, SIM_CUTTER, dispatch=False))
    return api


CORPUS_SVGS = sorted(SVG_DIR.rglob("*.svg"))


@pytest.mark.slow
def test_every_corpus_svg_is_taken_or_refused_clearly(cutter_api: Api) -> None:
    assert len(CORPUS_SVGS) > 350
    outcomes: dict[int, int] = {}
    for path in CORPUS_SVGS:
        started = time.monotonic()
        r = submit(cutter_api, path, machine="cutter")
        took = time.monotonic() - started
        outcomes[r.status_code] = outcomes.get(r.status_code, 0) + 1
        assert r.status_code in (201, 422), f"{path.name}: {r.status_code} {r.text[:300]}"
        assert took < 10, f"{path.name} took {took:.1f} s"
        if r.status_code == 422:
            detail = r.json()["detail"]
            assert isinstance(detail, str) and len(detail) > 20, f"{path.name}: {detail!r}"
        else:
            analysis = r.json()["analysis"]
            assert analysis["analyzer"] == "vinyl-svg"
            assert analysis["duration_s"] > 0
    # Text files are refused; most are drawings and are taken.
    assert outcomes[201] > 300 and outcomes[422] > 40


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("<svg xmlns='http://www.w3.org/2000/svg'><rect", "not well-formed XML"),
        (BILLION_LAUGHS, "billion laughs"),
        ("<svg xmlns='http://www.w3.org/2000/svg'><text>Soldes</text></svg>", "Object to Path"),
        (
            "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10'>"
            "<path d='M 0 0 L 1e9 1e9'/></svg>",
            "nothing over 100 m",
        ),
        (
            "<svg xmlns='http://www.w3.org/2000/svg' width='2000mm' height='2000mm' "
            "viewBox='0 0 2000 2000'><rect width='1000' height='1000'/></svg>",
            "roll",
        ),
    ],
)
def test_bad_svgs_get_a_clear_422(
    cutter_api: Api, tmp_path: Path, content: str, words: str
) -> None:
    path = tmp_path / "bad.svg"
    path.write_text(content)
    r = submit(cutter_api, path, machine="cutter")
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]


@pytest.mark.slow
def test_a_50_mb_svg_gets_a_clear_422(cutter_api: Api, tmp_path: Path) -> None:
    path = tmp_path / "big.svg"
    line = b'<rect x="1" y="1" width="1" height="1"/>\n'
    with path.open("wb") as fh:
        fh.write(b'<svg xmlns="http://www.w3.org/2000/svg">')
        fh.write(line * (50 * 1024 * 1024 // len(line) + 1))
        fh.write(b"</svg>")
    r = submit(cutter_api, path, machine="cutter")
    assert r.status_code == 422, r.text[:300]
    assert "cutting files are limited to" in r.json()["detail"]


def test_the_analysis_is_stored_with_the_job(cutter_api: Api) -> None:
    r = submit(
        cutter_api, SVG_DIR / "inkscape-silhouette" / "fablab_logo_stencil.svg", machine="cutter"
    )
    assert r.status_code == 201, r.text
    analysis = r.json()["analysis"]
    assert set(analysis["material"]) == {"vinyl_area_mm2", "vinyl_length_mm", "cut_length_mm"}
    assert set(analysis["counts"]) == {"paths", "pieces", "counters"}
    assert analysis["details"]["travel_mm"] <= analysis["details"]["travel_document_order_mm"]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[HpglCutterEmulator]:
    emu = HpglCutterEmulator(CutterSettings(baud=2_000_000, flow="none", time_scale=200))
    emu.start()
    yield emu
    emu.stop()


def job(api: Api, job_id: int) -> dict[str, Any]:
    data: dict[str, Any] = api.client.get(f"/api/v1/jobs/{job_id}", headers=api.headers()).json()
    return data


@pytest.mark.slow
def test_svg_to_the_serial_cutter_end_to_end(
    make_api: Any, settings: Settings, tmp_path: Path, emulator: HpglCutterEmulator
) -> None:
    body = SERIAL_CUTTER.format(port=emulator.slave_path)
    api: Api = make_api(cutter_settings(settings, tmp_path, body, dispatch=True))
    design = svg(
        tmp_path,
        '<rect x="10" y="10" width="60" height="30" rx="5"/><circle cx="40" cy="25" r="8"/>',
    )
    r = submit(api, design, machine="cutter", copies="3")
    assert r.status_code == 201, r.text
    j = r.json()
    done = wait_for(lambda: (x := job(api, j["id"]))["state"] == "awaiting_operator" and x, 60)
    assert done["progress"] == pytest.approx(1.0)
    assert emulator.wait_idle(30)
    artifacts = list((settings.data_dir / "artifacts" / str(j["id"])).rglob("*.hpgl"))
    assert len(artifacts) == 1
    sent = artifacts[0].read_bytes()
    assert bytes(emulator.accepted) == sent
    assert emulator.stats.overflow == 0
    # Three copies (each a rounded rectangle with its hole), and the alignment cut.
    assert len(hpgl.read(sent).strokes) == 3 * 2 + 1
    assert b"PR" in sent  # the machine's dialect: relative coordinates


def test_a_submitted_svg_is_accepted_for_a_serial_cutter(
    make_api: Any, settings: Settings, tmp_path: Path
) -> None:
    """hpgl_serial takes HP-GL only; SVG is accepted because it converts to HP-GL."""
    body = SERIAL_CUTTER.format(port=tmp_path / "no-such-port")
    api: Api = make_api(cutter_settings(settings, tmp_path, body, dispatch=False))
    machine = api.client.get("/api/v1/machines/cutter", headers=api.headers()).json()
    assert {"svg", "hpgl", "plt"} <= set(machine["spec"]["file_types"])
    r = submit(api, svg(tmp_path, '<rect width="10" height="10"/>'), machine="cutter")
    assert r.status_code == 201, r.text


def test_flex_is_cut_mirrored_whatever_the_machine_says(
    make_api: Any, settings: Settings, tmp_path: Path
) -> None:
    """A material that is cut from its back (heat-transfer flex) mirrors the cut."""
    materials = {
        "vinyle-noir": 'name = "Vinyle"\nkind = "vinyl_cutter"\ntype = "vinyle"\n'
        'unit = "m2"\nunit_price = "12"\n',
        "flex-blanc": 'name = "Flex"\nkind = "vinyl_cutter"\ntype = "flex"\nunit = "m2"\n'
        'unit_price = "18"\ncut_mirrored = true\n',
    }
    body = SIM_CUTTER.replace(
        'kind = "vinyl_cutter"',
        'kind = "vinyl_cutter"\ntrack_material = false\nauto_advance = true',
    )
    root = write_profiles(tmp_path / "flex-profiles", {"cutter": body}, materials)
    api: Api = make_api(settings.model_copy(update={"profiles_dir": root}))
    # An "L": not symmetric, so a mirrored cut cannot pass for the plain one.
    design = svg(tmp_path, '<path d="M10 10 H20 V40 H40 V50 H10 Z"/>')
    cuts = {}
    for material in ("vinyle-noir", "flex-blanc"):
        j = submit(api, design, machine="cutter", material=material).json()
        wait_for(lambda j=j: job(api, j["id"])["state"] == "succeeded", 30)
        (art,) = (settings.data_dir / "artifacts" / str(j["id"])).rglob("*.hpgl")
        strokes = hpgl.read(art.read_bytes()).strokes
        cuts[material] = max(strokes, key=len)  # the L itself, not the alignment cut
    plain, flex = cuts["vinyle-noir"], cuts["flex-blanc"]

    def long_leg_side(points) -> str:
        """Which side of the L (in machine x) carries its 40 mm leg."""
        xs, ys = points[:, 0], points[:, 1]
        edge = 0.1 * (xs.max() - xs.min())
        near_lo, near_hi = ys[xs < xs.min() + edge], ys[xs > xs.max() - edge]
        return "low" if np.ptp(near_lo) > np.ptp(near_hi) else "high"

    assert np.ptp(plain[:, 0]) == pytest.approx(np.ptp(flex[:, 0]), rel=0.02)
    assert long_leg_side(plain) != long_leg_side(flex)


def test_the_api_takes_a_jobs_mirror_and_weeding_border(
    make_api: Any, settings: Settings, tmp_path: Path
) -> None:
    """As the counter's page does: the job's own choices go over the material's mirror
    and the machine's border, and only a cutter job takes them."""
    root = intake_profiles(tmp_path / "choices")
    api: Api = make_api(settings.model_copy(update={"profiles_dir": root}))
    chosen = submit(
        api, STICKER, machine="plotter", material="flex-blanc", mirror="false",
        weeding_border="false", hold="true",
    )  # fmt: skip
    assert chosen.status_code == 201, chosen.text
    details = chosen.json()["analysis"]["details"]
    assert details[CHOICES_KEY] == {"mirror": False, "weeding_border": False}
    left = submit(api, STICKER, machine="plotter", material="flex-blanc", hold="true")
    assert CHOICES_KEY not in left.json()["analysis"]["details"]
    # The border is cut, so the weeding figures differ from the job without it.
    assert details != left.json()["analysis"]["details"] | {CHOICES_KEY: details[CHOICES_KEY]}
    printed = submit(api, tiny_gcode(tmp_path), kind="fdm_printer", mirror="true")
    assert printed.status_code == 422, printed.text
    assert "vinyl cutter" in printed.json()["detail"]
    assert api.client.get("/api/v1/jobs", headers=api.headers()).json()["count"] == 2
