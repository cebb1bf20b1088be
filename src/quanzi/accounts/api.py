"""JSON API for logging in and out. Thin: every rule lives in accounts.service."""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.accounts import service
from quanzi.accounts.deps import CurrentUser, Sms
from quanzi.accounts.login import login_code, login_password, send_code
from quanzi.accounts.schemas import CodeLoginIn, CodeRequestIn, CodeRequestOut, MeOut, PasswordIn, PasswordLoginIn, TokenOut
from quanzi.kit.deps import DB, AppSettings, ClientIP, Limiter

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _me(user, roles) -> MeOut:  # noqa: ANN001
    return MeOut(id=user.id, phone=user.phone, nickname=user.nickname, roles=sorted(roles))


@router.post("/code", status_code=202)
async def request_code(body: CodeRequestIn, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP,
                       sms: Sms) -> CodeRequestOut:
    ttl = await send_code(db, settings, limiter, sms, body.phone, ip)
    return CodeRequestOut(sent=True, expires_in=ttl)


@router.post("/login/code")
async def login_by_code(body: CodeLoginIn, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP) -> TokenOut:
    user, token, roles = await login_code(db, settings, limiter, body.phone, body.code, "bearer", ip,
                                          share_token=body.share_token)
    return TokenOut(token=token, user=_me(user, roles))


@router.post("/login/password")
async def login_by_password(body: PasswordLoginIn, db: DB, settings: AppSettings, limiter: Limiter,
                            ip: ClientIP) -> TokenOut:
    user, token, roles = await login_password(db, settings, limiter, body.phone, body.password, "bearer", ip)
    return TokenOut(token=token, user=_me(user, roles))


@router.post("/logout", status_code=204)
async def logout(me: CurrentUser, db: DB) -> None:
    async with db.write() as s:
        await service.end_session(s, me.session_id)


@router.get("/me")
async def whoami(me: CurrentUser) -> MeOut:
    return MeOut(id=me.user_id, phone=me.phone, nickname=me.nickname, roles=sorted(me.roles))


@router.put("/me/password", status_code=204)
async def change_password(body: PasswordIn, me: CurrentUser, db: DB) -> None:
    async with db.write() as s:
        await service.set_password(s, me.user_id, body.password)
