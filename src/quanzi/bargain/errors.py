from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class BargainCode(StrEnum):
    DISABLED = "bargain.disabled"
    NOT_FOUND = "bargain.not_found"
    BAD_CONFIG = "bargain.bad_config"
    NOT_ACTIVE = "bargain.not_active"
    ALREADY_HELPED = "bargain.already_helped"
    HELP_LIMIT = "bargain.help_limit"
    LAUNCH_LIMIT = "bargain.launch_limit"
    SELF_HELP = "bargain.self_help"
    NOT_YET = "bargain.floor_not_reached"
    OUT_OF_WINDOW = "bargain.activity_closed"


class BargainDisabled(DomainError):
    status = 404
    code = BargainCode.DISABLED
    message = {"zh": "砍价活动暂未开放", "en": "Bargains are switched off"}


class BargainNotFound(DomainError):
    status = 404
    code = BargainCode.NOT_FOUND
    message = {"zh": "砍价不存在", "en": "Bargain not found"}


class BadConfig(DomainError):
    status = 422
    code = BargainCode.BAD_CONFIG
    message = {"zh": "砍价设置不可行：{why}", "en": "These bargain settings cannot work: {why}"}


class NotActive(DomainError):
    status = 409
    code = BargainCode.NOT_ACTIVE
    message = {"zh": "这个砍价已经结束了（{status}）", "en": "This bargain is over ({status})"}


class AlreadyHelped(DomainError):
    status = 409
    code = BargainCode.ALREADY_HELPED
    message = {"zh": "你已经帮 TA 砍过了", "en": "You already helped with this bargain"}


class HelpLimit(DomainError):
    status = 409
    code = BargainCode.HELP_LIMIT
    message = {"zh": "本活动每人最多帮砍 {limit} 次", "en": "You can help at most {limit} times in this activity"}


class LaunchLimit(DomainError):
    status = 409
    code = BargainCode.LAUNCH_LIMIT
    message = {"zh": "本活动每人最多发起 {limit} 次砍价", "en": "At most {limit} bargains per person in this activity"}


class SelfHelp(DomainError):
    status = 409
    code = BargainCode.SELF_HELP
    message = {"zh": "不能给自己砍价，分享给好友吧", "en": "You cannot help your own bargain; share it with friends"}


class FloorNotReached(DomainError):
    status = 409
    code = BargainCode.NOT_YET
    message = {"zh": "还没砍到底价，再邀请 {left} 位好友", "en": "Not at the floor yet: {left} more helpers needed"}


class ActivityClosed(DomainError):
    status = 409
    code = BargainCode.OUT_OF_WINDOW
    message = {"zh": "活动不在进行中", "en": "This activity is not running"}
