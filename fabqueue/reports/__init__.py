"""Activity and impact reports: pure aggregations over narrow rows read from the database.

``rows`` is the only module that reads the database; ``activity``, ``material``,
``energy`` and ``accuracy`` turn rows into figures; ``charts`` draws them as SVG;
``tables`` flattens a report for ``exports`` (CSV, ODS, PDF); ``service`` ties it up for
the API, the CLI and (later) the staff pages.
"""
