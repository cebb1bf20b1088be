from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class WithdrawCode(StrEnum):
    BELOW_MINIMUM = "withdrawal.below_minimum"
    METHOD = "withdrawal.method_not_allowed"
    NOT_FOUND = "withdrawal.not_found"
    INSUFFICIENT = "withdrawal.insufficient_balance"
    FROZEN = "withdrawal.account_frozen"


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
