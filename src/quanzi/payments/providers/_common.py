"""Small helpers shared by the adapters: exact yuan↔fen, header lookup, freshness, China time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quanzi.kit.clock import as_utc

from .base import NOTIFICATION_TOLERANCE, StaleNotification

try:
    CHINA_TZ: timezone | ZoneInfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # no tz database: China has had no DST since 1991
    CHINA_TZ = timezone(timedelta(hours=8), "CST")

_YUAN = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$")


def yuan_to_fen(text: str) -> int:
    """'0.01' -> 1, '123.45' -> 12345, '5' -> 500. Exact (Decimal); anything else is a ValueError."""
    if not isinstance(text, str) or not _YUAN.match(text):
        raise ValueError(f"not a yuan amount: {text!r}")
    fen = Decimal(text) * 100
    if fen != fen.to_integral_value():  # unreachable with the pattern above; kept as the invariant
        raise ValueError(f"sub-fen amount: {text!r}")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """12345 -> '123.45'. Only positive integer fen (bool is not an amount)."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError(f"not an amount in fen: {fen!r}")
    return f"{fen // 100}.{fen % 100:02d}"


def require_fen(value: int, what: str = "amount_fen") -> int:
    """A positive integer number of fen (bool is not an amount). A ValueError is a bug in the caller."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive integer number of fen: {value!r}")
    return value


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive (RFC 9110); Starlette already lowercases them, others may not."""
    return {str(k).lower(): v for k, v in headers.items()}


def check_fresh(sent_at: datetime, now: datetime, tolerance: timedelta = NOTIFICATION_TOLERANCE) -> None:
    """Refuse notifications sent more than `tolerance` before or after our clock (replays, skew)."""
    skew = as_utc(now) - as_utc(sent_at)
    if abs(skew) > tolerance:
        raise StaleNotification(skew_seconds=int(skew.total_seconds()))


def china_time(value: datetime) -> datetime:
    return as_utc(value).astimezone(CHINA_TZ)
