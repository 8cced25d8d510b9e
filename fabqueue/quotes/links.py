"""The addresses a shopkeeper is given: the devis behind its secret link, and the public
request form. Absolute, because they leave the café (an e-mail, a QR code, a printout).

They are built on ``public_url`` in site.toml (the café's address as customers reach it,
e.g. behind Caddy); without it, on the address fabqueue itself serves on.
"""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path
from urllib.parse import quote

from fabqueue.profiles import SiteProfile
from fabqueue.settings import Settings

QUOTE_PATH = "/devis/"
REQUEST_PATH = "/demande-de-devis"
WILDCARDS = ("0.0.0.0", "::", "")


def _lan_address() -> str | None:
    # The same trick as ``fabqueue serve``'s banner (cli/address.py, which this layer may
    # not import): a UDP connect sends nothing, it only picks the outgoing interface.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            found: str = s.getsockname()[0]
        except OSError:
            return None
    return None if found.startswith("127.") else found


def serve_address(settings: Settings) -> str:
    """Where this node answers: a phone on the café's Wi-Fi reaches the LAN address."""
    host = settings.host
    if host in WILDCARDS:
        host = _lan_address() or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _site_public_url(settings: Settings) -> str | None:
    """``public_url`` read straight from site.toml, for callers holding only settings."""
    path = Path(settings.profiles_dir) / "site.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    value = data.get("public_url")
    return value.rstrip("/") if isinstance(value, str) and value.strip() else None


def public_base(settings: Settings, site: SiteProfile | None = None) -> str:
    """The café's public address, without a trailing slash."""
    configured = site.public_url if site is not None else _site_public_url(settings)
    return configured or serve_address(settings)


def absolute_link(settings: Settings, token: str, site: SiteProfile | None = None) -> str:
    """The devis page behind the quote's secret link (``…/devis/<token>``)."""
    return public_base(settings, site) + QUOTE_PATH + quote(token, safe="")


def request_link(settings: Settings, site: SiteProfile | None = None) -> str:
    """The public quote-request form."""
    return public_base(settings, site) + REQUEST_PATH
