from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class ReferralCode(StrEnum):
    BAD_TOKEN = "share.bad_token"
    EXPIRED = "share.expired"
    NOT_DISTRIBUTOR = "share.sharer_not_distributor"


class BadShareToken(DomainError):
    status = 400
    code = ReferralCode.BAD_TOKEN
    message = {"zh": "分享链接无效或已被篡改", "en": "This share link is invalid or has been altered"}


class ExpiredShareToken(DomainError):
    status = 410
    code = ReferralCode.EXPIRED
    message = {"zh": "分享链接已过期，请向分享人索取新链接", "en": "This share link has expired; ask for a new one"}
