"""Login and logout pages (cookie sessions). Rules live in accounts.service and accounts.login."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from quanzi.accounts import service
from quanzi.accounts.deps import COOKIE, CurrentUser, OptionalUser, Sms
from quanzi.accounts.errors import BadCode
from quanzi.accounts.login import login_code, login_password, send_code
from quanzi.accounts.sms import LogSmsProvider
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.deps import DB, AppSettings, ClientIP, Limiter
from quanzi.kit.errors import DomainError, Forbidden
from quanzi.kit.web import render

router = APIRouter(include_in_schema=False)

SHARE_COOKIE = "qz_share"  # the share link a visitor arrived through (set by referrals)

DEMO_LOGINS = [
    ("运营 operator", "13800000001"),
    ("供应商 supplier", "13800000011"),
    ("店主 shopkeeper", "13800000021"),
    ("粉丝 fan", "13800000101"),
]


def _safe_next(next_url: str | None) -> str:
    return next_url if next_url and next_url.startswith("/") and not next_url.startswith("//") else "/"


# A new code may be asked for once a minute (settings.otp_limit_per_phone starts with 1/minute): the send
# button counts this down instead of letting a fan run into the rate limit.
RESEND_SECONDS = 60


def _login_page(request: Request, settings, status: int = 200, **ctx) -> Response:  # noqa: ANN001, ANN003
    ctx.setdefault("demo_logins", DEMO_LOGINS if settings.demo_hints else None)
    return render(request, "accounts/login.html", ctx, status_code=status)


async def _code_state(db, phone: str) -> dict[str, object]:  # noqa: ANN001
    """While a code sent to `phone` can still be used, the code field stays open (a wrong try, a refused
    resend or a reload does not lock it) and the send button waits out the minute since it was sent."""
    try:
        e164 = service.normalize_phone(phone)
    except DomainError:
        return {}
    async with db.read() as s:
        live = await service.live_code(s, e164)
    if live is None:
        return {}
    resend_at = live.created_at + timedelta(seconds=RESEND_SECONDS)
    return {"code_sent": True, "resend_at": resend_at.isoformat() if resend_at > clock.now() else None,
            "now_iso": clock.now().isoformat()}


def _with_session(next_url: str, token: str, settings) -> Response:  # noqa: ANN001
    resp = RedirectResponse(_safe_next(next_url), status_code=303)
    resp.set_cookie(COOKIE, token, max_age=settings.session_days * 86400, httponly=True, samesite="lax",
                    secure=settings.cookie_secure, path="/")
    return resp


@router.get("/login")
async def login_page(request: Request, me: OptionalUser, settings: AppSettings, next: str = "/",  # noqa: A002
                     need: str | None = None) -> Response:
    if me is not None:
        if need and not me.has(need):
            # Signed in without the role the page needs (e.g. a fan opening /admin/): offer another
            # account here instead of redirecting back to `next`, which would send them here again.
            return _login_page(request, settings, 403, error=Forbidden().text(i18n.short()), next=next,
                               password_open=True)
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, settings, next=next)


@router.post("/login/code")
async def login_send_code(request: Request, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP, sms: Sms,
                          phone: Annotated[str, Form(max_length=32)], next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    try:
        await send_code(db, settings, limiter, sms, phone, ip)
    except DomainError as exc:
        return _login_page(request, settings, exc.status, error=exc.text(i18n.short()), phone=phone, next=next,
                           **await _code_state(db, phone))
    normalized = service.normalize_phone(phone)
    dev_code = sms.last_code(normalized) if isinstance(sms, LogSmsProvider) and settings.demo_hints else None
    return _login_page(request, settings, phone=phone, dev_code=dev_code, next=next, just_sent=True,
                       **{"code_sent": True, **await _code_state(db, phone)})


@router.post("/login")
async def login_submit(request: Request, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP,
                       phone: Annotated[str, Form(max_length=32)], code: Annotated[str, Form(max_length=6)] = "",
                       next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    try:
        _user, token, _roles = await login_code(db, settings, limiter, phone, code, "cookie", ip,
                                                share_token=request.cookies.get(SHARE_COOKIE))
    except DomainError as exc:
        state = await _code_state(db, phone)
        message = exc.text(i18n.short())
        if isinstance(exc, BadCode) and state:  # the code sent is still good: say so, keep the form open
            message = i18n.gettext("That code is not right. Check the text message and type it again: "
                                   "the code we sent is still valid.")
        return _login_page(request, settings, exc.status, error=message, phone=phone, next=next, **state)
    return _with_session(next, token, settings)


@router.post("/login/password")
async def login_password_submit(request: Request, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP,
                                phone: Annotated[str, Form(max_length=32)],
                                password: Annotated[str, Form(max_length=128)],
                                next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    try:
        _user, token, _roles = await login_password(db, settings, limiter, phone, password, "cookie", ip,
                                                    share_token=request.cookies.get(SHARE_COOKIE))
    except DomainError as exc:
        return _login_page(request, settings, exc.status, error=exc.text(i18n.short()), phone=phone,
                           password_open=True, next=next)
    return _with_session(next, token, settings)


@router.post("/logout")
async def logout(me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        await service.end_session(s, me.session_id)
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp
