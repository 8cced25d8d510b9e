"""The embroidery formats fabqueue reads and writes, as data.

Reading goes through pyembroidery 1.5.1 (inside a worker, see :mod:`jobs.embroidery.read`);
this table says which of its readers we expose, which writers make a machine's native
file, and what each writer can encode. Values are pyembroidery's writer constants
(1/10 mm per axis), kept here so the checks and the encoder agree without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass

READABLE: dict[str, str] = {
    "pes": "Brother PES",
    "pec": "Brother PEC",
    "phb": "Brother PHB",
    "phc": "Brother PHC",
    "dst": "Tajima DST",
    "dsb": "Barudan DSB (Tajima-like)",
    "dsz": "ZSK DSZ",
    "tbf": "Tajima TBF",
    "exp": "Melco/Bernina EXP",
    "jef": "Janome JEF",
    "sew": "Janome SEW",
    "jpx": "Janome JPX",
    "vp3": "Husqvarna/Pfaff VP3",
    "hus": "Husqvarna HUS",
    "shv": "Husqvarna SHV",
    "ksm": "Pfaff KSM",
    "pcs": "Pfaff PCS",
    "pcd": "Pfaff PCD",
    "pcq": "Pfaff PCQ",
    "pcm": "Pfaff PCM",
    "spx": "Pfaff SPX",
    "max": "Pfaff MAX",
    "xxx": "Singer XXX",
    "u01": "Barudan U01",
    "dat": "Barudan/Sunstar DAT",
    "10o": "Toyota 10O",
    "100": "Toyota 100",
    "bro": "Bits & Volts BRO",
    "emd": "Elna EMD",
    "exy": "Eltac EXY",
    "fxy": "Fortron FXY",
    "gt": "Gold Thread GT",
    "inb": "Inbro INB",
    "tap": "Happy TAP",
    "stx": "Data Stitch STX",
    "new": "Ameco NEW",
    "mit": "Mitsubishi MIT",
    "stc": "Gunold STC",
    "zhs": "Zeng Hsing ZHS",
    "zxy": "ZSK TC ZXY",
}
"""Every stitch format pyembroidery reads, but three it reads under names that mean
something else here: ``gcode`` (a printer's file), ``csv``/``json`` (its debug dumps),
and the colour side files ``inf``/``edr``/``col`` (no stitches)."""

UNREADABLE_HINTS: dict[str, str] = {
    "vip": "Husqvarna VIP files cannot be read here; ask for VP3 or HUS",
    "csd": "Singer CSD files cannot be read here; ask for XXX or DST",
    "art": "Bernina ART files cannot be read here; ask for EXP or DST",
    "emb": "Wilcom EMB is a design-software file; ask for a stitch file (DST, PES, EXP…)",
}


@dataclass(frozen=True)
class WriterSpec:
    description: str
    max_stitch: int
    """Longest stitch the format encodes, 1/10 mm per axis."""
    max_jump: int
    versions: tuple[str, ...] = ()
    label_max: int = 16
    """Characters of the design name the header holds."""
    carries_colours: bool = True
    """False: the machine gets no colours from the file (DST, EXP, U01)."""
    own_trim_code: bool = True
    """False: trims are written as a run of small jumps the machine must interpret."""


WRITABLE: dict[str, WriterSpec] = {
    "pes": WriterSpec("Brother PES", 2047, 2047, ("1", "6", "1t", "6t"), label_max=8),
    "pec": WriterSpec("Brother PEC", 2047, 2047, label_max=8),
    "dst": WriterSpec(
        "Tajima DST",
        121,
        121,
        ("default", "extended"),
        carries_colours=False,
        own_trim_code=False,
    ),
    "exp": WriterSpec("Melco/Bernina EXP", 127, 127, carries_colours=False),
    "jef": WriterSpec("Janome JEF", 127, 127, own_trim_code=False),
    "vp3": WriterSpec("Husqvarna/Pfaff VP3", 255, 3200),
    "xxx": WriterSpec("Singer XXX", 124, 124),
    "u01": WriterSpec("Barudan U01", 127, 127, carries_colours=False),
    "tbf": WriterSpec("Tajima TBF", 127, 127, label_max=16),
}

TRIMS_AS_JUMPS = frozenset({"dst", "jef"})
"""Formats without a trim code: a run of jumps is a trim (pyembroidery writes a trim as
``trim_at`` jumps of length zero). Read without the machine's rule, a JEF loses every
trim followed by a short jump (all of them in fabqueue's own JEF files)."""


def reader_settings(file_type: str, trim_at: int) -> dict[str, int]:
    """What pyembroidery's reader needs to find the trims the machine will make."""
    return {"trim_at": trim_at} if file_type in TRIMS_AS_JUMPS else {}


STRICT_END = frozenset({"dst", "dsb", "tbf", "10o", "u01", "pes", "vp3", "xxx", "hus"})
"""Formats whose reader stops at an end mark or a known length: a complete file never
makes it ask for bytes past the end, so running out of bytes means the file is cut."""

MAX_FILE_BYTES = 32 * 1024 * 1024
"""Stitch files are small (a 200,000-stitch PES is 1.3 MB); anything this big is not one."""

DEFAULT_MAX_RECORDS = 2_500_000
"""Records (stitches, jumps, trims, colour changes) one file may make, counted while the
worker reads it. The largest designs a café sees are a few hundred thousand stitches
(a 2,000,000-stitch file still gets its figures, and a fit problem); a file of zeros
read as EXP makes one stitch every two bytes (10 million from 20 MB). At 20 bytes a
record, what comes back to the server stays under 50 MB."""


COMMON = ("dst", "pes", "jef", "exp", "vp3", "xxx", "hus", "pec", "u01")
"""What digitizers hand out most; named first in messages."""


def describe_readable() -> str:
    """The accepted formats, for error messages: the common ones first."""
    rest = sorted(t for t in READABLE if t not in COMMON)
    return ", ".join(t.upper() for t in (*COMMON, *rest))
