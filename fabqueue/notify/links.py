"""Absolute links for e-mails, from site.toml's ``public_url`` (else this node's
``http://<host>:<port>``)."""

from __future__ import annotations

from fabqueue.profiles import SiteProfile
from fabqueue.settings import Settings


def base_url(settings: Settings, site: SiteProfile | None) -> str:
    if site is not None and site.public_url:
        return site.public_url.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


def absolute_link(settings: Settings, site: SiteProfile | None, path: str) -> str:
    """``path`` (``/jobs/12``) as a link a person can open from their mailbox."""
    return base_url(settings, site) + "/" + path.lstrip("/")
