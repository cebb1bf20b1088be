"""The Redis gate in front of the database: one Lua script checks the quota and the person's total and
reserves both atomically, so a crowd is turned away in Redis before it reaches the database. The
guarded database decrement still runs for every winner (the backstop); `reconcile()` makes Redis agree
with the database after any failure, so there is neither oversell nor undersell.
"""

from __future__ import annotations

from redis.asyncio import Redis

RESERVE = """
local left = tonumber(redis.call('GET', KEYS[1]) or '-1')
if left < 0 then return -1 end
local qty = tonumber(ARGV[2])
if left < qty then return 0 end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if mine + qty > tonumber(ARGV[3]) then return -2 end
redis.call('DECRBY', KEYS[1], qty)
redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
return 1
"""

RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[2]) end
local mine = redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2]))
if mine <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
"""

RESERVED, SOLD_OUT, UNKNOWN, OVER_LIMIT = 1, 0, -1, -2


class FlashGate:
    def __init__(self, redis: Redis, prefix: str = "quanzi-flash") -> None:
        self.redis = redis
        self.prefix = prefix
        self._reserve = redis.register_script(RESERVE)
        self._release = redis.register_script(RELEASE)

    def quota_key(self, item_id: int) -> str:
        return f"{self.prefix}:item:{item_id}:left"

    def users_key(self, activity_id: int) -> str:
        return f"{self.prefix}:act:{activity_id}:users"

    async def reserve(self, activity_id: int, item_id: int, user_id: int, qty: int, limit: int) -> int:
        return int(await self._reserve(keys=[self.quota_key(item_id), self.users_key(activity_id)],
                                       args=[user_id, qty, limit]))

    async def release(self, activity_id: int, item_id: int, user_id: int, qty: int) -> None:
        await self._release(keys=[self.quota_key(item_id), self.users_key(activity_id)], args=[user_id, qty])

    async def release_person(self, activity_id: int, user_id: int, qty: int) -> None:
        """Lower the person's total only (the unit did not come back to the quota)."""
        await self._release(keys=[f"{self.prefix}:none", self.users_key(activity_id)], args=[user_id, qty])

    async def load(self, item_id: int, remaining: int) -> None:
        """Seed the quota from the database if Redis has none (never overwrites a live counter)."""
        await self.redis.set(self.quota_key(item_id), remaining, nx=True)

    async def reset(self, activity_id: int, items: dict[int, int], users: dict[int, int]) -> None:
        """Make Redis equal the database: remaining per item, quantity per person."""
        pipe = self.redis.pipeline(transaction=True)
        for item_id, remaining in items.items():
            pipe.set(self.quota_key(item_id), remaining)
        pipe.delete(self.users_key(activity_id))
        if users:
            pipe.hset(self.users_key(activity_id), mapping={str(k): v for k, v in users.items()})
        await pipe.execute()

    async def remaining(self, item_id: int) -> int | None:
        v = await self.redis.get(self.quota_key(item_id))
        return None if v is None else int(v)


_gate: FlashGate | None = None


def configure(redis_url: str | None, prefix: str = "quanzi-flash") -> FlashGate | None:
    """Set this process's gate (None without Redis: the database alone decides, correctly)."""
    global _gate
    _gate = FlashGate(Redis.from_url(redis_url), prefix) if redis_url else None
    return _gate


def current() -> FlashGate | None:
    return _gate
