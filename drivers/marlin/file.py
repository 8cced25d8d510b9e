"""A G-code file made ready to stream: the commands to send, each with the file offset
just after its line (what progress and the resume checkpoint are measured in).

Read once, in a worker thread, before the job starts, so that a line Marlin would cut
short or a binary file is refused up front instead of failing halfway through a print.
Kept compact (one bytes blob and two integer arrays) so a 90,000-line file costs a few MB.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from pathlib import Path

from drivers.marlin.protocol import clean

MAX_COMMAND_BYTES = 80
"""Room left in Marlin's 96-byte line for ``N<number> `` and ``*<checksum>``."""

_DISPLAY_ONLY = (b"M117", b"M118")


class FileProblem(Exception):
    """The file cannot be streamed (the message says why, with the line number)."""


@dataclass
class PreparedFile:
    size: int
    start_offset: int
    _blob: bytes
    _starts: array[int]
    _ends: array[int]
    _offsets: array[int]

    def __len__(self) -> int:
        return len(self._offsets)

    def command(self, index: int) -> bytes:
        return self._blob[self._starts[index] : self._ends[index]]

    def offset_after(self, index: int) -> int:
        return self._offsets[index]


def prepare(path: Path, start_offset: int = 0) -> PreparedFile:
    """Blocking: read ``path`` from ``start_offset`` (which must start a line)."""
    try:
        size = path.stat().st_size
        handle = path.open("rb")
    except OSError as exc:
        raise FileProblem(f"cannot read the job's file: {exc.strerror}") from exc
    if not 0 <= start_offset <= size:
        raise FileProblem(f"resume offset {start_offset} is outside the file ({size} bytes)")
    blob = bytearray()
    starts, ends, offsets = array("I"), array("I"), array("Q")
    with handle:
        if start_offset:
            handle.seek(start_offset - 1)
            if handle.read(1) != b"\n":
                raise FileProblem(f"resume offset {start_offset} is not at the start of a line")
        offset = start_offset
        number = 0
        for raw in handle:
            number += 1
            offset += len(raw)
            if b"\0" in raw:
                raise FileProblem(f"line {number} holds binary data: not a G-code text file")
            code = clean(raw)
            if not code:
                continue
            if len(code) > MAX_COMMAND_BYTES:
                if code[:4].upper() in _DISPLAY_ONLY:
                    code = code[:MAX_COMMAND_BYTES]
                else:
                    raise FileProblem(
                        f"line {number} is {len(code)} bytes long; Marlin takes at most "
                        f"{MAX_COMMAND_BYTES} (its 96-byte line includes the number and checksum)"
                    )
            if b"*" in code:
                raise FileProblem(f"line {number} contains '*', which Marlin reads as a checksum")
            starts.append(len(blob))
            blob += code
            ends.append(len(blob))
            offsets.append(offset)
    return PreparedFile(size, start_offset, bytes(blob), starts, ends, offsets)
