"""Embroidery designs: sandboxed reading, figures, hoops, formats, writing, preview.

The entry points are in :mod:`jobs.embroidery.analysis` (the per-format ``analyzer``,
``previewer`` and ``converter``, and ``PRODUCES``). They are not re-exported here:
:mod:`jobs.params.embroidery` needs :mod:`jobs.embroidery.formats`, and importing the
analysis from this file would make that a cycle.
"""
