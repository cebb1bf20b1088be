"""Sweep registry for due-time work ("cancel unpaid orders older than 15 minutes").

A sweep is `async def fn(db, now) -> int` that finds due rows and settles them in its own short
transactions, returning how many it handled. Sweeps select rows with `kit.db.skip_locked` and change
them with guarded updates, so several workers may run the same sweep at once without double work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from quanzi.kit.clock import clock
from quanzi.kit.db import Database

log = structlog.get_logger("quanzi.sweeps")

SweepFn = Callable[[Database, datetime], Awaitable[int]]


@dataclass
class Sweep:
    name: str
    fn: SweepFn
    every: timedelta
    last_run: datetime | None = field(default=None)


_sweeps: dict[str, Sweep] = {}


def sweep(name: str, *, every_seconds: float = 30) -> Callable[[SweepFn], SweepFn]:
    def decorate(fn: SweepFn) -> SweepFn:
        _sweeps[name] = Sweep(name, fn, timedelta(seconds=every_seconds))
        return fn

    return decorate


def registered() -> dict[str, Sweep]:
    return dict(_sweeps)


async def run_due(db: Database, *, force: bool = False) -> dict[str, int]:
    """Run every sweep whose interval has passed (all of them with force=True)."""
    now = clock.now()
    results: dict[str, int] = {}
    for sw in list(_sweeps.values()):
        # A clock moved backwards (tests, demos) must not stall a sweep until real time catches up.
        if not force and sw.last_run is not None and sw.last_run <= now and now - sw.last_run < sw.every:
            continue
        sw.last_run = now
        try:
            results[sw.name] = await sw.fn(db, now)
        except Exception as exc:  # noqa: BLE001 - one failing sweep must not stop the others
            log.error("sweep.failed", sweep=sw.name, error=repr(exc))
            results[sw.name] = -1
    return results


async def run_one(db: Database, name: str) -> int:
    return await _sweeps[name].fn(db, clock.now())


def _reset_schedule_for_tests(**_: Any) -> None:
    for sw in _sweeps.values():
        sw.last_run = None
