"""Software machines that speak real protocols over a pseudo-terminal.

Used by tests, demos and ``fabqueue simulate``. Each emulator module offers a
``serve_forever(args)`` entry for the CLI (see ``EMULATORS``).
"""

EMULATORS: dict[str, str] = {
    "cutter": "drivers.emulators.hpgl_cutter:serve_forever",
    "marlin": "drivers.emulators.marlin:serve_forever",
}
"""``fabqueue simulate <name>`` -> ``"module:function"`` taking the parsed CLI args."""
