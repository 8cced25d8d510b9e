"""Fixtures of the invoice tests: the quote tests' API (three machines, prices, a site,
a hand-moved clock, no dispatcher)."""

from tests.support.quote_fixtures import clock, qapi, regime

__all__ = ["clock", "qapi", "regime"]
