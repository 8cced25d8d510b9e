"""Lines of a G-code file, in constant memory, with the checks that make bad files fail fast.

The file is read in 1 MiB chunks split at line ends. A "line" longer than
:data:`MAX_LINE_BYTES` (a binary file, a damaged one, a 5 GB line without a line end)
stops the reading at once, as do NUL bytes (binary data), Prusa's binary G-code and
UTF-16 text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import BinaryIO

from jobs.base import AnalysisError

MAX_LINE_BYTES = 256 * 1024
"""A longer "line" is not G-code; reading it whole could exhaust memory."""
CHUNK_BYTES = 1 << 20

_WORD = re.compile(rb"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+)|NAN|INF(?:INITY)?)")
"""A letter and its number. No exponents: Marlin stops a number at an E, which is the
extruder's word ("Y10E2" is Y10 and E2)."""
_CHECKSUM = re.compile(rb"\*\d*\s*$")
_LINE_NUMBER = re.compile(rb"N\s*\d+\s*")

IGNORED_COMMANDS = frozenset(
    [
        "G17",
        "G21",
        "G80",
        "M17",
        "M18",
        "M84",
        "M73",
        "M75",
        "M76",
        "M77",
        "M78",
        "M105",
        "M106",
        "M107",
        "M110",
        "M111",
        "M114",
        "M115",
        "M117",
        "M118",
        "M119",
        "M140",
        "M141",
        "M150",
        "M155",
        "M163",
        "M164",
        "M300",
        "M301",
        "M302",
        "M303",
        "M304",
        "M350",
        "M355",
        "M412",
        "M413",
        "M420",
        "M486",
        "M500",
        "M501",
        "M502",
        "M503",
        "M504",
        "M552",
        "M555",
        "M569",
        "M572",
        "M593",
        "M82",
        "M83",
        "M862.1",
        "M862.2",
        "M862.3",
        "M862.4",
        "M862.5",
        "M862.6",
        "M900",
        "M906",
        "M907",
        "M913",
        "M914",
        "M92",
    ]
)
"""Commands understood that change nothing the estimate depends on."""


def command_words(raw: bytes) -> tuple[str, list[tuple[str, bytes]], bytes] | None:
    """(command, its words, the upper-cased code) of a line without its comment.

    Handles line numbers and checksums (``N12 G1 X1*45``), lower case, words glued
    together or spaced from their number. The command is canonical (``G01`` is ``G1``,
    ``M862.3`` stays). None for an empty line; command ``""`` when the line is not a
    G-code command at all.
    """
    code = raw.strip().upper()
    if not code:
        return None
    if code.startswith(b"N"):
        code = _CHECKSUM.sub(b"", code)
        m = _LINE_NUMBER.match(code)
        if m:
            code = code[m.end() :]
            if not code:
                return None
    words = _WORD.findall(code)
    if not words or not code[:1].isalpha() or code[:1] != words[0][0]:
        return "", [], code
    letter, number = words[0]
    return letter.decode() + _canonical(number), [(k.decode(), v) for k, v in words[1:]], code


def _canonical(number: bytes) -> str:
    """b'01' -> '1', b'862.3' -> '862.3', b'1.0' -> '1'."""
    text = number.decode()
    whole, _, frac = text.partition(".")
    whole = whole.lstrip("+").lstrip("0") or "0"
    frac = frac.rstrip("0")
    return f"{whole}.{frac}" if frac else whole


class LineReader:
    """Lines of a binary file, without their line ends, in constant memory."""

    def __init__(self, handle: BinaryIO, *, max_line: int = MAX_LINE_BYTES) -> None:
        self._handle = handle
        self._max = max_line
        self.lines = 0
        """Lines yielded so far (the number of the current line)."""
        self.ended_with_newline = True

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        first = True
        cr_only = False
        while True:
            chunk = self._handle.read(CHUNK_BYTES)
            if not chunk:
                break
            if first:
                first = False
                self._check_start(chunk)
                # Classic Mac line ends (CR only): read them as line ends too.
                cr_only = b"\n" not in chunk and b"\r" in chunk
            if cr_only:
                chunk = chunk.replace(b"\r", b"\n")
            nul = chunk.find(b"\0")
            if nul >= 0:
                line = self.lines + pending.count(b"\n") + chunk.count(b"\n", 0, nul) + 1
                raise AnalysisError(f"line {line} holds binary data: not a G-code text file")
            parts = chunk.split(b"\n")
            if pending:
                parts[0] = pending + parts[0]
            pending = parts.pop()
            if len(pending) > self._max:
                self._too_long(self.lines + len(parts) + 1)
            if parts and max(map(len, parts)) > self._max:
                for i, part in enumerate(parts):
                    if len(part) > self._max:
                        self._too_long(self.lines + i + 1)
            for part in parts:
                self.lines += 1
                yield part
        if pending:
            self.ended_with_newline = False
            self.lines += 1
            yield pending

    @staticmethod
    def _check_start(chunk: bytes) -> None:
        if chunk.startswith(b"GCDE"):
            raise AnalysisError("this is binary G-code (.bgcode): export plain-text G-code instead")
        if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise AnalysisError(
                "this G-code was saved as UTF-16 text: save it as plain text (UTF-8)"
            )

    def _too_long(self, line: int) -> None:
        raise AnalysisError(
            f"line {line} is longer than {self._max // 1024} KiB: this is not G-code "
            "(or the file is damaged)"
        )


def size_of(handle: BinaryIO) -> int:
    """The size of the file behind ``handle`` (0 for an in-memory stream)."""
    try:
        return os.fstat(handle.fileno()).st_size
    except (OSError, AttributeError, ValueError):  # an in-memory stream
        return 0
