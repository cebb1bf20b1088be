"""Notification rules: write a message once per event and person, choose channels by the person's preferences,
hold SMS/WeChat through quiet hours (China time), send each through the outbox, and the message centre's
reads (keyset pages, unread count, mark read)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.sms import phone_of
from quanzi.kit import outbox
from quanzi.kit.clock import as_utc, clock
from quanzi.kit.db import Database, guarded_update, insert_ignore
from quanzi.notifications import catalog, channels
from quanzi.notifications.catalog import CHANNELS, KINDS, SMS, WECHAT
from quanzi.notifications.errors import BadQuietHours, NotificationNotFound, UnknownKind
from quanzi.notifications.models import Delivery, Notification, NotificationSettings

log = structlog.get_logger("quanzi.notifications")

CHINA = ZoneInfo("Asia/Shanghai")
DAY = 24 * 60

# Where a person's WeChat openid comes from: the domain that binds WeChat accounts registers it
# (`set_openid_lookup`); without one, WeChat deliveries are skipped.
OpenidLookup = Callable[[AsyncSession, int], Awaitable[str | None]]
_openid_lookup: OpenidLookup | None = None


def set_openid_lookup(fn: OpenidLookup | None) -> None:
    global _openid_lookup
    _openid_lookup = fn


def has_openid_lookup() -> bool:
    return _openid_lookup is not None


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def china_time(at: datetime) -> str:
    return as_utc(at).astimezone(CHINA).strftime("%m-%d %H:%M")


# --- preferences ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preferences:
    locale: str
    quiet: tuple[int, int] | None  # (start, end) minutes after midnight, China time
    channels: dict[str, dict[str, bool]]  # every settable kind -> {"sms": bool, "wechat": bool}
    saved: bool

    def on(self, kind: str, channel: str) -> bool:
        if kind not in self.channels:
            return channel in KINDS[kind].default_channels
        return bool(self.channels[kind].get(channel, False))


def _resolve(stored: dict[str, Any]) -> dict[str, dict[str, bool]]:
    out = {}
    for k in catalog.SETTABLE:
        mine = stored.get(k.name) or {}
        out[k.name] = {ch: bool(mine.get(ch, ch in k.default_channels)) for ch in CHANNELS}
    return out


async def preferences(s: AsyncSession, user_id: int) -> Preferences:
    row = await s.get(NotificationSettings, user_id)
    if row is None:
        return Preferences("zh_CN", catalog.DEFAULT_QUIET, _resolve({}), False)
    quiet = None if row.quiet_start is None or row.quiet_end is None or row.quiet_start == row.quiet_end \
        else (row.quiet_start, row.quiet_end)
    return Preferences(row.locale, quiet, _resolve(row.channels or {}), True)


async def save_preferences(s: AsyncSession, user_id: int, *, locale: str, quiet: tuple[int, int] | None,
                           choices: dict[str, dict[str, bool]]) -> Preferences:
    """Replace this person's settings. Unknown kinds or channels are refused; kinds left out keep defaults."""
    for kind, chans in choices.items():
        if kind not in KINDS or not KINDS[kind].in_app:
            raise UnknownKind(kind=kind)
        if set(chans) - set(CHANNELS):
            raise UnknownKind(kind=f"{kind}.{','.join(sorted(set(chans) - set(CHANNELS)))}")
    if quiet is not None and not all(0 <= m < DAY for m in quiet):
        raise BadQuietHours()
    values = {"locale": "en" if locale == "en" else "zh_CN",
              "quiet_start": quiet[0] if quiet else None, "quiet_end": quiet[1] if quiet else None,
              "channels": {k: {ch: bool(v) for ch, v in c.items()} for k, c in choices.items()},
              "updated_at": clock.now()}
    if not await insert_ignore(s, NotificationSettings, {"user_id": user_id, **values}, ["user_id"]):
        await s.execute(update(NotificationSettings).where(NotificationSettings.user_id == user_id).values(**values))
    s.expire_all()
    return await preferences(s, user_id)


def quiet_until(now: datetime, quiet: tuple[int, int] | None) -> datetime | None:
    """The end of the quiet hours `now` falls in (UTC), or None when `now` is not quiet."""
    if quiet is None or quiet[0] == quiet[1]:
        return None
    start, end = quiet
    local = as_utc(now).astimezone(CHINA)
    minute = local.hour * 60 + local.minute
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if start < end:
        inside = start <= minute < end
        until = midnight + timedelta(minutes=end)
    else:  # across midnight, e.g. 22:00–08:00
        inside = minute >= start or minute < end
        until = midnight + timedelta(minutes=end) + (timedelta(days=1) if minute >= start else timedelta(0))
    return as_utc(until) if inside else None


# --- writing a message ------------------------------------------------------------------------------------

