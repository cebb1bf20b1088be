from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class LedgerCode(StrEnum):
    UNBALANCED = "ledger.unbalanced"
    INSUFFICIENT = "ledger.insufficient_balance"


class Unbalanced(DomainError):
    status = 500
    code = LedgerCode.UNBALANCED
    message = {"zh": "账务错误", "en": "Ledger transaction does not balance"}


class InsufficientBalance(DomainError):
    status = 409
    code = LedgerCode.INSUFFICIENT
    message = {"zh": "可用余额不足", "en": "Not enough available balance"}
