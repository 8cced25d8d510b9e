"""Bad files get a clear error or a warning: never a crash, a hang or unbounded memory."""

from __future__ import annotations

import os
import random
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from jobs.base import AnalysisError, FileRejected
from jobs.gcode.analysis import analyze, preview
from jobs.gcode.motion import ARC_SEGMENTS_MIN, ARC_SEGMENTS_PER_BYTE, arc_budget
from jobs.gcode.reader import MAX_LINE_BYTES
from tests.support.factories import CORPUS
from tests.support.gcode import gcode_file, run

BENCHY = CORPUS / "gcode" / "prusaslicer-benchy.gcode"
FIVE_GB = 5 * 1024**3


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.gcode"
    path.write_bytes(b"")
    with pytest.raises(AnalysisError, match="empty"):
        analyze(path)


def test_comments_only(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="no G-code commands"):
        analyze(gcode_file(tmp_path, "; just a note\n\n;another\n"))


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.gcode"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(AnalysisError, match=r"line \d+ holds binary data"):
        analyze(path)


def test_text_garbage_without_nul_bytes(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "noise.gcode"
    path.write_bytes(bytes(rng.choice(range(1, 256)) for _ in range(200_000)))
    with pytest.raises(AnalysisError, match=r"not G-code|longer than"):
        analyze(path)


def test_a_text_file_that_is_not_gcode(tmp_path: Path) -> None:
    text = "Dear café,\nplease print my part.\nThanks!\n" * 20
    with pytest.raises(AnalysisError, match="not G-code"):
        analyze(gcode_file(tmp_path, text))


def test_binary_gcode_is_named(tmp_path: Path) -> None:
    path = tmp_path / "part.gcode"
    path.write_bytes(b"GCDE\x01\x00\x00\x00" + b"\x00" * 100)
    with pytest.raises(AnalysisError, match="bgcode"):
        analyze(path)


def test_truncated_file_is_analysed_with_a_warning(tmp_path: Path) -> None:
    data = BENCHY.read_bytes()
    cut = data.index(b"\n", len(data) // 2) - 7  # in the middle of a line
    path = tmp_path / "cut.gcode"
    path.write_bytes(data[:cut])
    a = analyze(path)
    whole = analyze(BENCHY)
    assert any("truncated" in w for w in a.warnings)
    assert a.duration_s is not None and whole.duration_s is not None
    assert 0.2 * whole.duration_s < a.duration_s < 0.8 * whole.duration_s
    assert a.details["slicer_duration_s"] is None  # the figures were at the end


def test_truncated_inside_a_thumbnail(tmp_path: Path) -> None:
    data = BENCHY.read_bytes()
    path = tmp_path / "cut.gcode"
    path.write_bytes(data[: data.index(b"; thumbnail end") - 100])
    with pytest.raises(AnalysisError, match="no G-code commands"):
        analyze(path)


def test_a_long_line(tmp_path: Path) -> None:
    path = tmp_path / "long.gcode"
    path.write_bytes(b"G1 X1 Y1\n" + b"X" * (MAX_LINE_BYTES + 10) + b"\nG1 X2\n")
    with pytest.raises(AnalysisError, match="line 2 is longer than 256 KiB"):
        analyze(path)


def test_a_5_gb_line_through_a_pipe(tmp_path: Path) -> None:
    """A 5 GB line without a line end, produced lazily: reading stops at the limit."""
    fifo = tmp_path / "endless.gcode"
    os.mkfifo(fifo)
    written = 0
    block = b"G" * (1 << 20)

    def feed() -> None:
        nonlocal written
        try:
            with fifo.open("wb") as out:
                while written < FIVE_GB:
                    out.write(block)
                    written += len(block)
        except (BrokenPipeError, OSError):
            pass  # the reader gave up, as it should

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(AnalysisError, match="line 1 is longer than"):
            analyze(fifo)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert time.monotonic() - started < 5
    assert written < 64 * (1 << 20)
    assert peak < 16 * 1024 * 1024


def _five_gb_of_holes(path: Path) -> threading.Thread | None:
    """One G-code line and then 5 GB of zero bytes: a sparse file where the file system
    makes them, else the same bytes produced lazily through a pipe (so no file system
    has to hold 5 GB for this test)."""
    head = b"G1 X10 Y10 F1200\nG1 X20 "
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(FIVE_GB)
    if path.stat().st_blocks * 512 <= 64 * 1024**2:
        return None
    path.unlink()
    os.mkfifo(path)

    def feed() -> None:
        zeros = bytes(1 << 20)
        sent = len(head)
        try:
            with path.open("wb") as out:
                out.write(head)
                while sent < FIVE_GB:
                    out.write(zeros)
                    sent += len(zeros)
        except OSError:
            pass  # the reader gave up, as it should

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    return writer


def test_a_5_gb_file_of_holes(tmp_path: Path) -> None:
    """A 5 GB file that is one G-code line and then a hole: refused after one chunk."""
    path = tmp_path / "huge.gcode"
    writer = _five_gb_of_holes(path)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(AnalysisError, match="line 2 holds binary data"):
            analyze(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if writer is not None:
        writer.join(timeout=10)
        assert not writer.is_alive()
    assert time.monotonic() - started < 5
    assert peak < 16 * 1024 * 1024


@pytest.mark.parametrize(
    "line", ["G1 XNaN Y10 E1", "G1 Xinf Y10", "G1 X-INFINITY", "g1 y nan", "G1 X10 Fnan"]
)
def test_nan_and_infinity_are_ignored_with_a_warning(tmp_path: Path, line: str) -> None:
    a = run(tmp_path, f"M83\nG1 X5 Y5 E1 F600\n{line}\nG1 X20 Y20 E1\n")
    assert a.counts["nonfinite_values"] == 1
    assert any("not a finite number" in w for w in a.warnings)
    assert a.bounds is not None
    assert a.bounds.max_x == pytest.approx(20.0)
    assert a.material["filament_mm"] == pytest.approx(2.0)
    assert a.duration_s is not None and 0 < a.duration_s < 10


def test_zero_radius_arc(tmp_path: Path) -> None:
    a = run(tmp_path, "M83\nG1 X10 Y10 F1200\nG2 X10 Y10 R0 E1\nG3 X20 Y10 I0 J0 E1\n")
    assert a.counts["arcs"] == 2
    assert any("zero radius" in w for w in a.warnings)
    assert a.duration_s is not None and a.duration_s < 5


def test_absurd_arc_does_not_hang(tmp_path: Path) -> None:
    started = time.monotonic()
    a = run(tmp_path, "G1 X10 Y10 F6000\nG2 X10 Y10 I-100000 J0 P100000000\n")
    assert time.monotonic() - started < 10
    assert a.counts["arc_segments"] <= 100_000


def arc_bomb(tmp_path: Path, circles: int = 200) -> Path:
    """Full circles of a kilometre's radius: 100,000 segments each, ~34 bytes a line."""
    lines = ["M83", "G1 X10 Y10 F6000"]
    lines += [f"G2 X10 Y10 I-{900_000 + k} J0 E0.1" for k in range(circles)]
    path = tmp_path / "arcs.gcode"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_arc_bomb_is_refused_early(tmp_path: Path) -> None:
    path = arc_bomb(tmp_path)
    assert path.stat().st_size < 8_000
    started = time.process_time()
    with pytest.raises(FileRejected, match=r"line \d+: this file's arcs \(G2/G3\) need more"):
        analyze(path)
    # Before the budget it took 70 s of CPU; now the refusal comes within the first arcs.
    assert time.process_time() - started < 5.0


def test_arc_bomb_preview_is_refused_too(tmp_path: Path) -> None:
    from jobs.gcode.render import top_view
    from jobs.params.printer import PrinterParams

    path = arc_bomb(tmp_path)
    fake = run(tmp_path, "M83\nG1 X10 Y10 E1 F600\n")
    started = time.process_time()
    with pytest.raises(FileRejected, match="arcs"):
        top_view(path, PrinterParams(), fake)
    assert time.process_time() - started < 5.0


def test_arc_budget_grows_with_the_file() -> None:
    assert arc_budget(100) == ARC_SEGMENTS_MIN
    assert arc_budget(10_000_000) == 10_000_000 * ARC_SEGMENTS_PER_BYTE


def test_a_few_large_arcs_stay_within_the_budget(tmp_path: Path) -> None:
    # Two of the largest arcs a file may hold (100,000 segments each) are still drawn.
    a = analyze(arc_bomb(tmp_path, circles=2))
    assert a.counts["arc_segments"] == 200_000


def test_preview_of_a_file_without_extrusion(tmp_path: Path) -> None:
    path = gcode_file(tmp_path, "G28\nG1 X10 Y10 F600\n")
    a = analyze(path)
    assert any("extrudes nothing" in w for w in a.warnings)
    assert preview(path, None, a) is None


def test_adversarial_repetition_keeps_memory_bounded(tmp_path: Path) -> None:
    """Millions of distinct unknown commands, tools, NaNs or thumbnail headers must not
    grow any table: they are counted, not remembered one by one."""
    lines = []
    for i in range(20000):
        lines += [f"M{1000 + i} S1", f"FOO{i}", f"T{1000 + i}", f"G1 X{i % 50} Ynan"]
        lines += [f"; thumbnail begin {i}", f"M104 T{5000 + i} S200"]
    a = analyze(gcode_file(tmp_path, "\n".join(lines) + "\nG1 X1 E1 F600\n"))
    assert a.counts["unknown_commands"] == 40000
    assert a.counts["nonfinite_values"] == 20000
    assert len(a.warnings) <= 31
    assert len(a.details["thumbnails"]) == 0
    assert len(a.details["filament_mm_per_tool"]) == 1


def test_utf16_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notepad.gcode"
    path.write_bytes("G1 X10 Y10\n".encode("utf-16"))
    with pytest.raises(AnalysisError, match="UTF-16"):
        analyze(path)


def test_classic_mac_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "cr.gcode"
    path.write_bytes(b"M83\rG1 X10 Y10 E1 F1200\rG1 X20 E1\r" * 20000)
    a = analyze(path)
    assert a.counts["lines"] == 60000
    assert a.material["filament_mm"] == pytest.approx(40000.0)
