from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class OrderCode(StrEnum):
    NOT_FOUND = "order.not_found"
    PRICE_CHANGED = "order.price_changed"
    NO_ITEMS = "order.no_items"
    DUPLICATE_SKU = "order.duplicate_sku"
    SKU_UNAVAILABLE = "order.sku_unavailable"
    AFTERSALE_OPEN = "order.aftersale_open"
    SHOP_CLOSED = "order.shop_closed"
    CHECKOUT_NOT_FOUND = "order.checkout_not_found"
    TOO_MANY_PACKAGES = "order.too_many_packages"


class OrderNotFound(DomainError):
    status = 404
    code = OrderCode.NOT_FOUND
    message = {"zh": "订单不存在", "en": "Order not found"}


class PriceChanged(DomainError):
    status = 409
    code = OrderCode.PRICE_CHANGED
    message = {
        "zh": "价格已变化：应付 {total_fen} 分，与页面显示的 {expected_fen} 分不一致，请确认后重新下单",
        "en": "The price changed: {total_fen} fen to pay instead of {expected_fen}; please review and order again",
    }


class NoItems(DomainError):
    status = 422
    code = OrderCode.NO_ITEMS
    message = {"zh": "请选择要购买的商品", "en": "Choose something to buy"}


class DuplicateSku(DomainError):
    status = 422
    code = OrderCode.DUPLICATE_SKU
    message = {"zh": "同一规格请合并数量后提交", "en": "List each SKU once with its total quantity"}


class AftersaleOpen(DomainError):
    status = 409
    code = OrderCode.AFTERSALE_OPEN
    message = {"zh": "该订单有进行中的售后，请先处理售后", "en": "This order has an open after-sale request; decide it first"}


class OrderOnHold(DomainError):
    status = 409
    code = "order.on_hold"
    message = {"zh": "订单暂不能发货（活动进行中：{reason}）", "en": "This order cannot ship yet (campaign: {reason})"}


class CheckoutNotFound(DomainError):
    status = 404
    code = OrderCode.CHECKOUT_NOT_FOUND
    message = {"zh": "结算单不存在", "en": "Checkout not found"}


class TooManyPackages(DomainError):
    status = 422
    code = OrderCode.TOO_MANY_PACKAGES
    message = {"zh": "一次结算最多包含 {limit} 个包裹，请分开下单",
               "en": "One checkout can hold at most {limit} packages; please order in parts"}
