"""Money is integer fen. Formatting and exact splitting live here."""

from __future__ import annotations

from collections.abc import Sequence

from babel.numbers import format_currency


def yuan(fen: int, locale: str = "zh_CN") -> str:
    """Format fen as a currency string, e.g. 12345 -> '¥123.45'."""
    return format_currency(fen / 100, "CNY", locale=locale)


def split_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` fen in proportion to `weights` so that the parts sum exactly to `total`.

    Each part is floored, then the leftover fen go one each to the largest remainders
    (ties broken by position). Weights must be non-negative with a positive sum.
    """
    if not weights:
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    wsum = sum(weights)
    if wsum == 0:
        raise ValueError("weights must not all be zero")
    floors = [total * w // wsum for w in weights]
    remainders = [total * w % wsum for w in weights]
    leftover = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return floors


def percent_of(amount_fen: int, basis_points: int) -> int:
    """`basis_points`/10000 of an amount, rounded down (sub-fen dropped; never over-pays)."""
    return amount_fen * basis_points // 10000
