"""The clock kit: campaign windows are half-open, [starts, ends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quanzi.kit.clock import window_state

STARTS = datetime(2026, 6, 15, 0, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(hours=8)


def test_window_state_at_the_edges() -> None:
    assert window_state(STARTS, ENDS, STARTS - timedelta(microseconds=1)) == "soon"
    assert window_state(STARTS, ENDS, STARTS) == "live"
    assert window_state(STARTS, ENDS, ENDS - timedelta(microseconds=1)) == "live"
    assert window_state(STARTS, ENDS, ENDS) == "ended"
