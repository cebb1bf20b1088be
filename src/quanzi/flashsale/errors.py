from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class FlashCode(StrEnum):
    NOT_STARTED = "flashsale.not_started"
    ENDED = "flashsale.ended"
    SOLD_OUT = "flashsale.sold_out"
    LIMIT = "flashsale.user_limit"
    ORDER_LIMIT = "flashsale.order_limit"
    NOT_FOUND = "flashsale.not_found"
    OVERLAP = "flashsale.slot_overlap"
    BAD_SLOT = "flashsale.bad_slot"
    BAD_TERMS = "flashsale.bad_terms"


class NotStarted(DomainError):
    status = 409
    code = FlashCode.NOT_STARTED
    message = {"zh": "秒杀还没开始，{starts_at} 开抢", "en": "Not started yet: opens at {starts_at}"}


class Ended(DomainError):
    status = 409
    code = FlashCode.ENDED
    message = {"zh": "本场秒杀已结束", "en": "This flash sale has ended"}


class SoldOut(DomainError):
    status = 409
    code = FlashCode.SOLD_OUT
    message = {"zh": "手慢了，已抢光！可以登记下一批到货提醒", "en": "Sold out! Ask to be told about the next batch"}


class UserLimit(DomainError):
    status = 409
    code = FlashCode.LIMIT
    message = {"zh": "每人限购 {limit} 件", "en": "Limit {limit} per person"}


class OrderLimit(DomainError):
    status = 422
    code = FlashCode.ORDER_LIMIT
    message = {"zh": "每单限购 {limit} 件", "en": "At most {limit} per order"}


class FlashNotFound(DomainError):
    status = 404
    code = FlashCode.NOT_FOUND
    message = {"zh": "秒杀活动不存在", "en": "Flash sale not found"}


class SlotOverlap(DomainError):
    status = 409
    code = FlashCode.OVERLAP
    message = {"zh": "时段与「{other}」重叠", "en": "The slot overlaps “{other}”"}


class BadSlot(DomainError):
    status = 422
    code = FlashCode.BAD_SLOT
    message = {"zh": "结束时间必须晚于开始时间", "en": "A slot must end after it starts"}


class DuplicateItem(DomainError):
    status = 422
    code = "flashsale.duplicate_sku"
    message = {"zh": "同一规格在一场秒杀里只能出现一次", "en": "Each SKU may appear once per flash sale"}


class BadTerms(DomainError):
    """Terms an operator may not set; each raise carries its own plain message (and `field`)."""

    status = 422
    code = FlashCode.BAD_TERMS
    message = {"zh": "秒杀设置有误", "en": "Invalid flash-sale terms"}
