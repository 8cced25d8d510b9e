"""Figures of a design, on hand-built designs (tables of numbers) and corpus files."""

from __future__ import annotations

import pytest

from jobs.embroidery.figures import PALETTE, block_spans, compute
from jobs.embroidery.read import read_design
from jobs.params.embroidery import EmbroideryParams
from tests.support.embroidery import (
    CAT,
    COLOR_CHANGE,
    EMM,
    END,
    JUMP,
    STITCH,
    STOP,
    TRIM,
    design,
)

P = EmbroideryParams()


def line(
    n: int, step: float = 2.0, x0: float = 0.0, y: float = 0.0
) -> list[tuple[float, float, int]]:
    return [(x0 + i * step, y, STITCH) for i in range(n)]


def test_stitches_are_needle_drops_not_records() -> None:
    d = design(
        [(0, 0, JUMP), *line(10), (18, 0, TRIM), (50, 0, JUMP), *line(5, x0=50), (58, 0, END)]
    )
    f = compute(d, P)
    assert f.records == 19
    assert f.stitches == 15
    assert (f.jumps, f.trims) == (2, 1)


def test_extents_are_those_of_the_needle_drops() -> None:
    # A jump far outside (a frame-out move) does not make the design larger.
    d = design([*line(11, step=1.0), (200, 200, JUMP), (10, 5, JUMP), *line(11, step=1.0, y=5)])
    f = compute(d, P)
    assert f.extents_mm == pytest.approx((0, 0, 10, 5))
    assert f.size_mm == pytest.approx((10, 5))


def test_landing_after_a_trim_is_a_move_not_a_stitch() -> None:
    # VP3 and PCS readers report the move after a trim as a long STITCH.
    d = design([*line(5), (8, 0, TRIM), (80, 0, STITCH), *line(5, x0=82)])
    f = compute(d, P)
    assert f.longest_stitch_mm == pytest.approx(2.0)
    assert f.longest_jump_mm == pytest.approx(72.0)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([(0, 0, STITCH), (1, 0, STITCH)], [(0, 2, 0)]),
        ([(0, 0, STITCH), (0, 0, COLOR_CHANGE), (1, 0, STITCH)], [(0, 2, 0), (2, 3, 1)]),
        # A leading colour change makes an empty first block (pyembroidery numbers it).
        ([(0, 0, COLOR_CHANGE), (1, 0, STITCH)], [(0, 1, 0), (1, 2, 1)]),
        ([(0, 0, STITCH), (0, 0, COLOR_CHANGE)], [(0, 2, 0)]),
    ],
)
def test_block_spans_number_threads_like_pyembroidery(records, expected) -> None:
    assert block_spans(design(records).commands) == expected


def test_a_trailing_colour_change_is_no_change() -> None:
    d = design([*line(10), (18, 0, COLOR_CHANGE), (18, 0, END)], threads=["#ff0000", "#ff0000"])
    f = compute(d, P)
    assert f.colour_changes == 0
    assert len(f.blocks) == 1


def test_stops_inside_count_trailing_ones_do_not() -> None:
    d = design([*line(5), (8, 0, STOP), *line(5, x0=10), (18, 0, STOP), (18, 0, END)])
    f = compute(d, P)
    assert f.stops == 1
    assert f.time_s["stops"] == pytest.approx(P.stop_s)


def test_colourless_files_get_the_palette_in_turn() -> None:
    d = design(
        [*line(3), (4, 0, COLOR_CHANGE), *line(3, x0=10), (14, 0, COLOR_CHANGE), *line(3, x0=20)]
    )
    f = compute(d, P)
    assert [b.thread.colour for b in f.blocks] == [c for c, _ in PALETTE[:3]]
    assert all(b.thread.assigned for b in f.blocks)


# --- time -----------------------------------------------------------------------------


def three_blocks(colours: list[str]) -> list[tuple[float, float, int]]:
    recs: list[tuple[float, float, int]] = []
    for k in range(len(colours)):
        recs += line(700, step=1.0, y=k * 10)
        recs.append((699, k * 10, TRIM))
        if k < len(colours) - 1:
            recs.append((699, k * 10, COLOR_CHANGE))
    return recs


@pytest.mark.parametrize(
    ("needles", "colours", "stitching", "changes", "manual"),
    [
        # 2,100 stitches at 700 spm = 3 min; 3 trims × 10 s; 2 changes.
        (1, ["#ff0000", "#00ff00", "#0000ff"], 180.0, 2 * 60.0, 2),  # single needle: by hand
        (6, ["#ff0000", "#00ff00", "#0000ff"], 180.0, 2 * 10.0, 0),  # automatic
        (2, ["#ff0000", "#00ff00", "#0000ff"], 180.0, 10.0 + 60.0, 1),  # 3rd colour by hand
        (1, ["#ff0000", "#ff0000", "#0000ff"], 180.0, 20.0 + 60.0, 1),  # same colour: a stop
    ],
)
def test_time_model(needles, colours, stitching, changes, manual) -> None:
    params = EmbroideryParams(needles=needles)
    f = compute(design(three_blocks(colours), threads=colours), params)
    assert f.stitches == 2100
    assert f.time_s["stitching"] == pytest.approx(stitching)
    assert f.time_s["trims"] == pytest.approx(3 * 10.0)
    assert f.time_s["colour_changes"] == pytest.approx(changes)
    assert f.time_s["hooping"] == pytest.approx(90.0)
    assert f.manual_changes == manual
    assert f.duration_s == pytest.approx(stitching + 30 + changes + 90)
    assert sum(b.seconds for b in f.blocks) == pytest.approx(f.duration_s - 90)


