"""Rows that rarely change, cached in the process, with versioned invalidation shared by every process.

What is cached (issue 9, item 3): the commerce policy (policy), SKU snapshots without stock (catalog), shops
and their shelves (shops), and the facts an order's attribution needs: bindings (referrals) and whether
someone is an active distributor (distribution). The session cache (accounts/authcache.py) uses the same
version stores and commit hook, with its own versions per person.

How it stays right:
- **Versions, not values, are shared.** Every cached lookup (`Cached`) depends on named namespaces
  ("catalog", "policy"…); a domain declares which tables feed a namespace (`watch`). A committed change to
  such a table bumps the namespace's version from SQLAlchemy's `after_commit` event, before the request
  that made it answers: ORM rows seen at flush and bulk UPDATE/INSERT/DELETE statements seen at execution.
  Columns a namespace declares as ignored do not count: a stock move (`skus.stock`) or a sales counter never
  invalidates a snapshot.
- **Where versions live.** With Redis (`settings.redis_url`) in Redis: a bump is an INCR, and a process
  re-reads all data versions with one MGET at most every `RECHECK_SECONDS`; its own bumps it knows at once
  (the INCR answers are versions). Without Redis, in this process's memory, read on every lookup: exact
  when one process serves (`--workers 1`, embedded worker: the default). Several processes without Redis:
  the cache is off and every lookup reads the database. Unreachable Redis: lookups read the database.
- **The bound.** A change committed by one process is seen by every other process at most
  `RECHECK_SECONDS` (0.25 s) after the commit returned, with Redis; at once in the process that made it and
  in the single-process default. A change the app cannot see (hand-written SQL, a separate process without
  Redis configured) is seen within `TTL_SECONDS`: no entry is older than that.
- **Never cache what may already be old.** A value is stored only under the versions known when its
  transaction began, before the query's snapshot, so a change that commits while the query runs leaves
  the entry outdated at once rather than cached as current. A session that has written to a namespace
  (not committed yet) reads that namespace from the database and stores nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

log = structlog.get_logger("quanzi.kit.cache")

RECHECK_SECONDS = 0.25
TTL_SECONDS = 30.0
MAX_ENTRIES = 100_000
DATA = "data"  # the version group of the data caches (accounts/authcache.py has "auth")
ANY_DB = "*"
TOUCHED = "quanzi_cache_touched"  # session.info: {group: names} to bump when the transaction commits
BEGIN = "quanzi_cache_begin"  # session.info: the data versions known when the transaction began
DB_INFO = "quanzi_db"  # session.info: the Database the session came from (kit/db.py)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


# --- version stores ------------------------------------------------------------------------------------

class LocalVersions:
    """Versions in this process's memory, one table per database: exact for one process."""

    recheck = 0.0

    def __init__(self, group: str) -> None:
        self.group = group
        self.generation = 0
        self._by_db: dict[str, dict[Hashable, int]] = {}

    def peek(self, db_key: str, names: Sequence[Hashable]) -> tuple[int, ...]:
        t = self._by_db.get(db_key, {})
        return tuple(t.get(n, 0) for n in names)

    async def read(self, db_key: str, names: Sequence[Hashable]) -> tuple[int, ...]:
        return self.peek(db_key, names)

    def bump(self, db_key: str, names: Collection[Hashable]) -> None:
        tables = self._by_db.values() if db_key == ANY_DB else [self._by_db.setdefault(db_key, {})]
        for t in tables:
            for n in names:
                t[n] = t.get(n, 0) + 1
        self.generation += 1


