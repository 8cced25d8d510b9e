"""Fixtures of the shopkeepers' pages: the quote API's café (three machines, prices, a
site, a hand-moved clock, inline workers) and a form to fill."""

from tests.support.quote_fixtures import clock, qapi, regime

__all__ = ["clock", "qapi", "regime"]
