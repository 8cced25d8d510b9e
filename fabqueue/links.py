"""The café's address as people reach it from outside this computer: e-mails, QR codes,
printouts. ``public_url`` in site.toml (e.g. behind Caddy); without it, the address
this node serves on (its LAN address when it listens on every interface)."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

from fabqueue.profiles import SiteProfile
from fabqueue.settings import Settings

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
