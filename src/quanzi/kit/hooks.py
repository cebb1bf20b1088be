"""Hooks: how a lower domain lets a higher one act inside the same transaction without importing it.

The lower domain declares a `Hook` and runs it at the point where others may join in (a shop was opened);
the higher domain registers its function when its module loads (`domains.load_all` imports every
domain's models and jobs). Events that may happen after commit go through the outbox instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[..., Awaitable[Any]]


class Hook:
    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Handler] = []

    def register(self, fn: Handler) -> Handler:
        if fn not in self._handlers:
            self._handlers.append(fn)
        return fn

    async def run(self, *args: Any, **kwargs: Any) -> None:
        for fn in self._handlers:
            await fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {len(self._handlers)} handlers)"
