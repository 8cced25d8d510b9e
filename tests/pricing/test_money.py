"""Cents, rounding steps and quote totals (VAT per rate on each rate's total)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from fabqueue.pricing import LineAmount, from_cents, round_to_step, to_cents, totals


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("0", 0), ("1.005", 101), ("1.004", 100), ("12.345", 1235), ("1234.5", 123450)],
)
def test_to_cents_half_up(amount: str, cents: int) -> None:
    assert to_cents(D(amount)) == cents
    assert from_cents(cents) == D(cents) / 100


@pytest.mark.parametrize(
    ("amount", "step", "mode", "expected"),
    [
        ("3.41", "0.10", "up", "3.50"),
        ("3.40", "0.10", "up", "3.40"),
        ("3.4000001", "0.10", "up", "3.50"),
        ("3.44", "0.10", "nearest", "3.40"),
        ("3.45", "0.10", "nearest", "3.50"),
        ("12.01", "0.50", "up", "12.50"),
        ("12.24", "0.50", "nearest", "12.00"),
        ("0.001", "0.01", "up", "0.01"),
    ],
)
def test_round_to_step(amount: str, step: str, mode: str, expected: str) -> None:
    assert round_to_step(D(amount), D(step), mode) == D(expected)


def test_totals_vat_per_rate() -> None:
    lines = [
        LineAmount(1250, D(2), D(20)),  # 25.00
        LineAmount(333, D(3), D(20)),  # 9.99
        LineAmount(1000, D(1), D("5.5")),  # 10.00
        LineAmount(3500, D("1.5"), D(20)),  # 52.50 (1 h 30 of labour)
    ]
    t = totals(lines, charge_vat=True)
    # HT 25.00 + 9.99 + 10.00 + 52.50 = 97.49; VAT 20 % on 87.49 = 17.498 → 17.50;
    # 5.5 % on 10.00 = 0.55; TTC = 97.49 + 17.50 + 0.55 = 115.54.
    assert t.ht_cents == 9749
    assert [(v.rate, v.base_ht_cents, v.vat_cents) for v in t.vat] == [
        (D(20), 8749, 1750),
        (D("5.5"), 1000, 55),
    ]
    assert t.ttc_cents == 11554


def test_vat_on_the_rate_total_not_per_line() -> None:
    # Three lines of 0.33 at 20 %: per line 0.066 → 0.07 × 3 = 0.21; on the total
    # 0.99 × 20 % = 0.198 → 0.20. The total method is the one printed.
    t = totals([LineAmount(33, D(1), D(20))] * 3, charge_vat=True)
    assert t.vat[0].vat_cents == 20
    assert t.ttc_cents == 119


def test_no_vat_outside_the_normal_regime() -> None:
    t = totals([LineAmount(1250, D(2), D(0)), LineAmount(999, D(1), D(0))], charge_vat=False)
    assert (t.ht_cents, t.vat, t.ttc_cents) == (3499, (), 3499)


def test_zero_rate_lines_have_no_vat_entry() -> None:
    t = totals([LineAmount(1000, D(1), D(0)), LineAmount(1000, D(1), D(20))], charge_vat=True)
    assert [v.rate for v in t.vat] == [D(20)]
    assert t.ttc_cents == 2200


def test_negative_lines_are_refused() -> None:
    with pytest.raises(ValueError):
        totals([LineAmount(-1, D(1), D(20))], charge_vat=True)
    with pytest.raises(ValueError):
        totals([LineAmount(100, D(-1), D(20))], charge_vat=True)
