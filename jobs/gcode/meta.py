"""What slicers write in G-code comments: their own estimates, filament, settings, thumbnails.

Formats recognised (comment text after ``;``):

* PrusaSlicer, SuperSlicer, OrcaSlicer, Slic3r PE: ``; estimated printing time (normal
  mode) = 1h 2m 3s``, ``; filament used [mm] = 1234.5, 0.0``, ``; filament used [g] =``,
  ``; total filament used [g] =``, and the configuration block at the end
  (``; filament_type = PLA``, ``; filament_diameter = 1.75``, ``; filament_density =``,
  ``; nozzle_diameter =``, ``; layer_height =``, ``; printer_model =``, ``; gcode_flavor =``);
* Bambu Studio / OrcaSlicer header: ``; model printing time: 7m 34s; total estimated time:
  15m 1s``, ``; total filament length [mm] :``, ``; total filament weight [g] :``;
* Slic3r: ``; filament used = 12349.1mm (29.7cm3)``;
* Cura: ``;TIME:3485``, ``;PRINT.TIME:``, ``;Filament used: 1.23m``, ``;Layer height:``,
  ``;FLAVOR:``, ``;TARGET_MACHINE.NAME:``, ``;EXTRUDER_TRAIN.0.NOZZLE.DIAMETER:``;
* ideaMaker: ``;Print Time: 4567``, ``;Material#1 Used: 1234.5``, ``;Filament Diameter #1:``,
  ``;Filament Density #1:``, ``;Filament Type #1:``;
* Simplify3D: ``;   Build time: 1 hours 23 minutes``, ``;   Filament length: 1234.5 mm``,
  ``;   Plastic weight: 12.34 g``, ``;   layerHeight,0.2``, ``;   filamentDiameters,1.75``;
* thumbnails: ``; thumbnail begin 220x124 15684`` (PNG), ``; thumbnail_QOI begin``,
  ``; thumbnail_JPG begin`` … ``; thumbnail end``, base64 in between.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(days?|d|hours?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.IGNORECASE
)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float | None:
    """'1d 2h 3m 4s', '1 hours 23 minutes', '3485' -> seconds (None if unreadable)."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if parts:
        total = 0.0
        for number, unit in parts:
            u = unit.lower()
            key = "m" if u.startswith("mi") or u == "m" else u[0]
            total += float(number) * _UNIT_SECONDS[key]
        return total
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def _floats(text: str) -> list[float]:
    out = []
    for token in _NUMBER.findall(text):
        try:
            out.append(float(token))
        except ValueError:
            continue
    return out


def _first_float(text: str) -> float | None:
    values = _floats(text)
    return values[0] if values else None


def _string(text: str) -> str:
    return text.strip().strip('"').strip()


# ``;   key,value`` (Simplify3D settings)
_COMMA_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "layerheight": ("layer_height_mm", _first_float),
    "filamentdiameters": ("filament_diameter_mm", _floats),
    "filamentdensities": ("filament_density_g_cm3", _floats),
    "extruderdiameter": ("nozzle_diameter_mm", _first_float),
    "printmaterial": ("filament_type", lambda s: [_string(s)]),
}


@dataclass
class Thumbnail:
    """An embedded picture, found by its position in the file."""

    format: str
    """png, qoi or jpg."""
    width: int
    height: int
    declared_length: int
    offset: int
    """Byte offset of its ``thumbnail begin`` line."""
    length: int = 0
    """Base64 characters actually found."""
    complete: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "offset": self.offset,
            "complete": self.complete,
        }


_THUMB_BEGIN = re.compile(
    r"thumbnail(?:_(\w+))?\s+begin\s+(\d+)\s*x\s*(\d+)\s+(\d+)", re.IGNORECASE
)
MAX_THUMBNAILS = 16
_THUMB_FORMATS = {"": "png", "png": "png", "qoi": "qoi", "jpg": "jpg", "jpeg": "jpg"}


