"""Rate limits with the `limits` library: in memory by default, shared through Redis when configured."""

from __future__ import annotations

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from quanzi.kit.errors import RateLimited


class RateLimiter:
    def __init__(self, redis_url: str | None = None, key_prefix: str = "quanzi-rl") -> None:
        self.storage: Storage
        if redis_url:
            uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
            self.storage = RedisStorage(uri, implementation="redispy", key_prefix=key_prefix)
        else:
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._parsed: dict[str, list[RateLimitItem]] = {}

    def _items(self, spec: str) -> list[RateLimitItem]:
        if spec not in self._parsed:
            self._parsed[spec] = parse_many(spec)
        return self._parsed[spec]

    async def hit(self, spec: str, *identifiers: str) -> None:
        """Count one attempt; raise RateLimited if any window in `spec` is exhausted."""
        for item in self._items(spec):
            if not await self._limiter.hit(item, *identifiers):
                raise RateLimited(limit=str(item))

    async def reset(self) -> None:
        await self.storage.reset()
