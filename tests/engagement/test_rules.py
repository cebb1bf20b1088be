"""Pure rules: streaks in China days, reward tables, splits that always sum exactly, draw fairness."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from quanzi.engagement import rules


def test_china_day_turns_at_midnight_beijing_not_utc() -> None:
    assert rules.china_day(datetime(2026, 3, 31, 15, 59, tzinfo=UTC)) == date(2026, 3, 31)  # 23:59 Beijing
    assert rules.china_day(datetime(2026, 3, 31, 16, 0, tzinfo=UTC)) == date(2026, 4, 1)    # 00:00 Beijing


def test_streak_continues_from_yesterday_and_breaks_on_a_missed_day() -> None:
    d = date(2026, 6, 10)  # a Wednesday
    assert rules.next_streak(None, 0, d, "week") == 1
    assert rules.next_streak(date(2026, 6, 9), 2, d, "week") == 3
    assert rules.next_streak(date(2026, 6, 8), 2, d, "week") == 1  # missed the 9th


def test_week_and_month_cycles_start_again() -> None:
    monday = date(2026, 6, 15)
    assert rules.next_streak(date(2026, 6, 14), 6, monday, "week") == 1
    assert rules.next_streak(date(2026, 6, 14), 6, monday, "month") == 7
    first = date(2026, 7, 1)
    assert rules.next_streak(date(2026, 6, 30), 30, first, "month") == 1
    assert rules.next_streak(date(2026, 6, 30), 30, first, "none") == 31
    assert rules.next_streak(date(2026, 2, 28), 28, date(2026, 3, 1), "month") == 1


def test_reward_table_repeats_its_last_day() -> None:
    table = [5, 10, 20]
    assert [rules.checkin_reward(table, n) for n in (1, 2, 3, 4, 9)] == [5, 10, 20, 20, 20]
    assert rules.checkin_reward([], 1) == 0


@given(total=st.integers(1, 100_000), parts=st.integers(1, 500), seed=st.integers(0, 2**32))
def test_lucky_split_sums_exactly_and_every_part_has_a_point(total: int, parts: int, seed: int) -> None:
    if total < parts:
        return
    split = rules.lucky_split(total, parts, random.Random(seed))
    assert len(split) == parts and sum(split) == total and min(split) >= 1


@given(total=st.integers(1, 100_000), parts=st.integers(1, 500))
def test_fixed_split_sums_exactly_and_parts_differ_by_one_at_most(total: int, parts: int) -> None:
    if total < parts:
        return
    split = rules.fixed_split(total, parts)
    assert sum(split) == total and min(split) >= 1 and max(split) - min(split) <= 1


def test_a_split_with_fewer_points_than_parts_is_refused() -> None:
    for fn in (rules.fixed_split, rules.lucky_split):
        try:
            fn(3, 4)
        except ValueError:
            continue
        raise AssertionError("3 points cannot make 4 parts")


# Critical values of the chi-square distribution at p = 0.001 (tables; scipy is not a dependency).
CHI2_CRIT_0_001 = {1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467, 5: 20.515}


def chi_square(observed: list[int], expected: list[float]) -> float:
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def test_draws_follow_the_prize_table_chi_square() -> None:
    """10,000 seeded draws: the counts per band match the table's chances (chi-square, p = 0.001)."""
    table = [rules.PrizeLine(1, 100), rules.PrizeLine(2, 900), rules.PrizeLine(3, 3000)]  # + 6000 nothing
    rng = random.Random(20261205)
    counts = {1: 0, 2: 0, 3: 0, None: 0}
    n = 10_000
    for _ in range(n):
        counts[rules.pick(table, rules.roll(rng))] += 1
    observed = [counts[1], counts[2], counts[3], counts[None]]
    expected = [n * 0.01, n * 0.09, n * 0.30, n * 0.60]
    assert chi_square(observed, expected) < CHI2_CRIT_0_001[3]


def test_the_chi_square_check_can_fail() -> None:
    """The same statistic catches a biased picker (every roll shifted into the first bands)."""
    table = [rules.PrizeLine(1, 100), rules.PrizeLine(2, 900), rules.PrizeLine(3, 3000)]
    rng = random.Random(1)
    counts = {1: 0, 2: 0, 3: 0, None: 0}
    for _ in range(10_000):
        counts[rules.pick(table, rules.roll(rng) // 2)] += 1
    observed = [counts[1], counts[2], counts[3], counts[None]]
    assert chi_square(observed, [100, 900, 3000, 6000]) > CHI2_CRIT_0_001[3]


def test_production_draws_use_the_system_csprng() -> None:
    import secrets

    assert isinstance(rules.system_rng, secrets.SystemRandom)
    assert 0 <= rules.roll() < rules.CHANCE_SCALE


def test_rules_digest_changes_with_any_prize() -> None:
    at = datetime(2026, 7, 1, tzinfo=UTC)
    a = rules.rules_digest("r", 10, 3, at, [{"name": "x", "chance_bp": 100}])
    b = rules.rules_digest("r", 10, 3, at, [{"name": "x", "chance_bp": 101}])
    assert a != b and len(a) == 64