def test_long_stitches_run_at_the_slow_speed() -> None:
    d = design(line(61, step=8.0))  # 60 stitches of 8 mm > 7 mm
    f = compute(d, EmbroideryParams(spm=600, slow_spm=300, hooping_s=0))
    assert f.long_stitches == 60
    assert f.time_s["stitching"] == pytest.approx(1 * 60 / 600 + 60 * 60 / 300)


# --- thread ---------------------------------------------------------------------------


def test_thread_follows_the_trade_rule_for_ordinary_stitches() -> None:
    f = compute(design(line(1000, step=2.0)), P)
    assert f.thread_rule_m == pytest.approx(5.0)
    assert f.thread_path_m == pytest.approx(2 * 1.998)  # 999 × 2 mm × take-up 2
    assert f.thread_m == pytest.approx(5.0)
    assert f.bobbin_m == pytest.approx(3.0)


def test_thread_follows_the_path_for_long_stitches() -> None:
    f = compute(design(line(1001, step=6.0)), P)
    assert f.thread_rule_m == pytest.approx(5.005)
    assert f.thread_m == pytest.approx(12.0)  # 1000 × 6 mm × 2
    assert f.bobbin_m == pytest.approx(1.001 * 3.0 * 12.0 / 5.005)


def test_thread_is_counted_per_colour() -> None:
    colours = ["#ff0000", "#00ff00", "#0000ff"]
    f = compute(design(three_blocks(colours), threads=colours), P)
    assert [b.thread_m for b in f.blocks] == pytest.approx([3.5, 3.5, 3.5])
    assert f.thread_m == pytest.approx(10.5)


# --- checks ---------------------------------------------------------------------------


def test_density_hot_spot() -> None:
    # 60 drops stacked in one 2 × 2 mm cell: 15 per mm², over the limit of 10.
    stack = [(1.0 + (i % 3) * 0.3, 1.0 + (i // 3 % 3) * 0.3, STITCH) for i in range(60)]
    d = design([*stack, *line(30, step=3.0, x0=10, y=10)])
    f = compute(d, P)
    assert f.max_density == pytest.approx(15.0)
    assert f.hot_cells == 1
    spot = f.hot_spots[0]
    assert spot["per_mm2"] == pytest.approx(15.0)
    assert 0 <= spot["x_mm"] <= 3 and 0 <= spot["y_mm"] <= 3


def test_short_stitches_and_untrimmed_jumps() -> None:
    recs = [*line(10, step=0.1), *line(10, step=2.0, x0=2), (50, 0, JUMP), *line(5, x0=51)]
    f = compute(design(recs), P)
    assert f.short_stitches == 9  # the 0.1 mm ones
    assert f.untrimmed_jumps == 1  # the 31 mm move without a trim
    assert f.longest_untrimmed_mm == pytest.approx(31.0)


def test_stitches_over_the_machine_limit_per_axis() -> None:
    d = design([(0, 0, STITCH), (10, 10, STITCH), (25, 10, STITCH)])
    f = compute(d, EmbroideryParams(max_stitch_mm=12.1))
    assert f.over_max_stitch == 1  # 10/10 is 14 mm long but 10 mm per axis


# --- corpus ---------------------------------------------------------------------------


def test_cake_dst_counts_needle_drops_not_its_15081_records() -> None:
    f = compute(read_design(CAT / "Cake_3.dst", "dst"), P)
    assert f.records == 15_081
    assert f.stitches == 14_922
    assert f.colour_changes == 18
    assert f.trims == 25


def test_star_pcs_extents_ignore_its_outlying_commands() -> None:
    f = compute(read_design(EMM / "Star.PCS", "pcs"), P)
    w, h = f.size_mm
    assert (w, h) == pytest.approx((59.2, 62.3), abs=0.05)  # bounds() says 89.5 × 88.5
    assert f.longest_stitch_mm < 8  # its 73 mm "stitch" is the move after a colour change


def test_ink_stitch_defaults_give_the_research_figure_for_cake() -> None:
    """research/embroidery.md §4.1: 28.3 min with 700 spm, 10 s per trim and change."""
    params = EmbroideryParams(needles=20, hooping_s=0, slow_spm=700, trim_s=10, colour_change_s=10)
    f = compute(read_design(CAT / "Cake_3.pes", "pes"), params)
    assert f.duration_s / 60 == pytest.approx(28.3, abs=0.1)