class RedisVersions:
    """Versions in Redis, shared by every process: read with the asyncio client on the request path, bumped
    with a short blocking call inside the commit event (changes to cached rows are rare)."""

    recheck = RECHECK_SECONDS

    def __init__(self, url: str, prefix: str, group: str = "") -> None:
        import redis

        self.url = url
        self.prefix = prefix
        self.group = group  # "" = never bumped by this process (a test's stand-in for another process)
        self.generation = 0
        self.latest: dict[Hashable, int] = {}  # what this process's own INCRs returned
        self.sync = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._aio: Any = None
        self._loop: Any = None

    def _client(self) -> Any:
        """An asyncio client for the running loop (a server has one loop; tests make one per test)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            from redis.asyncio import Redis

            self._aio, self._loop = Redis.from_url(self.url, socket_timeout=1.0, socket_connect_timeout=1.0), loop
        return self._aio

    def key(self, name: Hashable) -> str:
        return f"{self.prefix}:v:{name}"

    async def read(self, _db_key: str, names: Sequence[Hashable]) -> tuple[int, ...]:
        values = await self._client().mget([self.key(n) for n in names])
        return tuple(int(v or 0) for v in values)

    def bump(self, _db_key: str, names: Collection[Hashable]) -> None:
        pipe = self.sync.pipeline(transaction=False)
        names = list(names)
        for n in names:
            pipe.incr(self.key(n))
        self.latest.update(zip(names, pipe.execute(), strict=True))
        self.generation += 1


Versions = LocalVersions | RedisVersions
_LOCAL: dict[str, LocalVersions] = {}
_REDIS: dict[str, RedisVersions] = {}  # by group: a process shares its versions under one prefix
_STORES: list[Versions] = []  # every store of this process gets every committed bump of its group


def local_versions(group: str) -> LocalVersions:
    store = _LOCAL.get(group)
    if store is None:
        store = _LOCAL[group] = LocalVersions(group)
        _STORES.append(store)
    return store


def versions_for(redis_url: str | None, prefix: str, group: str) -> Versions:
    """The store of a group: Redis when configured (also bumped by this process from now on), else memory."""
    if not redis_url:
        return local_versions(group)
    store = _REDIS.get(group)
    if store is None or (store.url, store.prefix) != (redis_url, prefix):
        if store is not None:  # configured again elsewhere (tests build many apps): bump the new one only
            _STORES.remove(store)
        store = _REDIS[group] = RedisVersions(redis_url, prefix, group)
        _STORES.append(store)
    return store


def db_key_of(url: Any) -> str:
    return url.render_as_string(hide_password=True) if hasattr(url, "render_as_string") else str(url)


# --- what is cached ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Watch:
    namespace: str
    ignore: frozenset[str]


WATCHED: dict[str, _Watch] = {}
NAMESPACES: list[str] = []


def watch(namespace: str, table: str, *, ignore: Iterable[str] = ()) -> None:
    """A committed change to `table` (other than to the `ignore`d columns) bumps `namespace`."""
    WATCHED[table] = _Watch(namespace, frozenset(ignore))
    if namespace not in NAMESPACES:
        NAMESPACES.append(namespace)


@dataclass(frozen=True)
class _Entry:
    value: Any
    versions: tuple[int, ...]
    stored: float  # time.monotonic()


_MISSING = object()


class Cache:
    """The cached values of one database in this process. `enabled=False`: every lookup reads the database."""

    def __init__(self, db_key: str, versions: Versions, *, enabled: bool = True) -> None:
        self.db_key = db_key
        self.versions = versions
        self.enabled = enabled
        self.known: dict[str, int] = {}
        self._checked = -1e18
        self._generation = -1
        self._entries: dict[tuple[str, Hashable], _Entry] = {}

    def begin_versions(self) -> dict[str, int]:
        """The versions a transaction that begins now may store its reads under."""
        v = self.versions
        if isinstance(v, LocalVersions):
            return dict(zip(NAMESPACES, v.peek(self.db_key, NAMESPACES), strict=True))
        self._own_bumps(v)
        return self.known

    def _own_bumps(self, v: RedisVersions) -> None:
        """This process's own bumps count at once: an INCR's answer is a version whose commits are all done."""
        if self._generation != v.generation:
            self._generation = v.generation
            self.known = {**self.known, **{n: max(self.known.get(n, 0), v.latest[n])
                                           for n in NAMESPACES if n in v.latest}}

    async def fresh(self) -> None:
        """Know the current versions: from memory, or from Redis when the last look is older than
        `recheck` (this process's own bumps are known at once)."""
        v = self.versions
        if isinstance(v, LocalVersions):
            self.known = dict(zip(NAMESPACES, v.peek(self.db_key, NAMESPACES), strict=True))
            return
        self._own_bumps(v)
        now = time.monotonic()
        if now - self._checked < v.recheck:
            return
        try:
            values = await v.read(self.db_key, NAMESPACES)
        except Exception:
            self.known, self._checked = {}, now  # versions unknown: read the database until the next look
            raise
        # max: an INCR of ours may have answered while this MGET was on its way (versions only grow)
        self.known = {n: max(value, v.latest.get(n, 0)) for n, value in zip(NAMESPACES, values, strict=True)}
        self._checked = now

    def lookup(self, name: str, key: Hashable, current: tuple[int, ...]) -> Any:
        e = self._entries.get((name, key))
        if e is None or e.versions != current or time.monotonic() - e.stored >= TTL_SECONDS:
            return _MISSING
        return e.value

    def store(self, name: str, key: Hashable, value: Any, versions: tuple[int, ...]) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[(name, key)] = _Entry(value, versions, time.monotonic())

    def clear(self) -> None:
        self._entries.clear()


def of(session: Any) -> Cache | None:
    """The data cache of the database a session came from (`attach`), if any."""
    db = session.info.get(DB_INFO)
    return getattr(db, "cache", None) if db is not None else None


def attach(db: Any, *, redis_url: str | None, prefix: str, workers: int) -> Cache:
    """Give a Database its data cache: shared versions through Redis, else this process's own, which are
    exact only when this is the only server process; several processes without Redis: off."""
    versions = versions_for(redis_url, prefix, DATA)
    db.cache = Cache(db_key_of(db.engine.url), versions, enabled=bool(redis_url) or workers == 1)
    return db.cache


class Cached:
    """One cached lookup of a domain: its values depend on the `on` namespaces and nothing else."""

    def __init__(self, name: str, *, on: Sequence[str]) -> None:
        self.name = name
        self.on = tuple(on)

    async def _ready(self, s: Any) -> tuple[Cache, tuple[int, ...]] | None:
        """The cache and the current versions of this lookup's namespaces, or None: read the database."""
        cache = of(s)
        if cache is None or not cache.enabled:
            return None
        if s.new or s.dirty or s.deleted:
            await s.flush()  # what the database query would have done: pending changes count as written
        if _written(s, self.on):
            return None
        try:
            await cache.fresh()
        except Exception as exc:  # noqa: BLE001 - Redis unreachable: read the database, cache nothing
            log.warning("cache_versions_unreadable", error=repr(exc))
            return None
        known = cache.known
        if any(ns not in known for ns in self.on):
            return None
        return cache, tuple(known[ns] for ns in self.on)

    def _stamp(self, s: Any) -> tuple[int, ...] | None:
        """The versions known when this session's transaction began (after_begin), if all are known."""
        begun = s.info.get(BEGIN) or {}
        stamp = tuple(begun.get(ns) for ns in self.on)
        return None if None in stamp else stamp  # type: ignore[return-value]

    async def get(self, s: Any, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        ready = await self._ready(s)
        if ready is None:
            return await load()
        cache, current = ready
        value = cache.lookup(self.name, key, current)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        value = await load()
        stamp = self._stamp(s)
        if stamp is not None:
            cache.store(self.name, key, value, stamp)
        return value  # type: ignore[no-any-return]

    async def get_many(self, s: Any, keys: Iterable[K], load: Callable[[list[K]], Awaitable[dict[K, V]]],
                       ) -> dict[K, V]:
        """Values for `keys`: cached ones, the others in one `load(missing)`; keys `load` omits are not cached."""
        wanted = list(dict.fromkeys(keys))
        ready = await self._ready(s)
        if ready is None:
            return await load(wanted) if wanted else {}
        cache, current = ready
        out: dict[K, V] = {}
        missing: list[K] = []
        for k in wanted:
            value = cache.lookup(self.name, k, current)
            if value is _MISSING:
                missing.append(k)
            else:
                out[k] = value
        if missing:
            loaded = await load(missing)
            stamp = self._stamp(s)
            for k, value in loaded.items():
                out[k] = value
                if stamp is not None:
                    cache.store(self.name, k, value, stamp)
        return out


# --- bumping: SQLAlchemy events see every committed change -------------------------------------------------

def touch(session: Any, group: str, names: Iterable[Hashable]) -> None:
    """Bump these versions of `group` when the session's transaction commits."""
    session.info.setdefault(TOUCHED, {}).setdefault(group, set()).update(names)


def _written(session: Any, namespaces: Sequence[str]) -> bool:
    touched = session.info.get(TOUCHED)
    return bool(touched) and not touched.get(DATA, set()).isdisjoint(namespaces)


def _changed_columns(obj: Any) -> set[str]:
    return {a.key for a in inspect(obj).attrs if a.history.has_changes()}


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, _transaction: Any, _connection: Any) -> None:
    cache = of(session)
    if cache is not None and cache.enabled:
        session.info[BEGIN] = cache.begin_versions()


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    names: set[str] = set()
    dirty = session.dirty
    for obj in (*session.new, *dirty, *session.deleted):
        w = WATCHED.get(getattr(obj, "__tablename__", ""))
        if w is None or w.namespace in names:
            continue
        if w.ignore and obj in dirty and _changed_columns(obj) <= w.ignore:
            continue  # only ignored columns moved (or nothing at all)
        names.add(w.namespace)
    if names:
        touch(session, DATA, names)


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: Any) -> None:
    stmt = state.statement
    table = getattr(stmt, "table", None)
    if not isinstance(stmt, UpdateBase) or table is None:
        return
    w = WATCHED.get(table.name)
    if w is None:
        return
    if state.is_update and w.ignore:
        values = getattr(stmt, "_values", None) or {}
        columns = {getattr(c, "key", c) for c in values}
        params = state.parameters
        if not columns and params:
            columns = set((params[0] if isinstance(params, list) else params).keys()) - {"id"}
        if columns and columns <= w.ignore:
            return  # e.g. a guarded stock decrement
    touch(state.session, DATA, {w.namespace})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(BEGIN, None)
    touched = session.info.pop(TOUCHED, None)
    if not touched:
        return
    try:
        db_key = db_key_of(session.get_bind().engine.url)
    except Exception:  # noqa: BLE001 - no single bind: bump these versions everywhere in this process
        db_key = ANY_DB
    for store in _STORES:
        names = touched.get(store.group)
        if not names:
            continue
        try:
            store.bump(db_key, names)
        except Exception as exc:  # Redis unreachable: the change is committed; entries end within TTL_SECONDS
            log.error("cache_version_bump_failed", group=store.group, error=repr(exc), names=len(names))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(TOUCHED, None)
    session.info.pop(BEGIN, None)
