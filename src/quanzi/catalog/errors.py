from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class CatalogCode(StrEnum):
    OUT_OF_STOCK = "catalog.out_of_stock"
    SKU_UNAVAILABLE = "catalog.sku_unavailable"
    PRODUCT_NOT_FOUND = "catalog.product_not_found"
    NOT_SUPPLIER = "catalog.not_a_supplier"
    INVALID_PRICE = "catalog.invalid_price"
    DUPLICATE_SKU = "catalog.duplicate_sku_code"
    NO_SKUS = "catalog.no_skus"
    SYNONYM_TOO_FEW = "catalog.synonyms_too_few"
    SYNONYM_TOO_LONG = "catalog.synonym_too_long"
    SYNONYM_TAKEN = "catalog.synonym_taken"
    SYNONYM_GROUP_NOT_FOUND = "catalog.synonym_group_not_found"


class OutOfStock(DomainError):
    status = 409
    code = CatalogCode.OUT_OF_STOCK
    message = {"zh": "「{title}」库存不足", "en": "Not enough stock for “{title}”"}


class SkuUnavailable(DomainError):
    status = 409
    code = CatalogCode.SKU_UNAVAILABLE
    message = {"zh": "商品已下架或不存在", "en": "This item is no longer available"}


class ProductNotFound(DomainError):
    status = 404
    code = CatalogCode.PRODUCT_NOT_FOUND
    message = {"zh": "商品不存在或已下架", "en": "Product not found"}


class NotASupplier(DomainError):
    status = 403
    code = CatalogCode.NOT_SUPPLIER
    message = {"zh": "只有供应商可以管理商品", "en": "Only suppliers can manage products"}


class InvalidPrice(DomainError):
    status = 422
    code = CatalogCode.INVALID_PRICE
    message = {"zh": "价格必须大于 0,成本不能为负", "en": "Price must be positive and cost not negative"}


class DuplicateSkuCode(DomainError):
    status = 409
    code = CatalogCode.DUPLICATE_SKU
    message = {"zh": "SKU 编码已存在：{code}", "en": "SKU code already exists: {code}"}


class NoSkus(DomainError):
    status = 422
    code = CatalogCode.NO_SKUS
    message = {"zh": "商品至少需要一个规格", "en": "A product needs at least one SKU"}


class TooFewSynonyms(DomainError):
    status = 422
    code = CatalogCode.SYNONYM_TOO_FEW
    message = {"zh": "同义词组至少需要两个不同的词", "en": "A synonym group needs at least two different terms"}


class TooLongSynonym(DomainError):
    status = 422
    code = CatalogCode.SYNONYM_TOO_LONG
    message = {"zh": "「{term}」太长：一个词最多 {max} 个字", "en": "“{term}” is too long: at most {max} characters"}


class SynonymTermTaken(DomainError):
    status = 409
    code = CatalogCode.SYNONYM_TAKEN
    message = {"zh": "「{term}」已在另一组同义词里，请在那一组修改", "en": "“{term}” is already in another synonym group; edit that one"}


class SynonymGroupNotFound(DomainError):
    status = 404
    code = CatalogCode.SYNONYM_GROUP_NOT_FOUND
    message = {"zh": "这组同义词不存在", "en": "No such synonym group"}
