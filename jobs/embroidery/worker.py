"""What runs inside the embroidery worker process: pyembroidery, and nothing else.

pyembroidery's readers trust their input: some raise ``TypeError`` on a cut file, some
loop over garbage, one accepts random bytes. They run here, in a child process with a
memory and CPU limit (see :mod:`jobs.embroidery.read`), and hand back plain arrays: the
parent never holds a pyembroidery pattern, so a two-million-stitch file costs it
24 bytes per record instead of ~150.
"""

from __future__ import annotations

import gc
import io
import pickle
import resource
import sys
from array import array
from collections.abc import Callable
from typing import Any

from pyembroidery import EmbPattern, EmbThread, supported_formats

from jobs.embroidery.formats import DEFAULT_MAX_RECORDS

Payload = dict[str, Any]

_SHORT_READS_KEPT = 8


class TrackingStream(io.BytesIO):
    """The file in memory, noting every read that got fewer bytes than it asked for
    (how a reader that runs off the end of a cut file shows itself)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.short_reads: list[tuple[int, int, int]] = []
        self.furthest = 0
        """One past the last byte any read returned."""

    def read(self, size: int | None = -1) -> bytes:
        pos = self.tell()
        data = super().read(size)
        self.furthest = max(self.furthest, pos + len(data))
        short = size is not None and size >= 0 and len(data) < size
        if short and len(self.short_reads) < _SHORT_READS_KEPT:
            self.short_reads.append((pos, size or 0, len(data)))
        return data


class RanOutOfData(Exception):
    pass


class TooManyRecords(Exception):
    """The file makes more records than the budget: refused while it is being read."""


class BoundedStitches(list[list[Any]]):
    """pyembroidery's stitch list, refusing to grow past ``limit`` as the reader adds to
    it: the budget bites while the file streams in, not after the worker has built a
    ten-million-entry pattern and the parent has unpickled it."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def append(self, item: list[Any]) -> None:
        if len(self) >= self.limit:
            raise TooManyRecords(too_many(self.limit))
        super().append(item)

    def insert(self, index: Any, item: list[Any]) -> None:
        if len(self) >= self.limit:
            raise TooManyRecords(too_many(self.limit))
        super().insert(index, item)


def too_many(limit: int) -> str:
    return (
        f"it makes more than {limit:,} records (stitches, jumps, trims, colour changes), "
        "more than any design a machine sews"
    )


def _formats(key: str) -> dict[str, Any]:
    return {f["extension"]: f.get(key) for f in supported_formats() if f.get(key) is not None}


def _text(value: object, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] or None


def pattern_payload(pattern: EmbPattern) -> Payload:
    stitches = pattern.stitches
    threads = []
    for thread in pattern.threadlist:
        if thread is None:  # JEF's reader leaves None for its colour 0
            continue
        threads.append(
            (
                thread.hex_color(),
                _text(thread.description),
                _text(thread.catalog_number),
                _text(thread.brand),
            )
        )
    extras = {
        str(k): v[:200]
        for k, v in ((k, _text(v)) for k, v in pattern.extras.items())
        if isinstance(v, str) and not str(k).startswith("pec_graphic")
    }
    return {
        "x": array("d", (s[0] for s in stitches)).tobytes(),
        "y": array("d", (s[1] for s in stitches)).tobytes(),
        "cmd": array("i", (s[2] for s in stitches)).tobytes(),
        "threads": threads,
        "extras": extras,
    }


def read_file(
    path: str, file_type: str, settings: dict[str, Any], max_records: int = DEFAULT_MAX_RECORDS
) -> Payload:
    reader = _formats("reader").get(file_type)
    if reader is None:
        raise ValueError(f"no reader for {file_type}")
    with open(path, "rb") as fh:  # noqa: PTH123  (a str path from the parent)
        stream = TrackingStream(fh.read())
    if file_type == "dst":
        return _read_dst(stream, settings, max_records)
    pattern = EmbPattern()
    pattern.stitches = BoundedStitches(max_records)
    try:
        reader.read(stream, pattern, settings)
    except TooManyRecords:
        raise
    except Exception as exc:
        if stream.short_reads:
            # The reader broke on the missing end of the file, not on its content.
            at = stream.short_reads[0][0]
            raise RanOutOfData(f"the data stops at byte {at}") from exc
        raise
    if len(pattern.stitches) > max_records:  # a reader that replaced the list
        raise TooManyRecords(too_many(max_records))
    payload = pattern_payload(pattern)
    payload["short_reads"] = stream.short_reads
    payload["size"] = len(stream.getbuffer())
    payload["furthest"] = stream.furthest
    return payload


