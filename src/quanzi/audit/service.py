"""Audit trail written in the same transaction as the change (a before_flush hook), never after it.

`record()` is for services that change things on an operator's behalf; `AuditedSession` records every
change the generic back office (sqladmin) makes, with the acting operator taken from a context variable.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from quanzi.audit.models import AuditLog
from quanzi.kit.clock import clock

current_actor: ContextVar[int | None] = ContextVar("audit_actor", default=None)
SECRET_COLUMNS = {"password_hash", "token_hash", "code_hash"}


def _plain(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def record(session: AsyncSession | Session, actor_id: int | None, action: str, entity: str, entity_id: Any,
           changes: dict[str, Any] | None = None) -> None:
    session.add(AuditLog(actor_id=actor_id, action=action, entity=entity,
                         entity_id=None if entity_id is None else str(entity_id),
                         changes=changes, at=clock.now()))


def _diff(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in SECRET_COLUMNS:
            continue
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            out[attr.key] = [_plain(old), _plain(new)]
    return out


def _entity_id(obj: Any) -> str | None:
    """The object's primary key as text, from the mapped columns when there is no identity key yet:
    in after_flush a freshly inserted row has its id but `inspect(obj).identity` is still None (it is set
    only when the flush is finalised), so new rows used to be audited with entity_id NULL."""
    state = inspect(obj)
    pk = state.identity or state.mapper.primary_key_from_instance(obj)
    if not pk or any(v is None for v in pk):
        return None
    return str(pk[0]) if len(pk) == 1 else ",".join(str(v) for v in pk)


def _snapshot(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {a.key: _plain(getattr(obj, a.key)) for a in state.mapper.column_attrs if a.key not in SECRET_COLUMNS}


class AuditedSession(Session):
    """Sync session class behind the back office's AsyncSession."""


@event.listens_for(AuditedSession, "before_flush")
def _audit_before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    actor = current_actor.get()
    rows: list[AuditLog] = []
    now = clock.now()
    session.info["audit_new"] = [o for o in session.new if not isinstance(o, AuditLog)]
    for obj in list(session.dirty):
        if not isinstance(obj, AuditLog) and session.is_modified(obj):
            rows.append(AuditLog(actor_id=actor, action="update", entity=obj.__tablename__,
                                 entity_id=_entity_id(obj),
                                 changes=_diff(obj), at=now))
    for obj in list(session.deleted):
        if not isinstance(obj, AuditLog):
            rows.append(AuditLog(actor_id=actor, action="delete", entity=obj.__tablename__,
                                 entity_id=_entity_id(obj),
                                 changes=_snapshot(obj), at=now))
    session.add_all(rows)


@event.listens_for(AuditedSession, "after_flush")
def _audit_created(session: Session, _ctx: Any) -> None:
    # New rows have their primary keys only now; write their audit rows on the same connection.
    created = session.info.pop("audit_new", [])
    if not created:
        return
    actor, now = current_actor.get(), clock.now()
    session.connection().execute(
        AuditLog.__table__.insert(),
        [{"actor_id": actor, "action": "create", "entity": o.__tablename__,
          "entity_id": _entity_id(o),
          "changes": _snapshot(o), "at": now} for o in created],
    )
