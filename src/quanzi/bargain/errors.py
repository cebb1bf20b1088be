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
    """`status` (kept in the error's detail for API clients) says why; the words say it for people."""

    status = 409
    code = BargainCode.NOT_ACTIVE
    message = {"zh": "这个砍价已经结束了", "en": "This bargain is over"}
    WORDS: dict[str, dict[str, str]] = {
        "succeeded": {"zh": "已经砍到底价了，不用再砍啦", "en": "This bargain already reached its floor price"},
        "purchased": {"zh": "发起人已经按砍后价买下了，不用再砍啦", "en": "The launcher already bought it at the bargained price"},
        "expired": {"zh": "这个砍价已经过期了", "en": "This bargain has expired"},
        "busy": {"zh": "帮砍的人太多了，请再试一次", "en": "Many friends are helping right now; please try again"},
        "changed": {"zh": "砍价状态刚刚有变化，请刷新后再试", "en": "The bargain just changed; reload and try again"},
    }

    def text(self, lang: str) -> str:
        words = self.WORDS.get(str(self.detail.get("status", "")))
        return words["en" if lang == "en" else "zh"] if words else super().text(lang)


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
