"""Profiles, a settable clock and helpers for the quote and client API tests."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.base import Analysis, Bounds, MachineKind, Quantity
from tests.support.factories import CORPUS, MATERIALS, sim_printer, write_profiles

if TYPE_CHECKING:
    from tests.conftest import Api

BENCHY = CORPUS / "gcode" / "prusaslicer-benchy.gcode"
"""38 min 43 s (2323 s) and 12.77 g of filament, by PrusaSlicer's own figures."""

CUTTER = """
    name = "Test cutter"
    kind = "vinyl_cutter"
    hourly_rate = "6.00"
    [driver]
    type = "sim"
    speed = 3600
    tick_s = 0.05
    default_duration_s = 60
    [cutter]
    roll_width_mm = 610
"""

EMBROIDERY = """
    name = "Test embroidery"
    kind = "embroidery"
    hourly_rate = "4.00"
    [driver]
    type = "sim"
    speed = 3600
    tick_s = 0.05
    default_duration_s = 60
"""

QUOTE_MATERIALS = {
    **MATERIALS,
    "fil-polyester": """
        name = "Fil polyester"
        kind = "embroidery"
        type = "polyester 40"
        unit = "1000m"
        unit_price = "3.50"
    """,
}

PRICES = """
    rounding_step = "0.10"
    rounding_mode = "up"
    [labour]
    hourly_rate = "30.00"
    design_hourly_rate = "36.00"
    [fdm_printer]
    setup_fee = "2.00"
    time_increment_min = 15
    minimum = "3.00"
    material_waste_percent = "10"
    default_material = "pla-noir"
    [vinyl_cutter]
    setup_fee = "5.00"
    time_increment_min = 5
    minimum = "8.00"
    material_waste_percent = "15"
    default_material = "vinyle-noir"
    transfer_tape_per_m2 = "6.00"
    weeding_s_per_piece = "20"
    weeding_s_per_counter = "15"
    weeding_s_per_m = "30"
    [embroidery]
    setup_fee = "10.00"
    time_increment_min = 5
    minimum = "12.00"
    material_waste_percent = "10"
    default_material = "fil-polyester"
    stabilizer_per_hooping = "0.30"
    hooping_s = "90"
    [groups.commerce]
    label = "Commerces du quartier"
    adjustment_percent = "-10"
"""

SITES = {
    "normal": """
        name = "Café numérique du Port"
        legal_form = "SCIC SARL"
        address = ["3 quai du Port", "13002 Marseille"]
        siret = "81234567600017"
        vat_number = "FR19812345676"
        rcs = "RCS Marseille 812 345 676"
        vat_regime = "normal"
        email = "atelier@cafe-port.example"
        quote_lead_time = "10 jours ouvrés"
        payment_terms = "30 % à la commande, solde à la livraison"
    """,
    "franchise_293B": """
        name = "Atelier Fil & Pixel"
        legal_form = "Entreprise individuelle"
        address = ["8 rue des Canuts", "69004 Lyon"]
        siret = "81234567600017"
        vat_regime = "franchise_293B"
        quote_lead_time = "une semaine"
        payment_terms = "À réception de facture"
    """,
    "association_exempt": """
        name = "Café numérique des Tilleuls"
        legal_form = "Association loi 1901"
        address = ["12 rue des Tilleuls", "69003 Lyon"]
        siret = "81234567600017"
        vat_regime = "association_exempt"
        logo = "logo.svg"
        quote_lead_time = "5 jours ouvrés après l'accord"
        payment_terms = "Par virement ou chèque"
    """,
}

LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    '<rect width="40" height="40" fill="#2a6f4f"/></svg>'
)


def quote_profiles(root: Path, regime: str | None = "normal") -> Path:
    write_profiles(
        root,
        {
            "printer": sim_printer(top='hourly_rate = "1.50"'),
            "cutter": CUTTER,
            "brodeuse": EMBROIDERY,
        },
        QUOTE_MATERIALS,
    )
    (root / "prices.toml").write_text(textwrap.dedent(PRICES))
    if regime is not None:
        (root / "site.toml").write_text(textwrap.dedent(SITES[regime]))
        (root / "logo.svg").write_text(LOGO)
    return root


class SetClock:
    """A clock tests move by hand (no dispatcher sleeps on it in these tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.at.timestamp()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.01))

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def staff(api: Api) -> dict[str, str]:
    return api.headers("staff", "facilitator")


def admin(api: Api) -> dict[str, str]:
    """Client accounts and client prices are set up by an admin."""
    return api.headers("admin", "admin")


def make_client(
    api: Api, name: str = "Boulangerie Céleste", user: str = "celeste", **extra: Any
) -> tuple[int, dict[str, str]]:
    """An organisation with one client user; returns (org id, that user's headers)."""
    body = {
        "name": name,
        "address": "4 place du Marché\n13001 Marseille",
        "contact_name": "Mme Céleste Martin",
        **extra,
    }
    r = api.client.post("/api/v1/clients", headers=admin(api), json=body)
    assert r.status_code == 201, r.text
    org = r.json()["id"]
    r = api.client.post(f"/api/v1/clients/{org}/users", headers=admin(api), json={"name": user})
    assert r.status_code == 201, r.text
    return org, {"Authorization": f"Bearer {r.json()['token']}"}


def add_design(
    api: Api, quote_id: int, path: Path, headers: dict[str, str], quantity: int = 1, **data: str
) -> Any:
    with path.open("rb") as fh:
        return api.client.post(
            f"/api/v1/quotes/{quote_id}/designs",
            headers=headers,
            data={"quantity": str(quantity), **data},
            files={"file": (path.name, fh)},
        )


def draft_for(api: Api, org: int, title: str = "Pièces imprimées") -> dict[str, Any]:
    r = api.client.post(
        "/api/v1/quotes", headers=staff(api), json={"title": title, "organisation_id": org}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def free_line(
    api: Api,
    quote_id: int,
    description: str,
    quantity: str,
    price: str,
    vat: str | None = None,
    unit: str = "u",
) -> Any:
    body: dict[str, Any] = {
        "description": description,
        "quantity": quantity,
        "unit_price_ht": price,
        "unit": unit,
    }
    if vat is not None:
        body["vat_rate"] = vat
    return api.client.post(f"/api/v1/quotes/{quote_id}/lines", headers=staff(api), json=body)


def fixed_gcode_analysis(path: Path, params: Any = None) -> Analysis:
    """PrusaSlicer's own figures for the benchy. G-code analysis is another module's
    work (and may get better); these tests are about prices, so they pin its output."""
    return Analysis(
        kind=MachineKind.fdm_printer,
        file_type="gcode",
        analyzer="pinned-for-quote-tests",
        duration_s=2323,
        material={Quantity.FILAMENT_G: 12.77},
        bounds=Bounds(min_x=0, min_y=0, max_x=60, max_y=31, max_z=48),
    )
