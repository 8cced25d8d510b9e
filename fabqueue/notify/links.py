"""Absolute links for e-mails, on the café's public address (:mod:`fabqueue.links`)."""

from __future__ import annotations

from fabqueue.links import public_base
from fabqueue.profiles import SiteProfile
from fabqueue.settings import Settings


def base_url(settings: Settings, site: SiteProfile | None) -> str:
    return public_base(settings, site)


def absolute_link(settings: Settings, site: SiteProfile | None, path: str) -> str:
    """``path`` (``/jobs/12``) as a link a person can open from their mailbox."""
    return base_url(settings, site) + "/" + path.lstrip("/")
