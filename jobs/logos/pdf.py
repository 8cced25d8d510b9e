"""PDF and Illustrator files to SVG with poppler's ``pdftocairo -svg``.

pdftocairo writes text as glyph outlines (``<symbol>`` paths placed by ``<use>``), so
lettering arrives as shapes the cutter can follow, with no font needed on this node.
Modern ``.ai`` files are PDF inside; older PostScript-only ones are refused by poppler.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import defusedxml.ElementTree as ET

from jobs.base import AnalysisError, FileRejected

TIMEOUT_S = 60.0
_PAGES = re.compile(r"^Pages:\s+(\d+)", re.MULTILINE)
_DRAWN = {"path", "use", "rect", "line", "polyline", "polygon", "circle", "ellipse"}
_NOT_DRAWN = {"clipPath", "mask", "pattern", "symbol", "defs"}


def pdf_available() -> bool:
    return shutil.which("pdftocairo") is not None and shutil.which("pdfinfo") is not None


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise FileRejected(
            "PDF logos are unavailable: poppler-utils is not installed on this node"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise FileRejected(f"reading the PDF took more than {TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1:] or ["unknown error"]
        raise AnalysisError(f"not a readable PDF: {message[0]}")
    return done


def page_count(pdf: Path) -> int:
    found = _PAGES.search(_run(["pdfinfo", str(pdf)]).stdout)
    if found is None:
        raise AnalysisError("not a readable PDF: no page count")
    return int(found.group(1))


def choose_page(pdf: Path, page: int | None) -> int:
    """The page to cut; a multi-page file must say which, and is told how many there are."""
    pages = page_count(pdf)
    if page is None:
        if pages > 1:
            raise FileRejected(
                f"this PDF has {pages} pages: choose which one to cut (page=1 to {pages})"
            )
        return 1
    if not 1 <= page <= pages:
        raise FileRejected(f"page {page} does not exist: this PDF has {pages} page(s)")
    return page


def pdf_page_to_svg(pdf: Path, page: int, out: Path) -> Path:
    _run(["pdftocairo", "-svg", "-f", str(page), "-l", str(page), str(pdf), str(out)])
    return out


def pdf_page_to_png(pdf: Path, page: int, out_stem: Path, dpi: int) -> Path:
    pages = ["-f", str(page), "-l", str(page)]
    _run(["pdftocairo", "-png", "-singlefile", "-r", str(dpi), *pages, str(pdf), str(out_stem)])
    return out_stem.with_suffix(".png")


def _tag(el: ET.Element) -> str:
    return str(el.tag).rsplit("}", 1)[-1]


def _href(el: ET.Element) -> str:
    for key, value in el.attrib.items():
        if key.rsplit("}", 1)[-1] == "href":
            return str(value).lstrip("#")
    return ""


def _drawn(el: ET.Element, images: set[str]) -> int:
    """Shapes drawn on the page (a <use> of a picture is a picture, not a shape)."""
    tag = _tag(el)
    if tag in _NOT_DRAWN:
        return 0
    here = tag in _DRAWN and not (tag == "use" and _href(el) in images)
    return int(here) + sum(_drawn(child, images) for child in el)


def is_raster_only(svg: Path) -> bool:
    """True when the page holds pictures and nothing drawn: it must be traced to cut."""
    root = ET.parse(svg).getroot()
    images = {str(el.get("id", "")) for el in root.iter() if _tag(el) == "image"}
    return bool(images) and _drawn(root, images) == 0
