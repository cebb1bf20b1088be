"""FastAPI dependencies that are pure infrastructure."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from quanzi.config import Settings
from quanzi.kit.db import Database
from quanzi.kit.idempotency import check_key
from quanzi.kit.ratelimit import RateLimiter


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def idempotency_key(
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=120,
                                                  pattern=r"^[\x21-\x7e]+$")] = None,
) -> str | None:
    return check_key(idempotency_key)


DB = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
Limiter = Annotated[RateLimiter, Depends(get_limiter)]
ClientIP = Annotated[str, Depends(client_ip)]
IdempotencyKeyHeader = Annotated[str | None, Depends(idempotency_key)]
