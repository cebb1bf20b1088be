"""Structured logs (structlog): JSON lines carrying the request id, or console output for humans."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog

# (request id, method, path) of the request being served, set once per request by kit.web's middleware:
# one ContextVar.set per request instead of structlog's clear + bind (three ContextVars), because every
# request pays for it while few of them log anything.
REQUEST: ContextVar[tuple[str, str, str] | None] = ContextVar("quanzi_request", default=None)


def add_request(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if (req := REQUEST.get()) is not None:
        event.setdefault("request_id", req[0])
        event.setdefault("method", req[1])
        event.setdefault("path", req[2])
    return event


def configure(level: str = "INFO", json: bool = True) -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=lvl, force=True)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_request,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
