"""The machine's own file: placed in its hoop, encoded from the profile, read back and
compared; each known pyembroidery writer defect is guarded, and each guard tested."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyembroidery
import pytest

from jobs.base import FileRejected
from jobs.embroidery.figures import PALETTE, compute
from jobs.embroidery.read import Design, read_design
from jobs.embroidery.write import compare, design_label, write_native
from jobs.params.embroidery import EmbroideryParams, Hoop
from jobs.registry import analyze, convert, file_type_of
from tests.support.embroidery import CAT, COLOR_CHANGE, EMM, END, JUMP, STITCH, STOP, TRIM, design

BIG = [
    Hoop(name="200", width_mm=200, height_mm=200),
    Hoop(name="260x400", width_mm=260, height_mm=400),
]
NATIVE = ["pes", "dst", "jef", "exp", "vp3", "xxx", "u01", "tbf", "pec"]


def params(fmt: str, **kw: object) -> EmbroideryParams:
    return EmbroideryParams(native_format=fmt, hoops=BIG, **kw)  # type: ignore[arg-type]


def stitch_box(d: Design) -> tuple[int, float, float, float, float]:
    s = d.commands == STITCH
    return (
        int(s.sum()),
        *(float(v) / 10 for v in (d.x[s].min(), d.y[s].min(), d.x[s].max(), d.y[s].max())),
    )


SOURCES = [
    EMM / "Star.DST",
    EMM / "Star.pes",
    EMM / "Star.JEF",
    EMM / "Star.EXP",
    EMM / "Star.XXX",
    EMM / "Star.PCS",
    EMM / "Star.HUS",
    EMM / "Star.u01",
    EMM / "Embroidermodder.DST",
    CAT / "Cake_3.dst",
    CAT / "Cake_3.pes",
    CAT / "Cake_3.vp3",
    CAT / "Reduced_colours.jef",
]


@pytest.mark.parametrize("fmt", NATIVE)
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_round_trip_keeps_the_stitches(tmp_path: Path, source: Path, fmt: str) -> None:
    """source → native → read back: count within 1 %, box within 0.2 mm, centred."""
    before = read_design(source, file_type_of(source.name))
    artifact = write_native(before, params(fmt), tmp_path)
    after = read_design(artifact.path, fmt)
    n0, x0, y0, x1, y1 = stitch_box(before)
    n1, a0, b0, a1, b1 = stitch_box(after)
    assert abs(n1 - n0) <= 0.01 * n0
    assert abs((a1 - a0) - (x1 - x0)) <= 0.2 and abs((b1 - b0) - (y1 - y0)) <= 0.2
    # Centred on the hoop's centre (the origin), to the rounding of one unit.
    assert abs(a0 + a1) <= 0.2 and abs(b0 + b1) <= 0.2
    assert artifact.details["read_back"]["drift_mm"] <= 0.2
    assert (
        compute(after, EmbroideryParams()).colour_changes
        <= compute(before, EmbroideryParams()).colour_changes
    )


def test_conversion_is_deterministic(tmp_path: Path) -> None:
    """A resumed job finds the same bytes on the stick (JEF's date comes from the file)."""
    digests = set()
    for k in range(2):
        a = convert(CAT / "Cake_3.dst", "dst", params("jef"), tmp_path / str(k))
        assert a is not None
        digests.add(hashlib.sha256(a.path.read_bytes()).hexdigest())
    assert len(digests) == 1


# --- the writer defects ----------------------------------------------------------------


def test_pes_non_ascii_name_breaks_pyembroidery(tmp_path: Path) -> None:
    """The defect itself (pyembroidery 1.5.1): if this starts failing, it was fixed."""
    p = pyembroidery.read(str(CAT / "Cake_3.pes"))
    p.metadata("name", "Crêperie Élodie")
    pyembroidery.write_pes(p, str(tmp_path / "bad.pes"))
    back = pyembroidery.read(str(tmp_path / "bad.pes"))
    assert back.count_color_changes() != 18


def test_pes_names_are_sanitised(tmp_path: Path) -> None:
    d = read_design(CAT / "Cake_3.pes", "pes")
    d.name = "Crêperie Élodie"
    artifact = write_native(d, params("pes"), tmp_path)
    assert artifact.details["label"] == "Creperie"
    back = pyembroidery.read(str(artifact.path))
    assert back.count_color_changes() == 18
    assert back.get_metadata("Name") == "Creperie"  # the PEC label


@pytest.mark.parametrize(
    ("name", "limit", "label"),
    [
        ("Crêperie Élodie", 8, "Creperie"),
        ("Boulangerie du Coin", 16, "BoulangerieduCoi"),
        ("日本", 8, "DESIGN"),
        (None, 8, "DESIGN"),
        ("a/b\\c:d", 8, "abcd"),
    ],
)
def test_design_label(name, limit, label) -> None:
    assert design_label(name, limit) == label


def test_extended_dst_header_overflows_in_pyembroidery(tmp_path: Path) -> None:
    """The defect: 19 colours push the header past 512 bytes; phantom stitches follow."""
    p = pyembroidery.read(str(CAT / "Cake_3.pes"))
    pyembroidery.write_dst(p, str(tmp_path / "ext.dst"), {"version": "extended"})
    back = pyembroidery.read(str(tmp_path / "ext.dst"))
    assert back.count_stitch_commands(pyembroidery.STITCH) != p.count_stitch_commands(
        pyembroidery.STITCH
    )


def test_extended_dst_header_only_when_it_fits(tmp_path: Path) -> None:
    many = write_native(
        read_design(CAT / "Cake_3.pes", "pes"),
        params("dst", format_version="extended"),
        tmp_path / "a",
    )
    assert many.details["format_version"] == "default"
    assert "do not fit the extended DST header" in many.details["notes"][0]
    assert many.path.read_bytes().index(b"\x1a") < 512
    few = write_native(
        read_design(EMM / "Star.pes", "pes"),
        params("dst", format_version="extended"),
        tmp_path / "b",
    )
    assert few.details["format_version"] == "extended"
    assert b"TC:" in few.path.read_bytes()[:512]


def test_dst_stops_count_as_colour_changes_in_its_header(tmp_path: Path) -> None:
    d = design(
        [
            *((i * 2.0, 0.0, STITCH) for i in range(20)),
            (38, 0, STOP),
            *((i * 2.0, 5.0, STITCH) for i in range(20)),
        ]
    )
    artifact = write_native(d, params("dst"), tmp_path)
    header = artifact.path.read_bytes()[:512]
    assert b"CO:  1" in header  # pyembroidery alone writes CO:  0 (inkstitch#2162)


def test_vp3_drift_stays_under_the_tolerance(tmp_path: Path) -> None:
    artifact = write_native(read_design(EMM / "Star.PCS", "pcs"), params("vp3"), tmp_path)
    assert 0 < artifact.details["read_back"]["drift_mm"] <= 0.2  # VP3 truncates, it drifts


def test_vp3_keeps_the_jump_before_a_colour_change(tmp_path: Path) -> None:
    """Star.XXX jumps, then changes colour: pyembroidery's VP3 writer lost the jump and
    shifted the whole second block by 1.3 mm until the change was moved first."""
    artifact = write_native(read_design(EMM / "Star.XXX", "xxx"), params("vp3"), tmp_path)
    assert artifact.details["read_back"]["drift_mm"] == 0.0


def test_colourless_sources_get_the_palette(tmp_path: Path) -> None:
    artifact = write_native(read_design(CAT / "Cake_3.dst", "dst"), params("pes"), tmp_path)
    back = pyembroidery.read(str(artifact.path))
    assert [b["colour"] for b in artifact.details["blocks"][:3]] == [c for c, _ in PALETTE[:3]]
    assert back.count_color_changes() == 18


def test_pec_merges_two_blocks_of_the_same_colour(tmp_path: Path) -> None:
    """Cake_3.hus has two consecutive blocks of the same thread: PEC keeps one change
    per change of colour, the comparison allows exactly that."""
    artifact = write_native(read_design(CAT / "Cake_3.hus", "hus"), params("pes"), tmp_path)
    assert compute(read_design(artifact.path, "pes"), EmbroideryParams()).colour_changes == 17


def test_a_file_that_does_not_read_back_is_refused() -> None:
    d = read_design(EMM / "Star.DST", "dst")
    shifted = Design(file_type="pes", x=d.x * 1.01, y=d.y, cmd=d.cmd)
    with pytest.raises(FileRejected, match=r"does not read back as the design.*outline moved"):
        compare(d, shifted, "pes", params("pes"))
    fewer = Design(file_type="pes", x=d.x[:-100], y=d.y[:-100], cmd=d.cmd[:-100])
    with pytest.raises(FileRejected, match="stitches instead of"):
        compare(d, fewer, "pes", params("pes"))
    merged = d.cmd.copy()
    merged[(merged & 0xFF) == COLOR_CHANGE] = STITCH
    with pytest.raises(FileRejected, match="colour blocks instead of"):
        compare(d, Design(file_type="dst", x=d.x, y=d.y, cmd=merged), "dst", params("dst"))


def test_a_file_that_loses_trims_is_refused() -> None:
    d = read_design(CAT / "Cake_3.dst", "dst")
    untrimmed = d.cmd.copy()
    untrimmed[(untrimmed & 0xFF) == TRIM] = JUMP
    assert compare(d, d, "jef", params("jef"))["trims"] == 25
    with pytest.raises(FileRejected, match="0 trims instead of 25"):
        compare(d, Design(file_type="jef", x=d.x, y=d.y, cmd=untrimmed), "jef", params("jef"))
    # A JEF the profile wants without trims is what it asked for.
    assert compare(d, Design("jef", d.x, d.y, untrimmed), "jef", params("jef", write_trims=False))


def trimmed_squares() -> Design:
    """Four 9 × 3 mm blocks, each trimmed then joined by a 3 mm jump (too short for
    pyembroidery's distance rule to see a trim there)."""
    records: list[tuple[float, float, int]] = []
    x = 0.0
    for block in range(4):
        records += [(x + k % 10, float(k // 10), STITCH) for k in range(40)]
        if block < 3:
            records.append((x + 9, 3.0, TRIM))
            x += 12
            records.append((x, 0.0, JUMP))
    return design([*records, (x, 0.0, END)], ["#ff0000"])


@pytest.mark.parametrize("fmt", ["jef", "dst", "pes", "exp"])
def test_our_own_files_keep_their_trims(tmp_path: Path, fmt: str) -> None:
    """The same design in every format: 3 trims, 30 s of trimming (JEF read 0 and 0 s)."""
    p = params(fmt)
    artifact = write_native(trimmed_squares(), p, tmp_path)
    assert artifact.details["read_back"]["trims"] == 3
    analysis = analyze(artifact.path, fmt, p)
    assert analysis.counts["trims"] == 3
    assert analysis.details["time_s"]["trims"] == 3 * p.trim_s


@pytest.mark.parametrize(
    "source", [CAT / "Cake_3.dst", CAT / "Cake_3.pes", EMM / "Embroidermodder.DST"]
)
def test_corpus_designs_keep_their_trims_in_jef(tmp_path: Path, source: Path) -> None:
    p = params("jef")
    before = analyze(source, file_type_of(source.name), p)
    artifact = convert(source, file_type_of(source.name), p, tmp_path)
    assert artifact.details["read_back"]["trims"] == before.counts["trims"] > 0
    after = analyze(artifact.path, "jef", p)
    assert after.counts["trims"] == before.counts["trims"]
    assert after.details["time_s"]["trims"] == before.details["time_s"]["trims"]


def test_the_corpus_jef_reads_the_trims_of_its_pes() -> None:
    """Cake 3's JEF and PES (the same digitizer's export) agree: 24 trims."""
    assert analyze(CAT / "Cake_3.jef", "jef").counts["trims"] == 24
    assert analyze(CAT / "Cake_3.pes", "pes").counts["trims"] == 24


# --- placement and encoder settings -----------------------------------------------------


def test_turned_only_when_the_profile_allows(tmp_path: Path) -> None:
    logo = read_design(EMM / "Embroidermodder.DST", "dst")  # 222.5 × 51.4
    hoops = [Hoop(name="6x10", width_mm=160, height_mm=260)]
    with pytest.raises(FileRejected, match="only turned by 90°"):
        write_native(logo, EmbroideryParams(hoops=hoops), tmp_path / "a")
    artifact = write_native(logo, EmbroideryParams(hoops=hoops, rotate_to_fit=True), tmp_path / "b")
    assert artifact.details["rotated"] is True
    _, x0, y0, x1, y1 = stitch_box(read_design(artifact.path, "pes"))
    assert (x1 - x0, y1 - y0) == pytest.approx((51.4, 222.5), abs=0.15)


def test_no_hoop_fits(tmp_path: Path) -> None:
    small = EmbroideryParams(hoops=[Hoop(name="4x4", width_mm=100, height_mm=100)])
    with pytest.raises(FileRejected, match=r"fits no hoop.*39\.9 mm too tall"):
        write_native(read_design(CAT / "Cake_3.dst", "dst"), small, tmp_path)


def test_max_stitch_from_the_profile_splits_long_stitches(tmp_path: Path) -> None:
    d = design([(0, 0, STITCH), (9, 0, STITCH), (18, 0, STITCH), (18, 9, STITCH)])
    artifact = write_native(d, params("jef", max_stitch_mm=5.0), tmp_path)
    back = compute(read_design(artifact.path, "jef"), EmbroideryParams(max_stitch_mm=5.0))
    assert back.over_max_stitch == 0  # each 9 mm stitch became jumps and a stitch
    assert back.jumps >= 3


def test_jef_trims_are_written_when_the_profile_says(tmp_path: Path) -> None:
    src = read_design(CAT / "Cake_3.pes", "pes")
    with_trims = write_native(src, params("jef", write_trims=True), tmp_path / "a")
    without = write_native(src, params("jef", write_trims=False), tmp_path / "b")

    def trims(path: Path) -> int:
        # pyembroidery writes a JEF trim as three jumps of length zero.
        return path.read_bytes().count(b"\x80\x02\x00\x00" * 3)

    assert trims(with_trims.path) >= 20
    assert trims(without.path) == 0


def test_tie_on_and_off_add_lock_stitches(tmp_path: Path) -> None:
    src = read_design(CAT / "Cake_3.pes", "pes")
    plain = write_native(src, params("dst"), tmp_path / "a")
    tied = write_native(src, params("dst", tie_on=True, tie_off=True), tmp_path / "b")
    assert tied.details["stitches"] > plain.details["stitches"] + 100


def test_bernina_gets_its_inf_colour_file(tmp_path: Path) -> None:
    artifact = write_native(
        read_design(CAT / "Cake_3.pes", "pes"), params("exp", side_files=["inf"]), tmp_path
    )
    inf = tmp_path / artifact.details["side_files"][0]
    assert inf.name == "cake3.inf" and inf.is_file()
    colours = pyembroidery.read(str(inf))
    assert colours.count_threads() == 19


def test_what_the_operator_must_know_about_a_dst(tmp_path: Path) -> None:
    artifact = write_native(read_design(CAT / "Cake_3.pes", "pes"), params("dst"), tmp_path)
    notes = " ".join(artifact.details["notes"])
    assert "carries no colours" in notes
    assert "trim after 3 jumps" in notes
    pes = write_native(read_design(CAT / "Cake_3.pes", "pes"), params("pes"), tmp_path / "p")
    assert pes.details["notes"] == []
