from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class EngageCode(StrEnum):
    SWITCHED_OFF = "engagement.switched_off"
    NOT_ENOUGH_POINTS = "engagement.not_enough_points"
    ALREADY_CHECKED_IN = "engagement.already_checked_in"
    DRAW_NOT_FOUND = "engagement.draw_not_found"
    DRAW_NOT_OPEN = "engagement.draw_not_open"
    DRAW_LIMIT = "engagement.draw_limit_reached"
    RULES_FROZEN = "engagement.rules_frozen"
    BAD_PRIZES = "engagement.bad_prize_table"
    PRIZE_TOO_VALUABLE = "engagement.prize_too_valuable"
    PACKET_NOT_FOUND = "engagement.packet_not_found"
    PACKET_EMPTY = "engagement.packet_empty"
    PACKET_EXPIRED = "engagement.packet_expired"
    PACKET_GRABBED = "engagement.packet_already_grabbed"
    BAD_PACKET = "engagement.bad_packet"
    POLL_NOT_FOUND = "engagement.poll_not_found"
    POLL_CLOSED = "engagement.poll_closed"
    POLL_ANSWERED = "engagement.poll_already_answered"
    BAD_CHOICE = "engagement.bad_choice"
    RESULTS_HIDDEN = "engagement.results_hidden"
    ACTIVITY_NOT_FOUND = "engagement.activity_not_found"
    BAD_ACTIVITY = "engagement.bad_activity"
    BAD_SETTINGS = "engagement.bad_settings"


class SwitchedOff(DomainError):
    status = 403
    code = EngageCode.SWITCHED_OFF
    message = {"zh": "该活动功能未开启", "en": "This feature is switched off"}


class NotEnoughPoints(DomainError):
    status = 409
    code = EngageCode.NOT_ENOUGH_POINTS
    message = {"zh": "积分不足", "en": "Not enough points"}


class AlreadyCheckedIn(DomainError):
    status = 409
    code = EngageCode.ALREADY_CHECKED_IN
    message = {"zh": "今天已经签到过了", "en": "You have already checked in today"}


class DrawNotFound(DomainError):
    status = 404
    code = EngageCode.DRAW_NOT_FOUND
    message = {"zh": "抽奖不存在", "en": "Draw not found"}


class DrawNotOpen(DomainError):
    status = 409
    code = EngageCode.DRAW_NOT_OPEN
    message = {"zh": "抽奖未开始或已结束", "en": "This draw is not open"}


class DrawLimitReached(DomainError):
    status = 409
    code = EngageCode.DRAW_LIMIT
    message = {"zh": "你的抽奖次数已用完（每人 {limit} 次）", "en": "You have used all your entries ({limit} per person)"}


class RulesFrozen(DomainError):
    status = 409
    code = EngageCode.RULES_FROZEN
    message = {"zh": "抽奖已开始，规则和奖品不能再修改", "en": "The draw has opened: its rules and prizes can no longer change"}


class BadPrizeTable(DomainError):
    status = 422
    code = EngageCode.BAD_PRIZES
    message = {"zh": "奖品设置有误：{why}", "en": "The prize table is not valid: {why}"}


class PrizeTooValuable(DomainError):
    status = 422
    code = EngageCode.PRIZE_TOO_VALUABLE
    message = {"zh": "单个奖品价值不能超过 {max_yuan} 元（规范促销行为暂行规定）",
               "en": "A prize may be worth at most {max_yuan} yuan (promotion rules, 2020)"}


class PacketNotFound(DomainError):
    status = 404
    code = EngageCode.PACKET_NOT_FOUND
    message = {"zh": "红包不存在", "en": "Red packet not found"}


class PacketEmpty(DomainError):
    status = 409
    code = EngageCode.PACKET_EMPTY
    message = {"zh": "手慢了，红包已被抢完", "en": "Too late: this red packet is empty"}


class PacketExpired(DomainError):
    status = 409
    code = EngageCode.PACKET_EXPIRED
    message = {"zh": "红包已过期", "en": "This red packet has expired"}


class PacketGrabbed(DomainError):
    status = 409
    code = EngageCode.PACKET_GRABBED
    message = {"zh": "你已经抢过这个红包了", "en": "You have already grabbed this red packet"}


class BadPacket(DomainError):
    status = 422
    code = EngageCode.BAD_PACKET
    message = {"zh": "红包设置有误：{why}", "en": "The red packet is not valid: {why}"}


class PollNotFound(DomainError):
    status = 404
    code = EngageCode.POLL_NOT_FOUND
    message = {"zh": "投票不存在", "en": "Poll not found"}


class PollClosed(DomainError):
    status = 409
    code = EngageCode.POLL_CLOSED
    message = {"zh": "投票已截止", "en": "This poll has closed"}


class PollAnswered(DomainError):
    status = 409
    code = EngageCode.POLL_ANSWERED
    message = {"zh": "你已经投过票了", "en": "You have already answered this poll"}


class BadChoice(DomainError):
    status = 422
    code = EngageCode.BAD_CHOICE
    message = {"zh": "请选择有效的选项", "en": "Choose valid options"}


class ResultsHidden(DomainError):
    status = 403
    code = EngageCode.RESULTS_HIDDEN
    message = {"zh": "投票结果仅店主可见", "en": "Only the shopkeeper sees these results"}


class ActivityNotFound(DomainError):
    status = 404
    code = EngageCode.ACTIVITY_NOT_FOUND
    message = {"zh": "活动不存在", "en": "Activity not found"}


class BadActivity(DomainError):
    status = 422
    code = EngageCode.BAD_ACTIVITY
    message = {"zh": "活动设置有误：{why}", "en": "The activity is not valid: {why}"}


class BadSettings(DomainError):
    status = 422
    code = EngageCode.BAD_SETTINGS
    message = {"zh": "设置有误：{why}", "en": "The settings are not valid: {why}"}
