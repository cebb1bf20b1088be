"""Operator policy API: read and change validated policy sections (every change audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from quanzi.accounts.deps import Operator
from quanzi.kit.deps import DB
from quanzi.policy import service
from quanzi.policy.service import CommercePolicy

router = APIRouter(prefix="/api/policy", tags=["policy"])


@router.get("/commerce")
async def get_commerce(db: DB, me: Operator) -> CommercePolicy:
    async with db.read() as s:
        return await service.get(s, CommercePolicy)


@router.put("/commerce")
async def put_commerce(body: dict[str, Any], db: DB, me: Operator) -> CommercePolicy:
    async with db.write() as s:
        return await service.put(s, CommercePolicy, body, me.user_id)
