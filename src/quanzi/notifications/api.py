"""Notifications JSON API: my messages (keyset pages), mark read, my notification settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from quanzi.accounts.deps import CurrentUser
from quanzi.kit import i18n
from quanzi.kit.deps import DB
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.notifications import service
from quanzi.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    ReadAllOut,
    SettingsIn,
    SettingsOut,
    minutes,
    settings_out,
)

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@router.get("")
async def my_notifications(db: DB, me: CurrentUser, before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                           limit: Annotated[int, Query(ge=1, le=50)] = 20) -> NotificationPage:
    async with db.read() as s:
        items, next_before = await service.page(s, me.user_id, before=before, limit=limit)
        unread = await service.unread_count(s, me.user_id)
    return NotificationPage(items=[NotificationOut.model_validate(n) for n in items], next_before=next_before,
                            unread=unread)


@router.get("/unread-count")
async def unread_count(db: DB, me: CurrentUser) -> dict[str, int]:
    async with db.read() as s:
        return {"unread": await service.unread_count(s, me.user_id)}


@router.post("/read-all")
async def read_all(db: DB, me: CurrentUser) -> ReadAllOut:
    async with db.write() as s:
        return ReadAllOut(marked=await service.mark_all_read(s, me.user_id))


@router.post("/{notification_id}/read")
async def read_one(notification_id: PathId, db: DB, me: CurrentUser) -> NotificationOut:
    async with db.write() as s:
        return NotificationOut.model_validate(await service.mark_read(s, me.user_id, notification_id))


@router.get("/settings")
async def get_settings(db: DB, me: CurrentUser) -> SettingsOut:
    async with db.read() as s:
        return settings_out(await service.preferences(s, me.user_id), i18n.short())


@router.put("/settings")
async def put_settings(body: SettingsIn, db: DB, me: CurrentUser) -> SettingsOut:
    quiet = (minutes(body.quiet_hours.start), minutes(body.quiet_hours.end)) if body.quiet_hours else None
    async with db.write() as s:
        prefs = await service.save_preferences(
            s, me.user_id, locale=body.locale, quiet=quiet,
            choices={k: c.model_dump() for k, c in body.channels.items()})
    return settings_out(prefs, i18n.short())
