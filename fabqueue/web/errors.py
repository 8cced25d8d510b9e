"""Why a page cannot be shown, and what the person sees instead."""

from __future__ import annotations

from fabqueue.services.errors import Invalid


class PageRedirect(Exception):
    """Go elsewhere first (sign in, unlock the tablet)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class SignInNeeded(PageRedirect):
    pass


class TabletLocked(PageRedirect):
    pass


class NotAllowed(Exception):
    """Signed in, but this page needs another role: the 403 page."""

    def __init__(self, needed: str) -> None:
        super().__init__(needed)
        self.needed = needed


class BadForm(Exception):
    """A form came without its CSRF token or with a stale one."""


class FormError(Invalid):
    """A value typed in a page's form that cannot be read; the message is already in the
    person's language. An :class:`Invalid` (422), so a form's action shows it as it shows
    the services' refusals."""
