"""Pure rules of engagement (no database): check-in streaks in China days, draws against a prize table,
red-packet splits that sum exactly, the calendar's cadence. Randomness comes in as an argument: production
passes `secrets.SystemRandom()`, tests a seeded `random.Random`."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from quanzi.kit.clock import CHINA
from quanzi.kit.money import split_largest_remainder

Cycle = Literal["week", "month", "none"]
CHANCE_SCALE = 10_000  # prize chances are basis points of one draw

system_rng: random.Random = secrets.SystemRandom()


def china_day(at: datetime) -> date:
    """The calendar day `at` falls on in China (days begin at 00:00 Beijing time, not UTC)."""
    return at.astimezone(CHINA).date()


def cycle_start(day: date, cycle: Cycle) -> date:
    if cycle == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if cycle == "month":
        return day.replace(day=1)
    return date.min


def next_streak(last_day: date | None, last_streak: int, today: date, cycle: Cycle) -> int:
    """Day number of today's check-in: one more than yesterday's in the same cycle, else 1 (a missed day or
    a new week/month starts again)."""
    if last_day is None or last_day != today - timedelta(days=1):
        return 1
    if cycle_start(today, cycle) != cycle_start(last_day, cycle):
        return 1
    return last_streak + 1


def checkin_reward(table: Sequence[int], streak: int) -> int:
    """Points for day `streak` of the table; past its end the last day's reward repeats."""
    if not table or streak < 1:
        return 0
    return table[min(streak, len(table)) - 1]


# --- lucky draws ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PrizeLine:
    id: int
    chance_bp: int


def pick(prizes: Sequence[PrizeLine], roll: int) -> int | None:
    """The prize whose band of [0, 10,000) holds `roll`; None past the last band (the "nothing" share)."""
    edge = 0
    for p in prizes:
        edge += p.chance_bp
        if roll < edge:
            return p.id
    return None


def roll(rng: random.Random | None = None) -> int:
    return (rng or system_rng).randrange(CHANCE_SCALE)


def rules_digest(rules: str, cost_points: int, per_person_limit: int, ends_at: datetime,
                 prizes: Sequence[dict[str, object]]) -> str:
    """The fingerprint published when a draw opens: anyone can recompute it from the page."""
    doc = {"rules": rules, "cost_points": cost_points, "per_person_limit": per_person_limit,
           "ends_at": ends_at.isoformat(), "prizes": list(prizes)}
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


# --- red packets ----------------------------------------------------------------------------------------

def fixed_split(total: int, parts: int) -> list[int]:
    """Equal parts, the leftover points one each to the first parts (largest remainder)."""
    if parts < 1 or total < parts:
        raise ValueError("every part needs at least 1 point")
    return split_largest_remainder(total, [1] * parts)


def lucky_split(total: int, parts: int, rng: random.Random | None = None) -> list[int]:
    """Random parts ("double the average" rule): each part at least 1 and at most twice the average of what
    is left, the last part takes the rest, so the parts always sum to the total exactly."""
    if parts < 1 or total < parts:
        raise ValueError("every part needs at least 1 point")
    r = rng or system_rng
    out: list[int] = []
    left = total
    for i in range(parts - 1):
        still = parts - i
        high = min(left - (still - 1), max(1, 2 * left // still - 1))
        part = r.randint(1, max(1, high))
        out.append(part)
        left -= part
    out.append(left)
    return out


# --- calendar -------------------------------------------------------------------------------------------

def cadence_dates(first: datetime, every_days: int, count: int) -> list[datetime]:
    """The next `count` activity times at the category's repurchase cadence."""
    return [first + timedelta(days=every_days * i) for i in range(count)]


def phone_digest(e164: str) -> str:
    return hashlib.sha256(e164.encode()).hexdigest()
