from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from quanzi.accounts.schemas import MeOut, PhoneStr
from quanzi.kit.schemas import In, Out

WxCode = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class JsConfigOut(Out):
    """The arguments of `wx.config` for one page URL (JS-SDK appendix 1)."""

    appId: str  # noqa: N815 - WeChat's names, passed to wx.config as they are
    timestamp: int
    nonceStr: str  # noqa: N815
    signature: str
    jsApiList: list[str]  # noqa: N815


class MiniLoginIn(In):
    code: WxCode  # from wx.login()


class BindIn(In):
    bind_token: Annotated[str, Field(min_length=10, max_length=600)]
    phone: PhoneStr
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class WechatLoginOut(Out):
    """`ok`: logged in (token). `phone_required`: a WeChat we do not know yet — verify a phone once with a
    one-time code (POST /api/auth/code, then POST /api/wechat/bind with bind_token) and it is bound."""

    status: Literal["ok", "phone_required"]
    token: str | None = None
    token_type: str = "bearer"
    user: MeOut | None = None
    bind_token: str | None = None
