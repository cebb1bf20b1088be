"""Request and response models of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from quanzi.kit.schemas import In, Out

HHMM = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class NotificationOut(Out):
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(Out):
    items: list[NotificationOut]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null at the end")
    unread: int = Field(description="Unread messages, counted up to 100")


class ChannelChoice(In):
    sms: bool = False
    wechat: bool = False


class QuietHours(In):
    start: HHMM
    end: HHMM


class SettingsIn(In):
    locale: Literal["zh_CN", "en"] = "zh_CN"
    quiet_hours: QuietHours | None = Field(None, description="China time; null = no quiet hours")
    channels: dict[Annotated[str, Field(max_length=40)], ChannelChoice] = Field(
        default_factory=dict, description="Per kind, SMS and WeChat on or off (in-app is always on)")


class KindOut(Out):
    kind: str
    label: str
    sms: bool
    wechat: bool


class SettingsOut(Out):
    locale: str
    quiet_hours: QuietHours | None
    kinds: list[KindOut]


class ReadAllOut(Out):
    marked: int


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes(value: str) -> int:
    h, m = value.split(":")
    return int(h) * 60 + int(m)


def settings_out(prefs: Any, lang: str) -> SettingsOut:
    from quanzi.notifications import catalog

    return SettingsOut(
        locale=prefs.locale,
        quiet_hours=QuietHours(start=hhmm(prefs.quiet[0]), end=hhmm(prefs.quiet[1])) if prefs.quiet else None,
        kinds=[KindOut(kind=k.name, label=k.label[lang], **prefs.channels[k.name]) for k in catalog.SETTABLE])
