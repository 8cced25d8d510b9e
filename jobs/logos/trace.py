"""Pictures (PNG, JPEG) traced to vector outlines with ``potrace``, run as a process.

The facilitator moves the threshold (what counts as ink); ``turdsize`` drops specks of
noise smaller than that many pixels, ``alphamax`` decides how round corners become
(0 keeps every corner sharp, 1.33 rounds everything). A photo taken at an angle is not
straightened: it must be taken square-on, or redrawn.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jobs.base import AnalysisError, FileRejected

TIMEOUT_S = 60.0
MAX_PIXELS = 40_000_000
"""Beyond this a picture is refused unread: a 40 Mpx logo is a photo of a wall."""


def trace_available() -> bool:
    return shutil.which("potrace") is not None


@dataclass(frozen=True)
class TraceOptions:
    threshold: int = 128
    """0..255: pixels darker than this are ink."""
    speckle_px: int = 2
    """potrace ``--turdsize``: patches of up to this many pixels are dropped."""
    corner: float = 1.0
    """potrace ``--alphamax``: 0 sharp corners … 1.33 no corners."""
    width_mm: float | None = None
    """The traced logo's width (its ink, margins cropped); None keeps the picture's DPI."""
    dpi: float | None = None
    """Used when ``width_mm`` is None; None reads the picture's own (96 if it has none)."""
    invert: bool = False
    """Light ink on a dark background (a shop sign photographed at night)."""

    def check(self) -> None:
        if not 0 <= self.threshold <= 255:
            raise FileRejected("the threshold goes from 0 (nothing is ink) to 255 (all is ink)")
        if self.speckle_px < 0 or not 0 <= self.corner <= 1.34:
            raise FileRejected("speckle must be ≥ 0 and corner between 0 and 1.33")
        if self.width_mm is not None and not 1 <= self.width_mm <= 5000:
            raise FileRejected("the width must be between 1 and 5000 mm")


def _bitmap(image: Path, options: TraceOptions, out: Path) -> tuple[int, int, float]:
    """Write the thresholded picture as a PBM; returns (width px, height px, dpi)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(image) as img:
            if img.width * img.height > MAX_PIXELS:
                raise FileRejected(
                    f"the picture is {img.width} × {img.height} pixels; above "
                    f"{MAX_PIXELS // 1_000_000} Mpx it is refused (resize it)"
                )
            dpi = float(img.info.get("dpi", (96, 96))[0] or 96)
            upright = ImageOps.exif_transpose(img)
            if upright.mode in ("RGBA", "LA", "P"):
                # Transparent parts are background, not ink.
                rgba = upright.convert("RGBA")
                white = Image.new("RGBA", rgba.size, "white")
                upright = Image.alpha_composite(white, rgba)
            grey = upright.convert("L")
    except (UnidentifiedImageError, OSError) as exc:
        raise AnalysisError(f"not a readable picture: {exc}") from exc
    threshold = options.threshold
    if options.invert:
        ink = grey.point(lambda v: 0 if v >= threshold else 255, mode="1")
    else:
        ink = grey.point(lambda v: 0 if v < threshold else 255, mode="1")
    # Cropped to the ink, so a width asked for is the logo's, not the photo's.
    box = ImageOps.invert(ink.convert("L")).getbbox()
    if box is None:
        raise FileRejected(
            f"nothing in the picture is darker than the threshold ({threshold}): raise it"
        )
    ink = ink.crop(box)
    ink.save(out, format="PPM")
    return ink.width, ink.height, options.dpi or dpi


def trace(image: Path, options: TraceOptions, out: Path) -> Path:
    """Trace ``image`` into the SVG ``out`` (millimetre-true when ``width_mm`` is set)."""
    options.check()
    bitmap = out.with_suffix(".pbm")
    width_px, _, dpi = _bitmap(image, options, bitmap)
    width_mm = options.width_mm if options.width_mm is not None else width_px / dpi * 25.4
    args = [
        "potrace", "--svg", "--flat",
        f"--turdsize={options.speckle_px}", f"--alphamax={options.corner:g}",
        "--opttolerance=0.2", f"--width={width_mm:g}mm", "--margin=0",
        f"--output={out}", str(bitmap),
    ]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise FileRejected(
            "tracing pictures is unavailable: potrace is not installed on this node"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise FileRejected(f"tracing took more than {TIMEOUT_S:.0f} s") from exc
    finally:
        bitmap.unlink(missing_ok=True)
    if done.returncode != 0:
        raise AnalysisError(f"potrace could not trace this picture: {done.stderr.strip()}")
    return out
