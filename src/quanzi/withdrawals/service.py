"""Withdrawal rules: minimum, fee, methods; one guarded debit per request (two concurrent requests for the
whole balance: exactly one succeeds); operator approval or rejection with a reason (the money returns);
payout through the provider after commit, retried with the same idempotency key (out_batch_no)."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.distribution import service as distribution
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database, guarded_update
from quanzi.kit.errors import IllegalTransition
from quanzi.kit.money import percent_of
from quanzi.ledger import service as ledger
from quanzi.ledger.errors import InsufficientBalance
from quanzi.ledger.service import platform, user
from quanzi.payments import registry
from quanzi.withdrawals.errors import (
    AccountFrozen,
    BelowMinimum,
    MethodNotAllowed,
    NotEnoughAvailable,
    WithdrawalNotFound,
)
from quanzi.withdrawals.models import Withdrawal

PROVIDER_FOR = {"wechat": "wechatpay", "alipay": "alipay", "bank": "sandbox", "wallet": "sandbox"}


def _provider_name(method: str) -> str:
    name = PROVIDER_FOR[method]
    return name if name in registry.names() else "sandbox"


async def request(s: AsyncSession, user_id: int, amount_fen: int, method: str, payee: dict[str, str]) -> Withdrawal:
    pol = await distribution.get_policy(s)
    d = await distribution.get_distributor(s, user_id)
    if d is not None and d.status == "frozen":  # revoked keeps what it earned; frozen (under review) waits
        raise AccountFrozen()
    if method not in pol.withdraw_methods:
        raise MethodNotAllowed(method=method)
    if amount_fen < pol.withdraw_min_fen:
        raise BelowMinimum(min_yuan=f"{pol.withdraw_min_fen / 100:.2f}")
    fee = percent_of(amount_fen, pol.withdraw_fee_bp)
    w = Withdrawal(user_id=user_id, amount_fen=amount_fen, fee_fen=fee, net_fen=amount_fen - fee, method=method,
                   provider=_provider_name(method), payee=payee, status="requested",
                   out_batch_no="WD" + secrets.token_hex(10), attempts=0, created_at=clock.now())
    s.add(w)
    await s.flush()
    try:
        await ledger.post(s, "withdrawal.request", f"w{w.id}", [
            user(user_id, "available", -amount_fen), user(user_id, "withdrawing", amount_fen - fee),
            platform("fee_income", fee)], reason="withdrawal requested")
    except InsufficientBalance as exc:
        raise NotEnoughAvailable() from exc
    return w


async def _move(s: AsyncSession, w: Withdrawal, frm: str, to: str, **values: object) -> None:
    if await guarded_update(s, update(Withdrawal).where(Withdrawal.id == w.id, Withdrawal.status == frm)
                            .values(status=to, **values)) != 1:
        raise IllegalTransition(current=w.status, target=to)
    await s.refresh(w)


async def approve(s: AsyncSession, w: Withdrawal, actor_id: int) -> Withdrawal:
    from quanzi.backoffice.audit import record

    await _move(s, w, "requested", "approved", decided_at=clock.now(), decided_by=actor_id)
    record(s, actor_id, "withdrawal.approve", "withdrawals", w.id, {"amount_fen": w.amount_fen})
    await outbox.emit(s, "withdrawal.approved", {"withdrawal_id": w.id})
    return w


async def _give_back(s: AsyncSession, w: Withdrawal, why: str) -> None:
    await ledger.post(s, f"withdrawal.{why}", f"w{w.id}", [
        user(w.user_id, "withdrawing", -w.net_fen), platform("fee_income", -w.fee_fen),
        user(w.user_id, "available", w.amount_fen)], reason=f"withdrawal {why}: money returned")
    # Money coming back while the person owes reversed commission settles the debt first; otherwise a
    # clawed-back commission could be withdrawn a second time.
    await distribution.repay_debts(s, [w.user_id], ref=f"w{w.id}:{why}")


async def reject(s: AsyncSession, w: Withdrawal, actor_id: int, reason: str) -> Withdrawal:
    from quanzi.backoffice.audit import record

    await _move(s, w, "requested", "rejected", decided_at=clock.now(), decided_by=actor_id, reject_reason=reason)
    await _give_back(s, w, "reject")
    record(s, actor_id, "withdrawal.reject", "withdrawals", w.id, {"reason": reason})
    await outbox.emit(s, "withdrawal.rejected", {"withdrawal_id": w.id, "user_id": w.user_id})
    return w


async def pay_out(db: Database, withdrawal_id: int) -> str:
    """Transfer outside any transaction (idempotent by out_batch_no), then record the outcome."""
    async with db.write() as s:
        w = await s.get(Withdrawal, withdrawal_id)
        if w is None or w.status != "approved":
            return "skipped"
        await s.execute(update(Withdrawal).where(Withdrawal.id == w.id).values(attempts=Withdrawal.attempts + 1))
        args = (w.out_batch_no, str(w.payee.get("account", w.user_id)), w.net_fen, "圈子佣金提现")
        provider = registry.get(w.provider)
    result = await provider.transfer(*args)  # raises ProviderError → the outbox retries later
    async with db.write() as s:
        w = await s.get(Withdrawal, withdrawal_id)
        assert w is not None
        if result.status == "failed":
            await _move(s, w, "approved", "failed")
            await _give_back(s, w, "failed")
            return "failed"
        if result.status != "succeeded":
            raise RuntimeError("transfer still processing; will ask again")
        await _move(s, w, "approved", "paid", paid_at=clock.now(), transfer_id=result.transfer_id)
        await ledger.post(s, "withdrawal.paid", f"w{w.id}", [
            user(w.user_id, "withdrawing", -w.net_fen), user(w.user_id, "paid_out", w.net_fen)],
            reason="withdrawal paid out")
        await outbox.emit(s, "withdrawal.paid", {"withdrawal_id": w.id, "user_id": w.user_id})
    return "paid"


async def mine(s: AsyncSession, user_id: int) -> list[Withdrawal]:
    return list((await s.execute(select(Withdrawal).where(Withdrawal.user_id == user_id)
                                 .order_by(Withdrawal.id.desc()).limit(100))).scalars())


async def for_audit(s: AsyncSession, status: str | None = "requested") -> list[Withdrawal]:
    stmt = select(Withdrawal).order_by(Withdrawal.id.desc()).limit(200)
    if status:
        stmt = stmt.where(Withdrawal.status == status)
    return list((await s.execute(stmt)).scalars())


async def get(s: AsyncSession, withdrawal_id: int, user_id: int | None = None) -> Withdrawal:
    w = await s.get(Withdrawal, withdrawal_id)
    if w is None or (user_id is not None and w.user_id != user_id):
        raise WithdrawalNotFound()
    return w
