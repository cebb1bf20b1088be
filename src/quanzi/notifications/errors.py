"""Error codes of the notifications domain."""

from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class NotificationCode(StrEnum):
    NOT_FOUND = "notifications.not_found"
    UNKNOWN_KIND = "notifications.unknown_kind"
    BAD_QUIET_HOURS = "notifications.bad_quiet_hours"
    SMS_UNAVAILABLE = "notifications.sms_unavailable"


class NotificationNotFound(DomainError):
    status = 404
    code = NotificationCode.NOT_FOUND
    message = {"zh": "消息不存在", "en": "Message not found"}


class UnknownKind(DomainError):
    status = 422
    code = NotificationCode.UNKNOWN_KIND
    message = {"zh": "没有这种通知：{kind}", "en": "No such notification: {kind}"}


class BadQuietHours(DomainError):
    status = 422
    code = NotificationCode.BAD_QUIET_HOURS
    message = {"zh": "免打扰时段需为 00:00–23:59 之间的时间", "en": "Quiet hours must be times between 00:00 and 23:59"}


class SmsUnavailable(DomainError):
    # The provider did not take the text (outage, quota): the code is issued, asking again later works.
    status = 503
    code = NotificationCode.SMS_UNAVAILABLE
    message = {"zh": "短信暂时发送失败，请稍后重试", "en": "The text message could not be sent; try again shortly"}


class ProductionConfigError(RuntimeError):
    """A production configuration that would run on development stand-ins: the process refuses to start."""
