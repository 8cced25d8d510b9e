"""Reading stitch files without trusting them: every corpus file, cut files, garbage,
absurd headers, empty and huge files. Clear errors or figures; never a crash or a hang."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest

from jobs.base import AnalysisError
from jobs.embroidery.formats import READABLE
from jobs.embroidery.read import WorkerLimits, read_design
from jobs.registry import ANALYZERS, analyze, file_type_of
from tests.support.embroidery import CAT, EMM, corpus_files, synthetic_dst
from tests.support.factories import REPO

UNREADABLE = {"Star.VIP", "Star.CSD", "Embroidermodder.CSD"}
"""Formats pyembroidery has no reader for (it returns None)."""


def accepted_message(text: str) -> None:
    assert "Formats accepted: DST, PES, JEF, EXP, VP3" in text


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_corpus_file_is_analysed_or_rejected_clearly(path: Path) -> None:
    file_type = file_type_of(path.name)
    if path.name in UNREADABLE:
        assert file_type not in ANALYZERS  # the API answers 415 with the accepted list
        with pytest.raises(AnalysisError) as err:
            read_design(path, file_type)
        assert "cannot be read here; ask for" in str(err.value)
        accepted_message(str(err.value))
        return
    analysis = analyze(path, file_type)
    assert analysis.analyzer == "embroidery"
    assert analysis.counts["stitches"] > 0
    assert analysis.duration_s is not None and analysis.duration_s > 0
    assert analysis.material["thread_m"] > 0 and analysis.material["bobbin_m"] > 0
    assert analysis.bounds is not None
    w, h, _ = analysis.bounds.size
    assert 3 < w < 300 and 3 < h < 300
    assert analysis.details["blocks"], "an operator sheet needs the colour blocks"


def test_every_readable_format_is_registered() -> None:
    for file_type in READABLE:
        assert ANALYZERS[file_type].kind.value == "embroidery"
    assert ANALYZERS["gcode"].kind.value == "fdm_printer"  # pyembroidery's gcode is not ours


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "logo.pes"
    path.write_bytes(b"")
    with pytest.raises(AnalysisError, match=r"is empty \(0 bytes\)") as err:
        read_design(path, "pes")
    accepted_message(str(err.value))


CUTS = [
    # (file, fraction kept): each reader meets the end of its data differently.
    (CAT / "Cake_3.dst", 0.5),
    (CAT / "Cake_3.dst", 0.97),
    (CAT / "Cake_3.pes", 0.5),
    (CAT / "Cake_3.pes", 0.9),
    (CAT / "Cake_3.jef", 0.5),
    (CAT / "Cake_3.jef", 0.9),
    (CAT / "Cake_3.vp3", 0.9),
    (CAT / "Cake_3.hus", 0.9),
    (EMM / "Star.XXX", 0.5),
    (EMM / "Star.u01", 0.5),
    (EMM / "STAR.TBF", 0.5),
    (EMM / "Embroidermodder.PEC", 0.5),
]


@pytest.mark.parametrize(("source", "keep"), CUTS, ids=lambda v: getattr(v, "name", str(v)))
def test_cut_files_are_refused(tmp_path: Path, source: Path, keep: float) -> None:
    data = source.read_bytes()
    # Cut mid-record (an odd length) as a failed download would.
    cut = tmp_path / source.name
    cut.write_bytes(data[: int(len(data) * keep) | 1])
    with pytest.raises(AnalysisError) as err:
        read_design(cut, file_type_of(source.name))
    text = str(err.value)
    assert "cut short" in text or "could not be read" in text
    accepted_message(text)


def test_an_exp_cut_between_records_reads_as_a_smaller_design(tmp_path: Path) -> None:
    """EXP has no header and no end mark: a cut on a record boundary cannot be told from
    a smaller design. Documented; the figures are those of what is there."""
    data = (CAT / "Cake_3.exp").read_bytes()
    cut = tmp_path / "cake.exp"
    cut.write_bytes(data[: len(data) // 4 * 2])
    d = read_design(cut, "exp")
    assert 5000 < int((d.commands == 0).sum()) < 9000


@pytest.mark.parametrize(
    "file_type",
    ["dst", "exp", "pes", "jef", "vp3", "xxx", "u01", "10o", "tbf", "hus", "pec", "sew", "pcs"],
)
def test_random_bytes_are_not_a_design(tmp_path: Path, file_type: str) -> None:
    path = tmp_path / f"noise.{file_type}"
    # Random bytes, even behind a plausible DST start.
    path.write_bytes((b"LA:noise" if file_type == "dst" else b"") + os.urandom(5000))
    with pytest.raises(AnalysisError) as err:
        read_design(path, file_type)
    accepted_message(str(err.value))


def patch_header(tmp_path: Path, field: bytes, value: bytes) -> Path:
    data = bytearray((EMM / "Star.DST").read_bytes())
    at = data.index(field) + len(field)
    end = data.index(b"\r", at)
    data[at:end] = value.rjust(end - at)[: end - at]
    path = tmp_path / "star.dst"
    path.write_bytes(bytes(data))
    return path


def test_dst_without_its_header_is_refused(tmp_path: Path) -> None:
    data = (EMM / "Star.DST").read_bytes()
    path = tmp_path / "star.dst"
    path.write_bytes(data[512:])
    with pytest.raises(AnalysisError, match="has no Tajima header"):
        read_design(path, "dst")


def test_absurd_dst_stitch_count_is_a_warning(tmp_path: Path) -> None:
    d = read_design(patch_header(tmp_path, b"ST:", b"9999999"), "dst")
    assert int((d.commands == 0).sum()) == 2550  # the records are used
    assert any("announces 9999999 records" in w for w in d.warnings)


def test_absurd_dst_extents_are_a_warning(tmp_path: Path) -> None:
    d = read_design(patch_header(tmp_path, b"+X:", b"99999"), "dst")
    assert any("header's extents" in w and "disagree" in w for w in d.warnings)


def test_garbled_dst_count_is_a_warning(tmp_path: Path) -> None:
    d = read_design(patch_header(tmp_path, b"ST:", b"#%&!"), "dst")
    assert any("(ST) is missing or unreadable" in w for w in d.warnings)


def test_data_after_the_end_mark_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "joined.dst"
    path.write_bytes((EMM / "Star.DST").read_bytes() + os.urandom(3000))
    with pytest.raises(AnalysisError, match="stops making sense at byte"):
        read_design(path, "dst")


def test_padding_after_the_end_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "padded.dst"
    path.write_bytes((EMM / "Star.DST").read_bytes() + b"\x1a" + b"\x00" * 300)
    assert int((read_design(path, "dst").commands == 0).sum()) == 2550


def test_a_file_too_big_to_be_a_design(tmp_path: Path) -> None:
    path = tmp_path / "huge.dst"
    with path.open("wb") as fh:
        fh.truncate(40 * 1024 * 1024)
    with pytest.raises(AnalysisError, match="is 42 MB"):
        read_design(path, "dst")


def test_the_worker_has_a_time_limit(tmp_path: Path) -> None:
    """Killed, not waited for: the answer comes at the limit (a worker needs 0.3 s here)."""
    path = synthetic_dst(tmp_path / "big.dst", 2_000_000)
    started = time.monotonic()
    with pytest.raises(AnalysisError, match="could not be read in time"):
        read_design(path, "dst", limits=WorkerLimits(seconds=0.05))
    assert time.monotonic() - started < 5.0  # a guard against a hang


def test_the_worker_has_a_memory_limit(tmp_path: Path) -> None:
    path = synthetic_dst(tmp_path / "big.dst", 1_000_000)
    with pytest.raises(AnalysisError, match="too large to read safely"):
        read_design(path, "dst", limits=WorkerLimits(memory_mb=120))


def zeros(path: Path, megabytes: float) -> Path:
    with path.open("wb") as fh:
        fh.truncate(int(megabytes * 1024 * 1024))
    return path


def analysis_peak(path: Path, match: str) -> tuple[int, str]:
    """(this process' peak traced memory, the refusal) while ``path`` is analysed."""
    tracemalloc.start()
    try:
        with pytest.raises(AnalysisError, match=match) as err:
            analyze(path, file_type_of(path.name))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, str(err.value)


def test_twenty_megabytes_of_zeros_named_exp_cost_the_server_nothing(tmp_path: Path) -> None:
    """Read as EXP, zeros are ten million stitches (the server grew by 1.5 GB taking them
    back from the worker). Every EXP record takes at most 4 bytes: the size says it."""
    started = time.monotonic()
    peak, error = analysis_peak(
        zeros(tmp_path / "zeros.exp", 20), r"makes at least 5,242,880 records, more than"
    )
    assert "Melco/Bernina EXP" in error
    assert peak < 1024 * 1024
    assert time.monotonic() - started < 1.0  # no worker was started


@pytest.mark.slow
def test_zeros_past_the_size_check_stop_at_the_budget_inside_the_worker(tmp_path: Path) -> None:
    """Under the size check (2.5 million records at most from 9 MB of EXP, at least 2.4)
    the worker counts while it reads and stops at the budget: nothing comes back."""
    peak, _ = analysis_peak(
        zeros(tmp_path / "zeros.exp", 9.5), r"makes more than 2,500,000 records"
    )
    assert peak < 8 * 1024 * 1024


@pytest.mark.parametrize("name", ["Cake_3.pes", "Cake_3.dst", "Cake_3.jef"])
def test_the_record_budget_is_counted_while_reading(name: str) -> None:
    path = CAT / name
    assert len(read_design(path, file_type_of(name))) > 1000  # fine within the default
    with pytest.raises(AnalysisError, match=r"makes more than 1,000 records"):
        read_design(path, file_type_of(name), limits=WorkerLimits(max_records=1000))


@pytest.mark.slow
def test_two_million_stitches_give_figures_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """The analysis runs in a fresh process here so its own peak memory (VmHWM) can be
    read; the worker reports its own."""
    path = synthetic_dst(tmp_path / "huge.dst", 2_000_000)
    script = textwrap.dedent(
        f"""
        import json, time
        from pathlib import Path
        from jobs.embroidery.read import worker_peak_mb
        from jobs.embroidery.worker import peak_mb
        from jobs.registry import analyze
        from jobs.params.embroidery import EmbroideryParams
        t = time.monotonic()
        a = analyze(Path({str(path)!r}), "dst", EmbroideryParams())
        print(json.dumps({{
            "seconds": time.monotonic() - t,
            "stitches": a.counts["stitches"],
            "problems": EmbroideryParams().fit_problems(a),
            "self_mb": peak_mb(),
            "worker_mb": worker_peak_mb(),
        }}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    import json

    result = json.loads(out.stdout)
    assert result["stitches"] == 2_000_000
    assert any("more than the 500,000" in p for p in result["problems"])
    assert result["seconds"] < 60
    assert result["self_mb"] < 400
    assert result["worker_mb"] < WorkerLimits().memory_mb
