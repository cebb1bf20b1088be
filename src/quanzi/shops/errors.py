from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class ShopCode(StrEnum):
    ALREADY_OPEN = "shop.already_open"
    NOT_FOUND = "shop.not_found"
    NO_SHOP = "shop.none"
    PRODUCT_NOT_ON_SHELF = "shop.product_not_on_shelf"
    SHELF_ORDER = "shop.bad_shelf_order"


class ShopAlreadyOpen(DomainError):
    status = 409
    code = ShopCode.ALREADY_OPEN
    message = {"zh": "你已经开过店了", "en": "You already have a shop"}


class ShopNotFound(DomainError):
    status = 404
    code = ShopCode.NOT_FOUND
    message = {"zh": "小店不存在或已关闭", "en": "Shop not found"}


class NoShop(DomainError):
    status = 404
    code = ShopCode.NO_SHOP
    message = {"zh": "你还没有开店", "en": "You have not opened a shop yet"}


class NotOnShelf(DomainError):
    status = 404
    code = ShopCode.PRODUCT_NOT_ON_SHELF
    message = {"zh": "该商品不在这家小店的货架上", "en": "This product is not on the shop's shelf"}


class BadShelfOrder(DomainError):
    status = 422
    code = ShopCode.SHELF_ORDER
    message = {"zh": "货架排序必须包含且只包含货架上的全部商品", "en": "The new order must list exactly the shelf's items"}
