from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class CartCode(StrEnum):
    EMPTY = "cart.empty"
    TOO_MANY = "cart.too_many_items"
    QUANTITY = "cart.quantity_too_large"
    ADDRESS_NOT_FOUND = "cart.address_not_found"
    ADDRESS_LIMIT = "cart.address_limit"
    ADDRESS_REGION = "cart.address_region"
    ADDRESS_INCOMPLETE = "cart.address_incomplete"


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


class InvalidRegion(DomainError):
    status = 422
    code = CartCode.ADDRESS_REGION
    message = {"zh": "请选择省份、城市和区县（区县须属于所选城市）",
               "en": "Choose a province, a city and a district (the district must be in that city)"}


class AddressIncomplete(DomainError):
    status = 422
    code = CartCode.ADDRESS_INCOMPLETE
    message = {"zh": "请填写收货人、手机号，选择省市区并填写详细地址",
               "en": "Fill in the recipient and a mobile number, pick the province, city and district, "
                     "and write the street address"}
