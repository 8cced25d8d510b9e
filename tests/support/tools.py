"""The Debian programs some tests drive. `.ci/run` installs them; a test that needs one
fails, saying which package to install, rather than being skipped without a word."""

from __future__ import annotations

import shutil

import pytest

PACKAGES = {
    "prusa-slicer": "prusa-slicer",
    "openscad": "openscad",
    "potrace": "potrace",
    "pdftocairo": "poppler-utils",
    "pdftotext": "poppler-utils",
    "hp2xx": "hp2xx",
    "curl": "curl",
}


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        packages = " ".join(sorted({PACKAGES.get(t, t) for t in missing}))
        pytest.fail(f"needs {', '.join(missing)}: apt-get install {packages} (.ci/run does)")


def needs(*tools: str) -> pytest.MarkDecorator:
    """Mark a test as needing ``tools``: it fails, naming the package, when one is missing."""
    return pytest.mark.usefixtures(*(f"tool_{t.replace('-', '_')}" for t in tools))
