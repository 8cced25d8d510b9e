"""Fixtures of the quote, client and report API tests (shared with the invoice tests)."""

from tests.support.quote_fixtures import clock, qapi, regime

__all__ = ["clock", "qapi", "regime"]