async def notify(s: AsyncSession, *, event_key: str, user_id: int, kind: str, params: catalog.Params,
                 link: str | None = None) -> int | None:
    """Put the message of `kind` in the person's centre, in their language, and queue its SMS/WeChat sends.

    Exactly once per (event_key, person, kind): a second call (the outbox ran the handler again) writes
    nothing and queues nothing. Returns the new message id, or None if it already existed."""
    k = KINDS[kind]
    if not k.in_app:
        raise UnknownKind(kind=kind)
    prefs = await preferences(s, user_id)
    title, body = catalog.render(kind, catalog.lang_of(prefs.locale), params)
    now = clock.now()
    if not await insert_ignore(s, Notification, {
        "user_id": user_id, "kind": kind, "event_key": event_key[:120], "title": title[:120], "body": body[:500],
        "link": link, "data": params, "created_at": now, "read_at": None,
    }, ["event_key", "user_id", "kind"]):
        return None
    nid = (await s.execute(select(Notification.id).where(
        Notification.event_key == event_key[:120], Notification.user_id == user_id, Notification.kind == kind,
    ))).scalar_one()
    held = quiet_until(now, prefs.quiet)
    for channel in CHANNELS:
        if not prefs.on(kind, channel) or (channel == WECHAT and channels.wechat() is None):
            continue
        d = Delivery(notification_id=nid, user_id=user_id, channel=channel, status="pending", attempts=0,
                     held_until=held, created_at=now)
        s.add(d)
        await s.flush()
        await outbox.emit(s, f"notifications.{channel}", {"delivery_id": d.id},
                          delay=(held - now) if held else None)
    return nid


# --- sending through a channel ------------------------------------------------------------------------------

async def _finish(db: Database, delivery_id: int, status: str, **values: Any) -> None:
    async with db.write() as s:
        await guarded_update(s, update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "pending")
                             .values(status=status, **values))


async def send(db: Database, delivery_id: int) -> str:
    """Send one delivery (an outbox handler, outside any transaction while the provider is called).

    Checked again at send time: the person may have switched the channel off, and a retry may fall into
    quiet hours (then it is held again). A transient failure raises, and the outbox retries with backoff."""
    now = clock.now()
    async with db.write() as s:
        d = await s.get(Delivery, delivery_id)
        if d is None or d.status != "pending":
            return "done"
        n = await s.get(Notification, d.notification_id)
        assert n is not None
        prefs = await preferences(s, d.user_id)
        if not prefs.on(n.kind, d.channel):
            d.status, d.last_error = "skipped", "switched off by the person"
            return "skipped"
        held = quiet_until(now, prefs.quiet)
        if held is not None:
            d.held_until = held
            await outbox.emit(s, f"notifications.{d.channel}", {"delivery_id": d.id}, delay=held - now)
            return "held"
        d.attempts += 1
        attempts = d.attempts
        lang = catalog.lang_of(prefs.locale)
        params = catalog.localized(n.data or {}, lang)
        kind, text, link, channel = n.kind, n.body, n.link, d.channel
        address = await phone_of(s, d.user_id) if channel == SMS else \
            (await _openid_lookup(s, d.user_id) if _openid_lookup else None)
    if address is None:
        await _finish(db, delivery_id, "skipped", last_error=f"no {channel} address")
        return "skipped"
    try:
        if channel == SMS:
            ref = await channels.sms().send(channels.SmsMessage(address, kind, params, text))
        else:
            client = channels.wechat()
            if client is None:
                raise channels.PermanentFailure("WeChat subscription messages are not configured")
            ref = await client.send(address, kind, params, link, lang)
    except channels.PermanentFailure as exc:
        log.warning("notifications.refused", delivery_id=delivery_id, channel=channel, error=str(exc))
        await _finish(db, delivery_id, "failed", last_error=str(exc)[:500])
        return "failed"
    except Exception as exc:
        if attempts >= channels.max_attempts():  # the outbox would give up too: say so on the delivery
            await _finish(db, delivery_id, "failed", last_error=repr(exc)[:500])
            return "failed"
        async with db.write() as s:
            await s.execute(update(Delivery).where(Delivery.id == delivery_id).values(last_error=repr(exc)[:500]))
        raise
    await _finish(db, delivery_id, "sent", provider_ref=ref[:100], sent_at=clock.now(), last_error=None)
    return "sent"


# --- the message centre --------------------------------------------------------------------------------------

async def page(s: AsyncSession, user_id: int, *, before: int | None = None, limit: int = 20,
               ) -> tuple[list[Notification], int | None]:
    """Newest first, `limit` at a time; the cursor is the last id shown (keyset: no OFFSET scans)."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = list((await s.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


async def unread_count(s: AsyncSession, user_id: int, cap: int = 100) -> int:
    """Unread messages, counted up to `cap` (the badge shows 99+): bounded however many pile up."""
    inner = select(Notification.id).where(Notification.user_id == user_id, Notification.read_at.is_(None)) \
        .limit(cap).subquery()
    return int((await s.execute(select(func.count()).select_from(inner))).scalar_one())


async def get(s: AsyncSession, user_id: int, notification_id: int) -> Notification:
    n = await s.get(Notification, notification_id)
    if n is None or n.user_id != user_id:
        raise NotificationNotFound()
    return n


async def mark_read(s: AsyncSession, user_id: int, notification_id: int) -> Notification:
    n = await get(s, user_id, notification_id)
    await guarded_update(s, update(Notification).where(Notification.id == n.id, Notification.read_at.is_(None))
                         .values(read_at=clock.now()))
    await s.refresh(n)
    return n


async def mark_all_read(s: AsyncSession, user_id: int) -> int:
    return await guarded_update(s, update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)).values(read_at=clock.now()))


async def deliveries_of(s: AsyncSession, notification_id: int) -> list[Delivery]:
    return list((await s.execute(select(Delivery).where(Delivery.notification_id == notification_id)
                                 .order_by(Delivery.id))).scalars())
