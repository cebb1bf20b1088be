from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class WithdrawCode(StrEnum):
    BELOW_MINIMUM = "withdrawal.below_minimum"
    METHOD = "withdrawal.method_not_allowed"
    NOT_FOUND = "withdrawal.not_found"
    INSUFFICIENT = "withdrawal.insufficient_balance"
    FROZEN = "withdrawal.account_frozen"
    UNAVAILABLE = "withdrawal.method_unavailable"
    NO_OPENID = "withdrawal.no_wechat_openid"
    NOT_OFFLINE = "withdrawal.not_offline"


class BelowMinimum(DomainError):
    status = 422
    code = WithdrawCode.BELOW_MINIMUM
    message = {"zh": "单次提现至少 {min_yuan} 元", "en": "Withdraw at least ¥{min_yuan}"}


class MethodNotAllowed(DomainError):
    status = 422
    code = WithdrawCode.METHOD
    message = {"zh": "不支持的提现方式", "en": "This withdrawal method is not available"}


class WithdrawalNotFound(DomainError):
    status = 404
    code = WithdrawCode.NOT_FOUND
    message = {"zh": "提现申请不存在", "en": "Withdrawal not found"}


class NotEnoughAvailable(DomainError):
    status = 409
    code = WithdrawCode.INSUFFICIENT
    message = {"zh": "可提现余额不足", "en": "Not enough available balance to withdraw"}


class AccountFrozen(DomainError):
    status = 403
    code = WithdrawCode.FROZEN
    message = {"zh": "你的分销资格已被平台冻结，暂时不能提现，请联系平台客服",
               "en": "Your distributor account is frozen by the platform; withdrawals are paused. Please contact support"}


class MethodUnavailable(DomainError):
    status = 422
    code = WithdrawCode.UNAVAILABLE
    message = {"zh": "平台暂未开通这种提现方式的付款渠道，请选择其他方式",
               "en": "The platform cannot pay out this way yet; choose another withdrawal method"}


class NoWechatOpenid(DomainError):
    status = 409
    code = WithdrawCode.NO_OPENID
    message = {"zh": "提现到微信零钱需要先绑定微信：请在微信里打开本站并用微信登录一次",
               "en": "Withdrawing to WeChat needs your WeChat bound first: open this site in WeChat and log in with "
                     "WeChat once"}


class NotOffline(DomainError):
    status = 409
    code = WithdrawCode.NOT_OFFLINE
    message = {"zh": "这笔提现由支付渠道自动打款，不能手工确认", "en": "This withdrawal is paid by a provider, not confirmed by hand"}
