"""Withdrawals of available commission, audited by an operator and paid out through a provider."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class Withdrawal(Base):
    __tablename__ = "withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    fee_fen: Mapped[int] = mapped_column(Integer)
    net_fen: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))  # wallet | bank | wechat | alipay
    # The payout channel (payouts.py): wechat | alipay | offline | sandbox
    provider: Mapped[str] = mapped_column(String(20))
    payee: Mapped[dict[str, Any]] = mapped_column(JSON)  # name, account; openid for WeChat
    # requested → approved → (paying →) paid; rejected; failed (money returned)
    status: Mapped[str] = mapped_column(String(12))
    reject_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    out_batch_no: Mapped[str] = mapped_column(String(40), unique=True)
    transfer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The provider's own state of the transfer (SUCCESS, WAIT_USER_CONFIRM, FAIL, DEALING …) and why it failed.
    transfer_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fail_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # WeChat's package_info while a transfer waits for the payee to confirm it (wx.requestMerchantTransfer).
    confirm_package: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # When to ask the provider again about a transfer that is still processing (status "paying").
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Offline (bank) settlement: the bank's reference the operator entered, and who confirmed it.
    bank_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_withdrawals_status", "status", "id"),
        Index("ix_withdrawals_next_check", "status", "next_check_at"),
    )