def _read_dst(stream: TrackingStream, settings: dict[str, Any], max_records: int) -> Payload:
    """pyembroidery for the header (name, extended colours), numpy for the records."""
    from pyembroidery.DstReader import dst_read_header

    from jobs.embroidery.dst import data_end, decode

    data = stream.getvalue()
    consumed, ended = data_end(data)
    if (consumed - 512) // 3 > max_records:
        raise TooManyRecords(too_many(max_records))
    pattern = EmbPattern()
    dst_read_header(stream, pattern)
    payload = pattern_payload(pattern)
    x, y, cmd = decode(data, settings.get("trim_at", 3), settings.get("trim_distance"))
    if x.shape[0] > max_records:
        raise TooManyRecords(too_many(max_records))
    payload.update(x=x.tobytes(), y=y.tobytes(), cmd=cmd.astype("int32").tobytes())
    payload["short_reads"] = [] if ended else [(len(data), 3, 0)]
    payload["size"] = len(data)
    payload["furthest"] = consumed
    return payload


def build_pattern(payload: Payload) -> EmbPattern:
    pattern = EmbPattern()
    xs = array("d")
    xs.frombytes(payload["x"])
    ys = array("d")
    ys.frombytes(payload["y"])
    cmds = array("i")
    cmds.frombytes(payload["cmd"])
    pattern.stitches = [[x, y, c] for x, y, c in zip(xs, ys, cmds, strict=True)]
    for colour, description, catalog, brand in payload["threads"]:
        thread = EmbThread()
        thread.set_hex_color(colour)
        thread.description = description
        thread.catalog_number = catalog
        thread.brand = brand
        thread.chart = brand
        pattern.add_thread(thread)
    for key, value in payload.get("metadata", {}).items():
        pattern.metadata(key, value)
    return pattern


def write_file(
    payload: Payload,
    out_path: str,
    file_type: str,
    settings: dict[str, Any],
    side_files: list[tuple[str, str]],
    read_back_settings: dict[str, Any],
    max_records: int = DEFAULT_MAX_RECORDS,
) -> Payload:
    """Write the design, its colour side files, then read the stitch file back."""
    writers = _formats("writer")
    pattern = build_pattern(payload)
    EmbPattern.write_embroidery(writers[file_type], pattern, out_path, settings)
    for side_type, side_path in side_files:
        EmbPattern.write_embroidery(writers[side_type], pattern, side_path, {})
    del pattern
    return read_file(out_path, file_type, read_back_settings, max_records)


OPS: dict[str, Callable[..., Payload]] = {"read": read_file, "write": write_file}


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss)."""
    try:
        with open("/proc/self/status") as fh:  # noqa: PTH123
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _limit(which: int, soft: int, hard: int) -> None:
    """Lower a limit, never above what this process inherited: started from a pool
    worker that is itself bounded, the tighter bound holds (raising it would fail)."""
    _, inherited = resource.getrlimit(which)
    if inherited != resource.RLIM_INFINITY:
        soft, hard = min(soft, inherited), min(hard, inherited)
    resource.setrlimit(which, (soft, hard))


def main() -> None:
    """``python -m jobs.embroidery.worker``: a pickled request on stdin, a pickled answer out.

    The limits are set before the request is even unpickled, so nothing the file makes
    the reader do escapes them.
    """
    stdin = sys.stdin.buffer
    op, args, memory_bytes, cpu_s = pickle.loads(stdin.read())
    _limit(resource.RLIMIT_AS, memory_bytes, memory_bytes)
    _limit(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)
    # One read or write, then exit: pyembroidery makes a small list per stitch, none in a
    # cycle, and the collector's passes over them were 40 % of a 200,000-stitch write.
    # The memory limit above still bounds the process.
    gc.disable()
    try:
        answer: tuple[Any, ...] = ("ok", OPS[op](*args))
    except MemoryError:
        answer = ("memory", "MemoryError", "")
    except RecursionError:
        answer = ("error", "RecursionError", "the file nests too deeply")
    except Exception as exc:  # a reader's TypeError, IndexError, struct.error…
        answer = ("error", type(exc).__name__, str(exc)[:300])
    answer = (*answer, peak_mb())
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("memory", "MemoryError", ""))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
