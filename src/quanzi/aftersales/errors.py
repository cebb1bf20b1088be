from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class AfterSaleCode(StrEnum):
    NOT_FOUND = "aftersale.not_found"
    WINDOW_CLOSED = "aftersale.window_closed"
    NON_RETURNABLE = "aftersale.non_returnable"
    QUANTITY = "aftersale.bad_quantity"
    ALREADY_OPEN = "aftersale.already_open"
    ORDER_STATE = "aftersale.order_not_eligible"
    KIND = "aftersale.kind_not_allowed"


class AfterSaleNotFound(DomainError):
    status = 404
    code = AfterSaleCode.NOT_FOUND
    message = {"zh": "售后单不存在", "en": "After-sale request not found"}


class WindowClosed(DomainError):
    status = 409
    code = AfterSaleCode.WINDOW_CLOSED
    message = {"zh": "已超过 7 天无理由退货期限(截止 {deadline})",
               "en": "The 7-day no-reason return period has ended ({deadline})"}


class NonReturnable(DomainError):
    status = 409
    code = AfterSaleCode.NON_RETURNABLE
    message = {"zh": "该商品不支持 7 天无理由退货：{reason}", "en": "This item has no 7-day no-reason return: {reason}"}


class BadQuantity(DomainError):
    status = 422
    code = AfterSaleCode.QUANTITY
    message = {"zh": "可申请售后的数量最多为 {max}", "en": "At most {max} can be returned"}


class AlreadyOpen(DomainError):
    status = 409
    code = AfterSaleCode.ALREADY_OPEN
    message = {"zh": "该商品已有进行中的售后申请", "en": "This item already has an open after-sale request"}


class OrderNotEligible(DomainError):
    status = 409
    code = AfterSaleCode.ORDER_STATE
    message = {"zh": "订单当前状态({status})不能申请售后", "en": "No after-sale for an order that is {status}"}


class KindNotAllowed(DomainError):
    status = 409
    code = AfterSaleCode.KIND
    message = {"zh": "订单尚未发货，只能申请仅退款", "en": "The order has not shipped: only a refund can be requested"}
