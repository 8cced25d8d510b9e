"""What to make: pure understanding of job files (analysis, conversion, preview, estimation).

Nothing here imports ``fabqueue`` or ``drivers``, and nothing does I/O beyond reading
the input file.
"""