class SlicerMeta:
    """Collects slicer figures from comments, one comment at a time (constant memory)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.thumbnails: list[Thumbnail] = []
        self.layer_marks = 0
        self.warnings: list[str] = []
        self._thumb: Thumbnail | None = None
        self._eq = self._eq_handlers()
        self._colon = self._colon_handlers()

    # ``; key = value`` (PrusaSlicer family, their configuration block)
    def _eq_handlers(self) -> dict[str, Callable[[str], None]]:
        v = self.values
        return {
            "estimated printing time (normal mode)": lambda s: self._set_duration(s),
            "filament used [mm]": lambda s: v.setdefault("slicer_filament_mm", sum(_floats(s))),
            "filament used [g]": lambda s: v.setdefault("slicer_filament_g", sum(_floats(s))),
            "total filament used [g]": lambda s: v.__setitem__("slicer_filament_g", _sum(s)),
            "filament used [cm3]": lambda s: v.setdefault("slicer_filament_cm3", sum(_floats(s))),
            "filament used": self._slic3r_filament,
            "filament_type": lambda s: v.setdefault("filament_type", _split_types(s)),
            "filament_diameter": lambda s: v.setdefault("filament_diameter_mm", _floats(s)),
            "filament_density": lambda s: v.setdefault("filament_density_g_cm3", _floats(s)),
            "nozzle_diameter": lambda s: v.setdefault("nozzle_diameter_mm", _first_float(s)),
            "layer_height": lambda s: v.setdefault("layer_height_mm", _first_float(s)),
            "printer_model": lambda s: _set_string(v, "printer_model", s),
            "printer_settings_id": lambda s: _set_string(v, "printer_settings", s),
            "gcode_flavor": lambda s: _set_string(v, "flavor", s),
            "total layers count": lambda s: v.setdefault("layer_count", _int(s)),
        }

    # ``;KEY:value`` (Cura, ideaMaker, Bambu header, Simplify3D statistics)
    def _colon_handlers(self) -> dict[str, Callable[[str], None]]:
        v = self.values
        return {
            "time": lambda s: self._set_duration(s),
            "print.time": lambda s: self._set_duration(s),
            "print time": lambda s: self._set_duration(s),
            "build time": lambda s: self._set_duration(s),
            "model printing time": self._bambu_times,
            "total estimated time": lambda s: self._set_duration(s, override=True),
            "filament used": self._cura_filament,
            "total filament length [mm]": lambda s: v.setdefault("slicer_filament_mm", _first(s)),
            "total filament weight [g]": lambda s: v.setdefault("slicer_filament_g", _first(s)),
            "filament length": lambda s: v.setdefault("slicer_filament_mm", _first(s)),
            "material length": lambda s: v.setdefault("slicer_filament_mm", _first(s)),
            "plastic weight": lambda s: v.setdefault("slicer_filament_g", _first(s)),
            "material weight": lambda s: v.setdefault("slicer_filament_g", _first(s)),
            "material#1 used": lambda s: v.setdefault("slicer_filament_mm", _first(s)),
            "filament diameter #1": lambda s: v.setdefault("filament_diameter_mm", _floats(s)),
            "filament density #1": lambda s: v.setdefault("filament_density_g_cm3", _floats(s)),
            "filament type #1": lambda s: v.setdefault("filament_type", _split_types(s)),
            "filament type": lambda s: v.setdefault("filament_type", _split_types(s)),
            "layer height": lambda s: v.setdefault("layer_height_mm", _first_float(s)),
            "layer_count": lambda s: v.setdefault("layer_count", _int(s)),
            "total layer number": lambda s: v.setdefault("layer_count", _int(s)),
            "flavor": lambda s: _set_string(v, "flavor", s),
            "target_machine.name": lambda s: _set_string(v, "printer_model", s),
            "machine_name": lambda s: _set_string(v, "printer_model", s),
            "extruder_train.0.nozzle.diameter": lambda s: v.setdefault(
                "nozzle_diameter_mm", _first_float(s)
            ),
            "extruder_train.0.material.volume_used": lambda s: v.setdefault(
                "slicer_filament_mm3", _first_float(s)
            ),
            "nozzle diameter": lambda s: v.setdefault("nozzle_diameter_mm", _first_float(s)),
        }

    def comment(self, raw: bytes, offset: int) -> None:
        """One comment (the text after ``;``) found at byte ``offset`` of the file."""
        thumb = self._thumb
        if thumb is not None:
            data = raw.strip()
            if data.startswith(b"thumbnail") and data.endswith(b"end"):
                thumb.complete = thumb.length == thumb.declared_length
                if not thumb.complete:
                    self.warnings.append(
                        f"a {thumb.format.upper()} thumbnail holds {thumb.length} characters "
                        f"instead of {thumb.declared_length}: it is not used"
                    )
                self._thumb = None
            else:
                thumb.length += len(data)
            return
        text_b = raw.strip()
        if not text_b:
            return
        first = text_b[:1]
        if first in b"Ll" and (
            text_b.startswith((b"LAYER_CHANGE", b"LAYER:", b"Layer #"))
            or (text_b.startswith(b"layer ") and text_b[6:7].isdigit())
        ):
            self.layer_marks += 1
            return
        if first in b"WTHZ" and text_b.startswith((b"WIDTH:", b"TYPE:", b"HEIGHT:", b"Z:")):
            return  # per-move annotations, the bulk of comments: nothing to learn
        text = text_b.decode("utf-8", "replace")
        if " = " in text:
            key, _, value = text.partition(" = ")
            handler = self._eq.get(key.strip().lower())
            if handler is not None:
                _guard(handler, value)
                return
        if ":" in text:
            key, _, value = text.partition(":")
            handler = self._colon.get(key.strip().lower())
            if handler is not None:
                _guard(handler, value)
                return
        low = text.lower()
        if "thumbnail" in low and "begin" in low:
            self._begin_thumbnail(text, offset)
            return
        if "," in text:
            key, _, value = text.partition(",")
            entry = _COMMA_KEYS.get(key.strip().lower())
            if entry is not None:
                name, parse = entry
                with contextlib.suppress(ValueError, IndexError):
                    self.values.setdefault(name, parse(value))
                return
        if "slicer" not in self.values:
            self._maybe_slicer(text, low)

    def _maybe_slicer(self, text: str, low: str) -> None:
        for marker in ("generated by ", "generated with ", "sliced by "):
            at = low.find(marker)
            if at >= 0:
                name = text[at + len(marker) :].strip()
                name = re.split(r"\s+on\s+\d{4}-", name)[0]  # "... on 2023-10-31 at ..."
                self.values["slicer"] = name[:80]
                return
        if low.startswith(("bambustudio", "orcaslicer")):
            self.values["slicer"] = text.strip()[:80]

    def _begin_thumbnail(self, text: str, offset: int) -> None:
        m = _THUMB_BEGIN.search(text)
        if m is None:
            if len(self.warnings) < 10:
                self.warnings.append(f"unreadable thumbnail header: {text.strip()[:60]!r}")
            return
        fmt = _THUMB_FORMATS.get((m.group(1) or "").lower())
        if len(self.thumbnails) >= MAX_THUMBNAILS:
            return
        thumb = Thumbnail(
            format=fmt or (m.group(1) or "").lower(),
            width=int(m.group(2)),
            height=int(m.group(3)),
            declared_length=int(m.group(4)),
            offset=offset,
        )
        self.thumbnails.append(thumb)
        self._thumb = thumb

    def finish(self) -> None:
        if self._thumb is not None:
            self.warnings.append(
                f"a {self._thumb.format.upper()} thumbnail never ends: the file may be truncated"
            )
            self._thumb = None

    # -- value parsers with side effects ------------------------------------------

    def _set_duration(self, text: str, *, override: bool = False) -> None:
        seconds = parse_duration(text)
        if seconds is None:
            return
        if override or "slicer_duration_s" not in self.values:
            self.values["slicer_duration_s"] = seconds

    def _bambu_times(self, text: str) -> None:
        # "7m 34s; total estimated time: 15m 1s": the total includes the start sequence.
        _, sep, total = text.partition("total estimated time:")
        self._set_duration(total if sep else text, override=bool(sep))

    def _slic3r_filament(self, text: str) -> None:
        # "12349.1mm (29.7cm3)"
        mm = text.lower().split("mm", 1)[0]
        value = _first_float(mm)
        if value is not None:
            self.values.setdefault("slicer_filament_mm", value)

    def _cura_filament(self, text: str) -> None:
        # "1.23456m" or "1.2m, 0.5m": metres, one per extruder
        if "m" in text.lower():
            self.values.setdefault("slicer_filament_mm", sum(_floats(text)) * 1000.0)


def _guard(handler: Callable[[str], None], value: str) -> None:
    with contextlib.suppress(ValueError, IndexError):
        handler(value)


def _sum(text: str) -> float:
    values = _floats(text)
    if not values:
        raise ValueError(text)
    return sum(values)


def _first(text: str) -> float:
    """The first number ("1234.5 mm (1.23 m)" -> 1234.5)."""
    value = _first_float(text)
    if value is None:
        raise ValueError(text)
    return value


def _int(text: str) -> int:
    value = _first_float(text)
    if value is None:
        raise ValueError(text)
    return int(value)


def _split_types(text: str) -> list[str]:
    return [t.strip().strip('"') for t in re.split(r"[;,]", text) if t.strip().strip('"')]


def _set_string(values: dict[str, Any], key: str, text: str) -> None:
    s = _string(text)
    if s:
        values.setdefault(key, s[:120])
