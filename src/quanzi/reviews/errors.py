"""Refusals of the reviews domain."""

from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class ReviewCode(StrEnum):
    NOT_FOUND = "review.not_found"
    LINE_NOT_FOUND = "review.line_not_found"
    NOT_RECEIVED = "review.not_received"
    FULLY_REFUNDED = "review.fully_refunded"
    ALREADY_REVIEWED = "review.already_reviewed"
    ALREADY_REPLIED = "review.already_replied"


class ReviewNotFound(DomainError):
    status = 404
    code = ReviewCode.NOT_FOUND
    message = {"zh": "评价不存在", "en": "Review not found"}


class LineNotFound(DomainError):
    status = 404
    code = ReviewCode.LINE_NOT_FOUND
    message = {"zh": "找不到这件商品的订单", "en": "No order of yours has this item"}


class NotReceived(DomainError):
    status = 409
    code = ReviewCode.NOT_RECEIVED
    message = {"zh": "确认收货后才能评价", "en": "You can review an item once you have received it"}


class FullyRefunded(DomainError):
    status = 409
    code = ReviewCode.FULLY_REFUNDED
    message = {"zh": "这件商品已全部退款，不能评价", "en": "This item was refunded in full and cannot be reviewed"}


class AlreadyReviewed(DomainError):
    status = 409
    code = ReviewCode.ALREADY_REVIEWED
    message = {"zh": "这件商品已经评价过了", "en": "You have already reviewed this item"}


class AlreadyReplied(DomainError):
    status = 409
    code = ReviewCode.ALREADY_REPLIED
    message = {"zh": "这条评价已经回复过了，只能回复一次", "en": "This review already has a reply; one reply is allowed"}
