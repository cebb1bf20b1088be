"""Bargain sweep: expire launches and payment windows that passed."""

from __future__ import annotations

from datetime import datetime

from quanzi.bargain import service
from quanzi.kit.db import Database
from quanzi.kit.sweeps import sweep


@sweep("bargain.expire", every_seconds=60)
async def expire(db: Database, now: datetime) -> int:
    return await service.expire_due(db, now)
