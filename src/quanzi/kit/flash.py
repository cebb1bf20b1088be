"""A one-shot message that survives the POST → 303 → GET of a storefront page: a refusal (sold out, limit
reached, bargain over…) is shown on the page the fan was on, at that page's own address, so a reload never
posts again. Signed and short-lived; read once, then dropped."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from quanzi.kit import i18n
from quanzi.kit.errors import DomainError

COOKIE = "quanzi_notice"
MAX_AGE = 120  # seconds: read by the page the redirect lands on, or dropped


def _signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="quanzi.storefront.notice")


def back_with(request: Request, url: str, message: DomainError | str, kind: str = "error") -> RedirectResponse:
    """303 to `url` (the page the form was on); `message` is shown there once, in the request's language."""
    text = message.text(i18n.short()) if isinstance(message, DomainError) else message
    resp = RedirectResponse(url, status_code=303)
    resp.set_cookie(COOKIE, _signer(request).dumps([kind, text]), max_age=MAX_AGE, httponly=True, samesite="lax",
                    path="/", secure=bool(getattr(request.app.state.settings, "cookie_secure", False)))
    return resp


def take(request: Request) -> tuple[str, str] | None:
    """(kind, message) left by `back_with`, or None. Call `forget` on the response that shows it."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        kind, text = _signer(request).loads(raw, max_age=MAX_AGE)
    except (BadSignature, ValueError):
        return None
    return str(kind), str(text)


def forget(request: Request, resp: Response) -> Response:
    if COOKIE in request.cookies:
        resp.delete_cookie(COOKIE, path="/")
    return resp
