"""The one source of "now". Rules read `clock.now()`; tests and demos move it.

All timestamps are timezone-aware UTC. The clock keeps an offset from real time so that a
demo or a browser test can jump ahead ("8 days later") while time still flows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# Stored times are UTC; people read them (and days begin) in China time.
CHINA = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def set(self, when: datetime) -> None:
        """Jump so that now() returns `when` (time keeps flowing from there)."""
        self._frozen = None
        self._offset = as_utc(when) - datetime.now(UTC)

    def freeze(self, when: datetime | None = None) -> None:
        self._frozen = as_utc(when) if when else self.now()

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._frozen = None

    @property
    def offset(self) -> timedelta:
        return self._offset


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (SQLite returns them) as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def window_state(starts: datetime, ends: datetime, now: datetime) -> str:
    """Where `now` stands against a campaign's [starts, ends) window: "soon", "live" or "ended"."""
    return "soon" if now < starts else ("ended" if now >= ends else "live")


clock = Clock()
