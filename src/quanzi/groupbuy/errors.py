from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class GroupCode(StrEnum):
    NOT_FOUND = "groupbuy.not_found"
    GROUP_NOT_FOUND = "groupbuy.group_not_found"
    NOT_STARTED = "groupbuy.not_started"
    ENDED = "groupbuy.ended"
    SKU_NOT_IN_ACTIVITY = "groupbuy.sku_not_in_activity"
    ORDER_LIMIT = "groupbuy.order_limit"
    USER_LIMIT = "groupbuy.user_limit"
    ONE_OPEN_GROUP = "groupbuy.one_open_group"
    ALREADY_MEMBER = "groupbuy.already_member"
    NOT_JOINABLE = "groupbuy.not_joinable"
    FULL = "groupbuy.full"
    BAD_TERMS = "groupbuy.bad_terms"


class ActivityNotFound(DomainError):
    status = 404
    code = GroupCode.NOT_FOUND
    message = {"zh": "拼团活动不存在", "en": "Group-buy activity not found"}


class GroupNotFound(DomainError):
    status = 404
    code = GroupCode.GROUP_NOT_FOUND
    message = {"zh": "这个团不存在", "en": "Group not found"}


class NotStarted(DomainError):
    status = 409
    code = GroupCode.NOT_STARTED
    message = {"zh": "拼团还没开始", "en": "This group buy has not started yet"}


class Ended(DomainError):
    status = 409
    code = GroupCode.ENDED
    message = {"zh": "拼团活动已结束", "en": "This group buy has ended"}


class SkuNotInActivity(DomainError):
    status = 422
    code = GroupCode.SKU_NOT_IN_ACTIVITY
    message = {"zh": "该规格不参加本次拼团", "en": "This SKU is not part of the group buy"}


class OrderLimit(DomainError):
    status = 422
    code = GroupCode.ORDER_LIMIT
    message = {"zh": "每单限购 {limit} 件", "en": "At most {limit} per order"}


class UserLimit(DomainError):
    status = 409
    code = GroupCode.USER_LIMIT
    message = {"zh": "每人限购 {limit} 件", "en": "Limit {limit} per person"}


class OneOpenGroup(DomainError):
    status = 409
    code = GroupCode.ONE_OPEN_GROUP
    message = {"zh": "你在本活动中已有一个进行中的团，请等它成团或结束后再参加",
               "en": "You already have an open group in this activity; wait until it succeeds or ends"}


class AlreadyMember(DomainError):
    status = 409
    code = GroupCode.ALREADY_MEMBER
    message = {"zh": "你已经在这个团里了", "en": "You are already in this group"}


class NotJoinable(DomainError):
    status = 409
    code = GroupCode.NOT_JOINABLE
    message = {"zh": "这个团已结束，可以自己开一个新团", "en": "This group is closed; you can open a new one"}


class GroupFull(DomainError):
    status = 409
    code = GroupCode.FULL
    message = {"zh": "这个团已满员，可以自己开一个新团", "en": "This group is full; you can open a new one"}


class BadTerms(DomainError):
    status = 422
    code = GroupCode.BAD_TERMS
    message = {"zh": "活动设置有误", "en": "Invalid activity terms"}
