from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class WechatCode(StrEnum):
    NOT_CONFIGURED = "wechat.not_configured"
    BAD_STATE = "wechat.bad_state"
    BAD_CODE = "wechat.bad_code"
    UNAVAILABLE = "wechat.unavailable"
    BOUND_TO_OTHER = "wechat.bound_to_other"
    ALREADY_BOUND = "wechat.already_bound"
    BAD_BIND_TOKEN = "wechat.bad_bind_token"
    BAD_URL = "wechat.bad_url"


class WechatNotConfigured(DomainError):
    status = 404
    code = WechatCode.NOT_CONFIGURED
    message = {"zh": "本站未开通微信登录或分享", "en": "WeChat is not enabled on this site"}


class BadState(DomainError):
    status = 400
    code = WechatCode.BAD_STATE
    message = {"zh": "微信登录链接无效或已过期，请重新点击“微信登录”",
               "en": "The WeChat login link is invalid or expired; tap “Log in with WeChat” again"}


class BadCode(DomainError):
    status = 400
    code = WechatCode.BAD_CODE
    message = {"zh": "微信授权码无效或已使用，请重新登录", "en": "The WeChat authorization code is invalid or used; log in again"}


class WechatUnavailable(DomainError):
    status = 502
    code = WechatCode.UNAVAILABLE
    message = {"zh": "微信服务暂时不可用，请稍后再试", "en": "WeChat is unavailable right now; try again later"}


class BoundToOther(DomainError):
    status = 409
    code = WechatCode.BOUND_TO_OTHER
    message = {"zh": "这个微信已绑定了另一个手机号账号", "en": "This WeChat account is already bound to another phone account"}


class AlreadyBound(DomainError):
    status = 409
    code = WechatCode.ALREADY_BOUND
    message = {"zh": "你的账号已绑定了另一个微信", "en": "Your account is already bound to another WeChat account"}


class BadBindToken(DomainError):
    status = 400
    code = WechatCode.BAD_BIND_TOKEN
    message = {"zh": "微信绑定已过期，请重新用微信登录", "en": "The WeChat binding expired; log in with WeChat again"}


class BadShareUrl(DomainError):
    status = 422
    code = WechatCode.BAD_URL
    message = {"zh": "只能为本站的页面生成分享签名", "en": "Share signatures are only made for pages of this site"}
