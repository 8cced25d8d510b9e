"""Why a file cannot be made, in the person's language, with the fix to try.

The analysers speak English (the code's language, also the API's). The counter shows
the common refusals in French through the catalogues; one it does not know is shown as
it is, under a French lead, rather than hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Gettext = Callable[[str], str]

_NUMBER = r"[\d.,]+"


def _number(text: str, lang: str) -> str:
    if lang == "fr" and re.fullmatch(_NUMBER, text):
        return text.replace(".", ",")
    return text


def _rules(_: Gettext) -> list[tuple[re.Pattern[str], str]]:
    return [
        (
            re.compile(r"the design contains text(?P<sample>.*?)\. A cutter follows outlines"),
            _(
                "The drawing contains text%(sample)s. A cutter follows outlines: turn the "
                "text into paths first (Inkscape: select all, then Path ▸ Object to Path, "
                "Shift+Ctrl+C) and save again."
            ),
        ),
        (
            re.compile(
                rf"the design is (?P<size>{_NUMBER}) mm wide.*?, (?P<over>{_NUMBER}) mm more "
                rf"than the (?P<roll>{_NUMBER}) mm roll"
            ),
            _(
                "The drawing is %(size)s mm wide, %(over)s mm more than the %(roll)s mm roll: "
                "ask for a smaller width."
            ),
        ),
        (
            re.compile(
                rf"(?P<axis>[XYZ]) reaches (?P<size>{_NUMBER}) mm, (?P<over>{_NUMBER}) mm "
                rf"beyond the (?P<limit>{_NUMBER}) mm build volume"
            ),
            _(
                "The part reaches %(size)s mm on %(axis)s, %(over)s mm beyond the printer's "
                "%(limit)s mm: scale it down or turn it in the slicer."
            ),
        ),
        (
            re.compile(r"fits no hoop"),
            _(
                "The design is larger than every hoop of this machine: make it smaller, "
                "or choose a machine with a bigger hoop."
            ),
        ),
        (
            re.compile(
                r"the model is only (?P<size>[\d.× ]+) mm: it was probably drawn in inches; "
                r"send it again with scale=(?P<scale>[\d.]+)"
            ),
            _(
                "The model is only %(size)s mm: it was probably drawn in inches. Try the "
                "scale %(scale)s (inches to millimetres)."
            ),
        ),
        (
            re.compile(
                r"the model is (?P<size>[\d.× ]+) mm and the bed is (?P<bed>[\d.× ]+) mm; "
                r"send it again with scale=(?P<scale>[\d.]+)"
            ),
            _(
                "The model is %(size)s mm and the printer's bed is %(bed)s mm: it does not "
                "fit. Scale it down to %(scale)s (it is never scaled without asking)."
            ),
        ),
        (
            re.compile(r"the model is empty"),
            _("The model is empty: the file holds no triangles. Export it again."),
        ),
        (
            re.compile(rf"this model is (?P<size>{_NUMBER}) MB; meshes above (?P<limit>\d+) MB"),
            _(
                "The model weighs %(size)s MB; above %(limit)s MB a model is refused before "
                "slicing. Simplify it (fewer triangles) and bring it again."
            ),
        ),
        (
            re.compile(r"the mesh is not closed \((?P<edges>[\d?]+) open edge"),
            _(
                "The mesh is not closed (%(edges)s open edges left after PrusaSlicer's "
                "repair): check the print's preview, or repair the model (for example in "
                "PrusaSlicer: Fix through Netfabb)."
            ),
        ),
        (
            re.compile(r"this PDF has (?P<pages>\d+) pages"),
            _("This file has %(pages)s pages: choose the page to cut."),
        ),
        (
            re.compile(
                r"(?P<types>[A-Z0-9, ]+) (?:files|logos) cannot be taken.*?: "
                r"(?P<tool>[\w-]+) is not installed"
            ),
            _(
                "%(types)s files cannot be taken on this computer: %(tool)s is not "
                "installed. Ask the administrator, or bring a ready file."
            ),
        ),
        (
            re.compile(r"files of type .* are not accepted|does not take .* files"),
            _(
                "This kind of file is not accepted here. Accepted: G-code for the printer, "
                "SVG for the cutter, DST/PES/JEF/EXP for the embroidery machine."
            ),
        ),
    ]


def in_words(message: str, gettext: Gettext, lang: str) -> str:
    """The refusal ``message`` translated when it is a known one; else as it is."""
    for pattern, template in _rules(gettext):
        found = pattern.search(message)
        if found:
            values = {k: _number(v, lang) for k, v in found.groupdict().items()}
            return template % values if values else template
    return message


def suggested_scale(message: str) -> str | None:
    """The scale a refusal offers (a model too big for the bed, or drawn in inches):
    the page makes it a button, never applies it by itself."""
    found = re.search(r"send it again with scale=(?P<scale>\d+(?:\.\d+)?)", message)
    return found["scale"] if found else None
