"""Money helpers (kit/money.py): exact splitting and percentages of integer fen, as properties."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from quanzi.kit.money import percent_of, split_largest_remainder, yuan

totals = st.integers(min_value=-(10**12), max_value=10**12)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30).filter(any)


def exact_share(total: int, weight: int, weights: list[int]) -> Fraction:
    return Fraction(total * weight, sum(weights))


@given(totals, weight_lists)
@example(100, [1, 1, 1])
@example(1, [1, 1, 1])
@example(0, [5, 0, 3])
@example(10**11, [1, 2**31, 3, 0])
def test_split_sums_to_total_and_stays_within_one_fen(total: int, weights: list[int]) -> None:
    parts = split_largest_remainder(total, weights)
    assert len(parts) == len(weights)
    assert all(isinstance(p, int) for p in parts)
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        assert abs(part - exact_share(total, w, weights)) < 1
        if w == 0:
            assert part == 0


@given(totals, weight_lists)
def test_split_gives_the_extra_fen_to_the_largest_remainders(total: int, weights: list[int]) -> None:
    parts = split_largest_remainder(total, weights)
    shares = [exact_share(total, w, weights) for w in weights]
    rounded_up = [i for i, (p, s) in enumerate(zip(parts, shares, strict=True)) if p > s]
    kept = [i for i, (p, s) in enumerate(zip(parts, shares, strict=True)) if p <= s and s != int(s)]
    fraction = [s - (s.numerator // s.denominator) for s in shares]
    if rounded_up and kept:
        assert min(fraction[i] for i in rounded_up) >= max(fraction[i] for i in kept)


def test_split_breaks_ties_by_position() -> None:
    assert split_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert split_largest_remainder(2, [1, 1, 1]) == [1, 1, 0]


def test_split_refuses_bad_weights() -> None:
    assert split_largest_remainder(100, []) == []
    with pytest.raises(ValueError):
        split_largest_remainder(100, [0, 0])
    with pytest.raises(ValueError):
        split_largest_remainder(100, [3, -1])


@given(st.integers(min_value=0, max_value=10**13), st.integers(min_value=0, max_value=10_000))
@example(199, 1000)
@example(1, 9999)
@example(10**13, 10_000)
def test_percent_of_rounds_down_and_never_exceeds_the_exact_value(amount: int, basis_points: int) -> None:
    got = percent_of(amount, basis_points)
    exact = Fraction(amount * basis_points, 10_000)
    assert isinstance(got, int)
    assert got <= exact
    assert exact - got < 1  # only the sub-fen part is dropped
    assert 0 <= got <= amount


def test_yuan_formats_fen() -> None:
    assert yuan(12345) == "¥123.45"
    assert yuan(12345, "en") == "CN¥123.45"
