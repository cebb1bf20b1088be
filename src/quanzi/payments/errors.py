from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class PayCode(StrEnum):
    NOT_PAYABLE = "payment.order_not_payable"
    UNKNOWN_PAYMENT = "payment.unknown_payment"
    MISMATCH = "payment.mismatch"
    REFUND_TOO_LARGE = "payment.refund_too_large"
    UNKNOWN_PROVIDER = "payment.unknown_provider"


class NotPayable(DomainError):
    status = 409
    code = PayCode.NOT_PAYABLE
    message = {"zh": "订单当前状态({status})不能付款", "en": "This order cannot be paid now ({status})"}


class UnknownPayment(DomainError):
    status = 400
    code = PayCode.UNKNOWN_PAYMENT
    message = {"zh": "未知的支付单", "en": "Unknown payment"}


class PaymentMismatch(DomainError):
    status = 400
    code = PayCode.MISMATCH
    message = {"zh": "支付金额或商户号不一致", "en": "Amount or merchant does not match the payment"}


class RefundTooLarge(DomainError):
    status = 409
    code = PayCode.REFUND_TOO_LARGE
    message = {"zh": "退款金额超过可退金额", "en": "The refund exceeds what can still be refunded"}


class UnknownProvider(DomainError):
    status = 422
    code = PayCode.UNKNOWN_PROVIDER
    message = {"zh": "不支持的支付方式：{name}", "en": "Unsupported payment method: {name}"}
