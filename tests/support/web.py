"""Helpers for the pages' tests: people who can sign in, a counter's profiles, forms."""

from __future__ import annotations

import html as htmllib
import re
import textwrap
from pathlib import Path

from fastapi.testclient import TestClient

from fabqueue.db import SessionFactory, session_scope
from fabqueue.services import accounts
from tests.support.factories import CORPUS, MATERIALS, make_user, write_profiles

PASSWORD = "comptoir-2026-tilleuls"
PIN = "4321"
STICKER = CORPUS / "svg" / "inkscape-silhouette" / "gecko_silhouette.svg"

PRICES = """
schema_version = 1
rounding_step = "0.01"
rounding_mode = "up"

[labour]
hourly_rate = "30.00"
design_hourly_rate = "35.00"

[fdm_printer]
setup_fee = "2.00"
minimum = "0.00"

[vinyl_cutter]
# No minimum: a bigger sticker must cost more, visibly.
setup_fee = "1.00"
time_increment_min = 1
minimum = "0.00"
default_material = "vinyle-noir"
weeding_s_per_piece = "20"
"""


def sim_cutter(speed: float = 3.0) -> str:
    """A simulated vinyl cutter: an 11-second cut takes about ``11 / speed`` seconds."""
    return f"""
        name = "Plotter"
        kind = "vinyl_cutter"
        track_material = false
        hourly_rate = "6.00"
        [driver]
        type = "sim"
        speed = {speed}
        tick_s = 0.2
        default_duration_s = 300
        [cutter]
        roll_width_mm = 610
        weeding_border = true
    """


def counter_profiles(root: Path, *, cutter_speed: float = 3.0, machines: int = 1) -> Path:
    """A café with one (or more) simulated cutters and a printer, prices without minimum."""
    cutters = {
        ("plotter" if i == 0 else f"plotter-{i + 1}"): sim_cutter(cutter_speed)
        for i in range(machines)
    }
    # Dear vinyl, cents rounding: a bigger sticker costs visibly more.
    materials = {**MATERIALS, "vinyle-noir": MATERIALS["vinyle-noir"].replace("12.00", "40.00")}
    write_profiles(root, cutters, materials)
    (root / "prices.toml").write_text(textwrap.dedent(PRICES))
    return root


FLEX = """
    name = "Flex thermocollant blanc"
    kind = "vinyl_cutter"
    type = "flex"
    unit = "m2"
    unit_price = "20.00"
    cut_mirrored = true
"""


def intake_profiles(root: Path) -> Path:
    """The counter's café with a simulated printer (PrusaSlicer's profiles beside it) and
    heat-transfer flex: models, logos and photos as people bring them."""
    from tests.support.factories import sim_printer
    from tests.support.intake import with_slicing

    counter_profiles(root)
    (root / "machines" / "printer.toml").write_text(textwrap.dedent(sim_printer()))
    (root / "materials" / "flex-blanc.toml").write_text(textwrap.dedent(FLEX))
    return with_slicing(root)


def add_person(
    sessions: SessionFactory, name: str, role: str, *, password: str = PASSWORD, pin: str = PIN
) -> int:
    uid, _token = make_user(sessions, name, role)
    with session_scope(sessions) as session:
        accounts.set_password(session=session, name=name, password=password)
        accounts.set_pin(session=session, name=name, pin=pin)
    return uid


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def idem_of(html: str) -> str:
    found = re.search(r'name="idem" value="([^"]+)"', html)
    assert found, "the page has no idempotency key"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    csrf = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"name": name, "password": password, "csrf": csrf, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def text_of(html: str) -> str:
    """The page's words, without tags and with single spaces (for assertions)."""
    no_tags = htmllib.unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"\s+", " ", no_tags.replace("\u202f", " ").replace("\xa0", " "))
