from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class AccountCode(StrEnum):
    INVALID_PHONE = "accounts.invalid_phone"
    BAD_CODE = "accounts.bad_code"
    BAD_CREDENTIALS = "accounts.bad_credentials"
    WEAK_PASSWORD = "accounts.weak_password"
    DISABLED = "accounts.disabled"
    ROLE_UNKNOWN = "accounts.role_unknown"


class InvalidPhone(DomainError):
    status = 422
    code = AccountCode.INVALID_PHONE
    message = {"zh": "请输入有效的手机号码", "en": "Enter a valid mobile phone number"}


class BadCode(DomainError):
    status = 400
    code = AccountCode.BAD_CODE
    message = {"zh": "验证码错误或已过期，请重新获取", "en": "The code is wrong or expired; request a new one"}


class BadCredentials(DomainError):
    status = 400
    code = AccountCode.BAD_CREDENTIALS
    message = {"zh": "手机号或密码错误", "en": "Wrong phone number or password"}


class WeakPassword(DomainError):
    status = 422
    code = AccountCode.WEAK_PASSWORD
    message = {"zh": "密码至少需要 8 位", "en": "The password needs at least 8 characters"}


class AccountDisabled(DomainError):
    status = 403
    code = AccountCode.DISABLED
    message = {"zh": "该账号已停用", "en": "This account is disabled"}


class UnknownRole(DomainError):
    status = 422
    code = AccountCode.ROLE_UNKNOWN
    message = {"zh": "未知角色：{role}", "en": "Unknown role: {role}"}
