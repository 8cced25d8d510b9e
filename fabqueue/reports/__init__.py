"""Activity and impact reports: pure aggregations over narrow rows read from the database.

``rows`` is the only module that reads the database: the runs added up per machine,
kind, material, result and month (from the jobs' ``run_*`` columns, which ``figures``
defines), and bookings, quotes and trainings as rows; ``groups`` adds runs up the same
way from rows; ``activity``, ``material``, ``energy`` and ``accuracy`` turn them into
figures; ``charts`` draws them as SVG;
``tables`` flattens a report for ``exports`` (CSV, ODS, PDF); ``service`` ties it up for
the API, the CLI and (later) the staff pages.
"""
