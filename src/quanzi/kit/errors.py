"""The DomainError family: every failure a user can cause, with a stable code, HTTP status and zh/en text.

Domains subclass DomainError in their own errors.py. Handlers in kit/web.py render them as JSON for
the API and as a friendly page for browsers.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "error"
    message: ClassVar[dict[str, str]] = {"zh": "请求有误", "en": "Bad request"}

    def __init__(self, message: dict[str, str] | None = None, **detail: Any) -> None:
        self.detail = detail
        if message is not None:
            self.message = message  # type: ignore[misc]
        super().__init__(f"{self.code}: {self.message.get('en')}")

    def text(self, lang: str) -> str:
        base = self.message.get("en" if lang == "en" else "zh") or self.message.get("en", self.code)
        try:
            return base.format(**self.detail)
        except (KeyError, IndexError, ValueError):
            return base

    def to_json(self, lang: str) -> dict[str, Any]:
        body: dict[str, Any] = {"code": str(self.code), "message": self.text(lang)}
        if self.detail:
            body["detail"] = {k: v for k, v in self.detail.items() if _jsonable(v)}
        return body


def _jsonable(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool, type(None), list, dict))


class CommonCode(StrEnum):
    INVALID = "request.invalid"
    NOT_FOUND = "not_found"
    UNAUTHENTICATED = "auth.required"
    FORBIDDEN = "auth.forbidden"
    CSRF = "auth.csrf_failed"
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"
    IDEMPOTENCY_MISMATCH = "idempotency.key_reused"
    IDEMPOTENCY_IN_FLIGHT = "idempotency.in_flight"
    ILLEGAL_TRANSITION = "state.illegal_transition"
    INTERNAL = "internal_error"


class InvalidInput(DomainError):
    status = 422
    code = CommonCode.INVALID
    message = {"zh": "提交的内容有误", "en": "The request is not valid"}


class NotFound(DomainError):
    status = 404
    code = CommonCode.NOT_FOUND
    message = {"zh": "找不到该内容", "en": "Not found"}


class Unauthenticated(DomainError):
    status = 401
    code = CommonCode.UNAUTHENTICATED
    message = {"zh": "请先登录", "en": "Please log in"}


class Forbidden(DomainError):
    status = 403
    code = CommonCode.FORBIDDEN
    message = {"zh": "没有权限执行此操作", "en": "You are not allowed to do this"}


class CsrfFailed(DomainError):
    status = 403
    code = CommonCode.CSRF
    message = {"zh": "页面已过期，请刷新后重试", "en": "The page expired; reload and try again"}


class RateLimited(DomainError):
    status = 429
    code = CommonCode.RATE_LIMITED
    message = {"zh": "操作太频繁，请稍后再试", "en": "Too many attempts; try again later"}


class IdempotencyKeyReused(DomainError):
    status = 409
    code = CommonCode.IDEMPOTENCY_MISMATCH
    message = {
        "zh": "同一个幂等键已用于另一个请求",
        "en": "This Idempotency-Key was already used for a different request",
    }


class IdempotencyInFlight(DomainError):
    status = 409
    code = CommonCode.IDEMPOTENCY_IN_FLIGHT
    message = {"zh": "相同的请求正在处理中", "en": "The same request is still being processed"}


class IllegalTransition(DomainError):
    status = 409
    code = CommonCode.ILLEGAL_TRANSITION
    message = {
        "zh": "当前状态({current})不允许变为 {target}",
        "en": "Cannot go from {current} to {target}",
    }
