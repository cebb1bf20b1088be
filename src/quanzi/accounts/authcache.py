"""Sessions and roles cached in the process: a token's principal is reused while the person's auth version
stands, and any change to their sessions, roles or account bumps that version everywhere at once.

Why: every authenticated request looked its token up in the database (one query joining sessions, users
and roles), which is most of what `GET /api/auth/me` or a refused flash grab costs.

How a change reaches every process (DESIGN.md "Performance"; DECISIONS.md):
- A version per person and one global version. Any committed change to `auth_sessions`, `user_roles` or
  `users` bumps them: rows written through the ORM bump their person's version, bulk UPDATE/DELETE
  statements on those tables bump the global one (unless the service already named the people, as
  `end_session` and `remove_role` do). The bump runs in SQLAlchemy's `after_commit` event, right after
  the commit and before the route answers, so "logged out" is true everywhere before the logout returns.
- The version stores and the commit hook are kit/cache.py's (group "auth"); unlike the data caches there,
  a cached principal re-reads its versions on every request, so there is no re-check delay.
- With Redis, versions live in Redis (INCR on change; a cache hit costs one MGET of the global and the
  person's version) and every process agrees at once. Without Redis, versions live in this process,
  which is exact only when one process serves everything (one server worker, embedded background
  worker); otherwise the cache is off and every request reads the database, as before.
- A principal is stored only with a version read *before* the database query that produced it (the
  first request of a token learns who it belongs to; the second reads the version, then the database),
  so a change that commits while a query runs can never be cached as current.
- Each entry also ends with its session's expiry and after `TTL_SECONDS` at most: the bound for a change
  made outside the app (hand-written SQL on the database) — those are not seen at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from quanzi.accounts.models import AuthSession, User, UserRole
from quanzi.kit import cache
from quanzi.kit.cache import RedisVersions, db_key_of  # noqa: F401 - re-exported for callers and tests
from quanzi.kit.clock import clock

if TYPE_CHECKING:
    from quanzi.accounts.service import Principal

TTL_SECONDS = 30.0
MAX_ENTRIES = 200_000
AUTH_TABLES = frozenset({AuthSession.__tablename__, UserRole.__tablename__, User.__tablename__})
GROUP = "auth"  # the version group of this cache (kit/cache.py); versions are named by person id
ALL = 0  # "everyone": the global version


def versions_for(redis_url: str | None, prefix: str) -> cache.Versions:
    return cache.versions_for(redis_url, prefix, GROUP)


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    expires_at: datetime
    versions: tuple[int, int]
    stored: float  # time.monotonic()


class AuthCache:
    """token → principal for one database. `enabled=False`: every lookup goes to the database."""

    def __init__(self, db_key: str, versions: cache.Versions, *, enabled: bool = True) -> None:
        self.db_key = db_key
        self.versions = versions
        self.enabled = enabled
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._owner: dict[tuple[str, str], int] = {}  # a token's person never changes

    async def principal(self, s_factory: Any, token_hash: str, kind: str) -> Principal | None:
        """The principal behind a token; `s_factory()` opens a read session when the database is needed."""
        from quanzi.accounts import service

        key = (kind, token_hash)
        if not self.enabled:
            return await self._query(s_factory, service, token_hash, kind)
        owner = self._owner.get(key)
        if owner is None:  # first sight: learn whose token it is, cache nothing yet (see module docstring)
            p = await self._query(s_factory, service, token_hash, kind)
            if p is not None:
                self._remember_owner(key, p.user_id)
            return p
        versions = await self.versions.read(self.db_key, (ALL, owner))
        entry = self._entries.get(key)
        if (entry is not None and entry.versions == versions and entry.expires_at > clock.now()
                and time.monotonic() - entry.stored < TTL_SECONDS):
            return entry.principal
        found = await self._query_with_expiry(s_factory, service, token_hash, kind)
        if found is None:
            self._entries.pop(key, None)
            return None
        p, expires_at = found
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = _Entry(p, expires_at, versions, time.monotonic())
        return p

    def _remember_owner(self, key: tuple[str, str], user_id: int) -> None:
        if len(self._owner) >= MAX_ENTRIES:
            self._owner.clear()
        self._owner[key] = user_id

    @staticmethod
    async def _query(s_factory: Any, service: Any, token_hash: str, kind: str) -> Principal | None:
        async with s_factory() as s:
            found = await service.principal_by_hash(s, token_hash, kind)
        return found[0] if found else None

    @staticmethod
    async def _query_with_expiry(s_factory: Any, service: Any, token_hash: str,
                                 kind: str) -> tuple[Principal, datetime] | None:
        async with s_factory() as s:
            return await service.principal_by_hash(s, token_hash, kind)


# --- bumping: SQLAlchemy events see every committed change to the auth tables -----------------------------

def touch(session: Any, *user_ids: int, next_statement: bool = True) -> None:
    """Bump these people's versions when the transaction commits. `next_statement`: they are the people
    the next statement changes, so it bumps only them instead of everyone (a bulk statement's rows are
    otherwise unknown)."""
    cache.touch(session, GROUP, user_ids)
    if next_statement:
        session.info[NAMED] = True


NAMED = "quanzi_auth_named"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, User):
            ids.add(obj.id)
        elif isinstance(obj, UserRole) or (isinstance(obj, AuthSession) and obj not in session.new):
            # a new session row needs no bump: nobody can have cached a token that did not exist yet
            ids.add(obj.user_id)
    ids.discard(None)  # type: ignore[arg-type]
    if ids:
        cache.touch(session, GROUP, ids)


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: Any) -> None:
    stmt = state.statement
    table = getattr(stmt, "table", None)
    if not isinstance(stmt, UpdateBase) or table is None or table.name not in AUTH_TABLES:
        return
    if state.is_insert and table.name != UserRole.__tablename__:
        return  # a new user or a new session: nothing cached can be stale
    info = state.session.info
    if info.pop(NAMED, False) or state.execution_options.get("auth_touched"):
        return  # the service named the people (touch) or says the change does not affect a principal
    cache.touch(state.session, GROUP, {ALL})
