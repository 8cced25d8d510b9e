"""The absolute links a shopkeeper is given: built on site.toml's ``public_url``, else on
the address fabqueue serves on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fabqueue.profiles import SiteProfile
from fabqueue.quotes.links import absolute_link, request_link, serve_address
from fabqueue.settings import Settings
from tests.support.quotes import SITES


def _settings(tmp_path: Path, site: str | None, **extra: object) -> Settings:
    root = tmp_path / "profiles"
    root.mkdir(exist_ok=True)
    if site is not None:
        (root / "site.toml").write_text(textwrap.dedent(site))
    return Settings(profiles_dir=root, **extra)  # type: ignore[arg-type]


def test_the_public_address_of_site_toml_is_used(tmp_path: Path) -> None:
    site = SITES["normal"] + 'public_url = "https://atelier.cafe-port.example/"\n'
    settings = _settings(tmp_path, site, host="127.0.0.1", port=8000)
    assert absolute_link(settings, "abc_DEF-1") == (
        "https://atelier.cafe-port.example/devis/abc_DEF-1"
    )
    assert request_link(settings) == "https://atelier.cafe-port.example/demande-de-devis"


def test_the_loaded_site_profile_wins_over_reading_the_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, None, port=9000)
    site = SiteProfile.model_validate(
        {
            "name": "Café",
            "legal_form": "Association loi 1901",
            "address": ["1 rue"],
            "siret": "81234567600017",
            "vat_regime": "association_exempt",
            "public_url": "http://cafe.example:8080/fab",
        }
    )
    assert absolute_link(settings, "t", site) == "http://cafe.example:8080/fab/devis/t"


def test_without_a_public_address_the_served_one_is_used(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SITES["normal"], host="127.0.0.1", port=8123)
    assert absolute_link(settings, "t") == "http://127.0.0.1:8123/devis/t"
    everywhere = _settings(tmp_path, None, host="0.0.0.0", port=8123)
    address = serve_address(everywhere)
    assert address.startswith("http://") and address.endswith(":8123")
    assert "0.0.0.0" not in address


@pytest.mark.parametrize("bad", ["atelier.example", "ftp://x.example", "https://x y.example"])
def test_a_public_address_must_be_a_web_address(bad: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        SiteProfile.model_validate(
            {
                "name": "Café",
                "legal_form": "Association loi 1901",
                "address": ["1 rue"],
                "siret": "81234567600017",
                "vat_regime": "association_exempt",
                "public_url": bad,
            }
        )
