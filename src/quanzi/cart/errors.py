from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class CartCode(StrEnum):
    EMPTY = "cart.empty"
    TOO_MANY = "cart.too_many_items"
    QUANTITY = "cart.quantity_too_large"
    ADDRESS_NOT_FOUND = "cart.address_not_found"
    ADDRESS_LIMIT = "cart.address_limit"


class CartEmpty(DomainError):
    status = 422
    code = CartCode.EMPTY
    message = {"zh": "购物车是空的", "en": "Your cart is empty"}


class TooManyItems(DomainError):
    status = 422
    code = CartCode.TOO_MANY
    message = {"zh": "购物车最多 50 件不同商品", "en": "A cart holds at most 50 different items"}


class QuantityTooLarge(DomainError):
    status = 422
    code = CartCode.QUANTITY
    message = {"zh": "单件商品数量不能超过 {max}", "en": "At most {max} of one item"}


class AddressNotFound(DomainError):
    status = 404
    code = CartCode.ADDRESS_NOT_FOUND
    message = {"zh": "收货地址不存在", "en": "Address not found"}


class AddressLimit(DomainError):
    status = 422
    code = CartCode.ADDRESS_LIMIT
    message = {"zh": "最多保存 20 个收货地址", "en": "At most 20 saved addresses"}
