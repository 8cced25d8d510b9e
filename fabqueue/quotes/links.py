"""The addresses a shopkeeper is given: the devis behind its secret link, and the public
request form. Absolute, because they leave the café (an e-mail, a QR code, a printout);
built on :func:`fabqueue.links.public_base`.
"""

from __future__ import annotations

from urllib.parse import quote

from fabqueue.links import public_base, serve_address
from fabqueue.profiles import SiteProfile
from fabqueue.settings import Settings

__all__ = ["absolute_link", "public_base", "request_link", "serve_address"]

QUOTE_PATH = "/devis/"
REQUEST_PATH = "/demande-de-devis"


def absolute_link(settings: Settings, token: str, site: SiteProfile | None = None) -> str:
    """The devis page behind the quote's secret link (``…/devis/<token>``)."""
    return public_base(settings, site) + QUOTE_PATH + quote(token, safe="")


def request_link(settings: Settings, site: SiteProfile | None = None) -> str:
    """The public quote-request form."""
    return public_base(settings, site) + REQUEST_PATH
