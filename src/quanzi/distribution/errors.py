from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class DistCode(StrEnum):
    TOO_MANY_LEVELS = "distribution.too_many_levels"
    RATE_CAP = "distribution.rate_cap_exceeded"
    HEADCOUNT = "distribution.headcount_criteria_forbidden"
    PAID_STATUS = "distribution.paid_status_forbidden"
    FREEZE_TOO_SHORT = "distribution.freeze_shorter_than_return_window"
    UNKNOWN_CRITERION = "distribution.unknown_criterion"
    NOT_DISTRIBUTOR = "distribution.not_a_distributor"
    ALREADY_APPLIED = "distribution.already_applied"
    NOT_FOUND = "distribution.not_found"


class TooManyLevels(DomainError):
    status = 422
    code = DistCode.TOO_MANY_LEVELS
    message = {"zh": "分销层级最多 2 级(法规禁止多级分销)", "en": "At most 2 commission levels are allowed by law"}


class RateCapExceeded(DomainError):
    status = 422
    code = DistCode.RATE_CAP
    message = {"zh": "一级与二级佣金比例之和({total}‱)超过平台上限({cap}‱)",
               "en": "Level-1 + level-2 rates ({total} bp) exceed the platform cap ({cap} bp)"}


class HeadcountCriteria(DomainError):
    status = 422
    code = DistCode.HEADCOUNT
    message = {"zh": "不得以发展人数作为升级或计酬条件", "en": "Head-count of recruits cannot be a criterion"}


class PaidStatus(DomainError):
    status = 422
    code = DistCode.PAID_STATUS
    message = {"zh": "分销资格不得通过付费或购买商品获得", "en": "Distributor status cannot be bought"}


class FreezeTooShort(DomainError):
    status = 422
    code = DistCode.FREEZE_TOO_SHORT
    message = {"zh": "佣金冻结期必须在 {min}–180 天之间，且不短于退货期",
               "en": "The freeze must be {min}–180 days and never shorter than the return window"}


class UnknownCriterion(DomainError):
    status = 422
    code = DistCode.UNKNOWN_CRITERION
    message = {"zh": "未知的升级条件：{kind}", "en": "Unknown upgrade criterion: {kind}"}


class NotADistributor(DomainError):
    status = 403
    code = DistCode.NOT_DISTRIBUTOR
    message = {"zh": "你还不是分销员", "en": "You are not a distributor"}


class AlreadyApplied(DomainError):
    status = 409
    code = DistCode.ALREADY_APPLIED
    message = {"zh": "你已经提交过申请了(状态：{status})", "en": "You already applied (status: {status})"}


class DistributorNotFound(DomainError):
    status = 404
    code = DistCode.NOT_FOUND
    message = {"zh": "分销员不存在", "en": "Distributor not found"}
