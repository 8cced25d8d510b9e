"""prices.toml and site.toml: the shipped ones load; mistakes are reported by field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fabqueue.profiles import ProfileErrors, VatRegime, load_profiles
from tests.support.factories import REPO, sim_printer, write_profiles

SITE = """
    name = "Café test"
    legal_form = "SCIC SARL"
    address = ["1 rue du Test", "69001 Lyon"]
    siret = "81234567600017"
    vat_number = "FR19812345676"
    vat_regime = "normal"
"""


def test_the_shipped_profiles_load() -> None:
    p = load_profiles(REPO / "profiles")
    assert p.site is not None
    assert p.site.vat_regime == VatRegime.association_exempt
    assert p.prices.fdm_printer.default_material in p.materials
    assert p.prices.groups["adherent"].adjustment_percent < 0


def _dir(tmp_path: Path, **files: str) -> Path:
    root = write_profiles(tmp_path / "p", {"printer": sim_printer()})
    for name, body in files.items():
        (root / f"{name}.toml").write_text(textwrap.dedent(body))
    return root


def test_no_site_and_no_prices_is_allowed(tmp_path: Path) -> None:
    p = load_profiles(_dir(tmp_path))
    assert p.site is None
    assert p.prices.rounding_step > 0


def test_a_valid_site(tmp_path: Path) -> None:
    p = load_profiles(_dir(tmp_path, site=SITE))
    assert p.site is not None
    assert p.site.mention == ""
    assert str(p.site.line_vat_rate()) == "20"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ('siret = "81234567600018"', "siret", "check digit"),
        ('siret = "1234"', "siret", "14 digits"),
        ('vat_number = "FR20812345676"', "vat_number", "check digits"),
        ('vat_regime = "exonere"', "vat_regime", "normal"),
        ('timezone = "Europe/Lutece"', "timezone", "unknown time zone"),
        ("quote_validity_days = 0", "quote_validity_days", "greater"),
        ('colour = "vert"', "colour", "Extra inputs"),
    ],
)
def test_site_mistakes_name_their_field(
    tmp_path: Path, change: str, field: str, words: str
) -> None:
    key = change.split(" = ")[0]
    body = "\n".join(x for x in SITE.splitlines() if not x.strip().startswith(key + " "))
    with pytest.raises(ProfileErrors) as exc:
        load_profiles(_dir(tmp_path, site=body + "\n" + change + "\n"))
    [err] = exc.value.errors
    assert err.file == "site.toml"
    assert field in err.field or field in err.message
    assert words in err.message


def test_normal_regime_needs_a_vat_number(tmp_path: Path) -> None:
    body = SITE.replace('vat_number = "FR19812345676"', "")
    with pytest.raises(ProfileErrors, match="vat_number"):
        load_profiles(_dir(tmp_path, site=body))


def test_price_mistakes_are_all_reported(tmp_path: Path) -> None:
    prices = """
        rounding_step = "0"
        [fdm_printer]
        default_material = "pla-rose"
        setup_fee = "-1"
        [groups.staff]
        label = "Bénévoles"
        adjustment_percent = "-100"
    """
    with pytest.raises(ProfileErrors) as exc:
        load_profiles(_dir(tmp_path, prices=prices))
    fields = {e.field for e in exc.value.errors}
    assert {"rounding_step", "fdm_printer.setup_fee", "groups.staff.adjustment_percent"} <= fields


def test_default_material_must_exist_and_match(tmp_path: Path) -> None:
    prices = (
        '[fdm_printer]\ndefault_material = "vinyle-noir"\n[embroidery]\ndefault_material = "x"\n'
    )
    with pytest.raises(ProfileErrors) as exc:
        load_profiles(_dir(tmp_path, prices=prices))
    messages = sorted(str(e) for e in exc.value.errors)
    assert any("vinyl_cutter material" in m for m in messages)
    assert any("embroidery.default_material" in m for m in messages)
