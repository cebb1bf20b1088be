"""Signed, expiring share tokens: HMAC over (sharer, kind, target, issue time). A raw user id never binds.

The codec lives in kit because both distribution (posters, share links) and referrals (landing, binding)
read it and distribution sits below referrals; what a token does when it lands is referrals' rule.

Format: v1.<sharer>.<kind>.<target>.<issued, base 36>.<signature>   kinds: s shop, p product, c campaign, g group, b bargain, q community invite
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from enum import StrEnum

from quanzi.kit.errors import DomainError
from quanzi.kit.security import sign, verify_signature

class ShareCode(StrEnum):
    BAD_TOKEN = "share.bad_token"
    EXPIRED = "share.expired"


class BadShareToken(DomainError):
    status = 400
    code = ShareCode.BAD_TOKEN
    message = {"zh": "分享链接无效或已被篡改", "en": "This share link is invalid or has been altered"}


class ExpiredShareToken(DomainError):
    status = 410
    code = ShareCode.EXPIRED
    message = {"zh": "分享链接已过期，请向分享人索取新链接", "en": "This share link has expired; ask for a new one"}


KINDS = {"s": "shop", "p": "product", "c": "campaign", "g": "group", "b": "bargain", "q": "community"}
PURPOSE = "share-v1"


@dataclass(frozen=True)
class ShareToken:
    sharer_id: int
    kind: str
    target_id: int
    issued_at: datetime
    raw: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw.encode()).hexdigest()


def _b36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = chars[r] + out
        if n == 0:
            return out


def issue(secret: str, sharer_id: int, kind: str, target_id: int, now: datetime) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown share kind {kind!r}")
    body = f"v1.{sharer_id}.{kind}.{target_id}.{_b36(int(now.timestamp()))}"
    return f"{body}.{sign(secret, body, purpose=PURPOSE)[:22]}"


def verify(secret: str, token: str, now: datetime, max_age_days: int) -> ShareToken:
    parts = (token or "").split(".")
    if len(parts) != 6 or parts[0] != "v1" or len(token) > 120:
        raise BadShareToken()
    body, sig = ".".join(parts[:5]), parts[5]
    if not verify_signature(secret, body, sig, purpose=PURPOSE, prefix=True):
        raise BadShareToken()
    try:
        sharer_id, target_id, issued = int(parts[1]), int(parts[3]), int(parts[4], 36)
    except ValueError as exc:
        raise BadShareToken() from exc
    if parts[2] not in KINDS:
        raise BadShareToken()
    issued_at = datetime.fromtimestamp(issued, UTC)
    if issued_at > now + timedelta(minutes=5):
        raise BadShareToken()
    if now - issued_at > timedelta(days=max_age_days):
        raise ExpiredShareToken()
    return ShareToken(sharer_id, parts[2], target_id, issued_at, token)


def salvage(token: str) -> tuple[str, int] | None:
    """(kind, target id) of a link that failed `verify` — its signature cut off or altered, or expired — when the
    target can still be read without guessing: the parts after it (issue time, signature) show where it ends.
    Never a sharer: such a link credits nobody."""
    parts = (token or "").strip().split(".")
    if len(parts) < 5 or parts[0] != "v1" or parts[2] not in KINDS or len(token) > 200:
        return None
    try:
        target = int(parts[3])
    except ValueError:
        return None
    return (parts[2], target) if 0 < target < 2**31 else None
