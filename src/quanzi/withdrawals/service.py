"""Withdrawal rules: minimum, fee, methods; one guarded debit per request (two concurrent requests for the
whole balance: exactly one succeeds); operator approval or rejection with a reason (the money returns);
payout through a payout channel (payouts.py) after commit and outside any transaction, idempotent by our
out-bill number (out_batch_no), with the final state of a still-processing transfer asked for by a sweep;
bank-card (and wallet) withdrawals are settled offline and confirmed by the operator with a bank reference.

Ledger per withdrawal: request: available −amount, withdrawing +net, fee income +fee; paid: withdrawing −net,
paid_out +net; rejected or failed: the request reversed exactly (the money is available again)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.distribution import service as distribution
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database, guarded_update, skip_locked
from quanzi.kit.errors import IllegalTransition
from quanzi.kit.money import percent_of
from quanzi.ledger import service as ledger
from quanzi.ledger.errors import InsufficientBalance
from quanzi.ledger.service import platform, user
from quanzi.payments.providers import ProviderError
from quanzi.wechat import service as wechat
from quanzi.withdrawals import payouts
from quanzi.withdrawals.errors import (
    AccountFrozen,
    BelowMinimum,
    MethodNotAllowed,
    MethodUnavailable,
    NotEnoughAvailable,
    NotOffline,
    NoWechatOpenid,
    WithdrawalNotFound,
)
from quanzi.withdrawals.models import Withdrawal

REMARK = "圈子佣金提现"
STUCK_AFTER = timedelta(hours=1)
RETRY_AFTER = timedelta(minutes=10)
# How long to wait before asking again about a transfer that is still processing (attempt n waits the n-th).
QUERY_BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


async def request(s: AsyncSession, user_id: int, amount_fen: int, method: str, payee: dict[str, str]) -> Withdrawal:
    pol = await distribution.get_policy(s)
    d = await distribution.get_distributor(s, user_id)
    if d is not None and d.status == "frozen":  # revoked keeps what it earned; frozen (under review) waits
        raise AccountFrozen()
    if method not in pol.withdraw_methods:
        raise MethodNotAllowed(method=method)
    if amount_fen < pol.withdraw_min_fen:
        raise BelowMinimum(min_yuan=f"{pol.withdraw_min_fen / 100:.2f}")
    channel_name = payouts.channel_for(method)
    if channel_name is None:
        raise MethodUnavailable(method=method)
    payee = dict(payee)
    channel = payouts.get(channel_name)
    if channel is not None and channel.openid_app_id:
        # WeChat pays to an openid of the merchant's app, never to what the client typed.
        openid = await wechat.openid_for(s, user_id, channel.openid_app_id)
        if openid is None:
            raise NoWechatOpenid()
        payee["openid"] = openid
    fee = percent_of(amount_fen, pol.withdraw_fee_bp)
    w = Withdrawal(user_id=user_id, amount_fen=amount_fen, fee_fen=fee, net_fen=amount_fen - fee, method=method,
                   provider=channel_name, payee=payee, status="requested",
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


async def _move(s: AsyncSession, w: Withdrawal, frm: str | tuple[str, ...], to: str, **values: object) -> None:
    sources = (frm,) if isinstance(frm, str) else frm
    if await guarded_update(s, update(Withdrawal).where(Withdrawal.id == w.id, Withdrawal.status.in_(sources))
                            .values(status=to, **values)) != 1:
        raise IllegalTransition(current=w.status, target=to)
    await s.refresh(w)


async def approve(s: AsyncSession, w: Withdrawal, actor_id: int) -> Withdrawal:
    from quanzi.audit.service import record

    # A provider payout is also picked up by the query sweep after STUCK_AFTER, should its outbox message
    # have given up (e.g. the merchant balance was short for hours): the transfer is idempotent, so safe.
    backstop = None if w.provider == payouts.OFFLINE else clock.now() + STUCK_AFTER
    await _move(s, w, "requested", "approved", decided_at=clock.now(), decided_by=actor_id, next_check_at=backstop)
    record(s, actor_id, "withdrawal.approve", "withdrawals", w.id, {"amount_fen": w.amount_fen})
    if w.provider != payouts.OFFLINE:
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
    from quanzi.audit.service import record

    await _move(s, w, "requested", "rejected", decided_at=clock.now(), decided_by=actor_id, reject_reason=reason)
    await _give_back(s, w, "reject")
    record(s, actor_id, "withdrawal.reject", "withdrawals", w.id, {"reason": reason})
    await outbox.emit(s, "withdrawal.rejected", {"withdrawal_id": w.id, "user_id": w.user_id})
    return w


async def pay_out(db: Database, withdrawal_id: int) -> str:
    """Transfer (or ask about a transfer already made) outside any transaction, then record the outcome.

    Idempotent by out_batch_no: a retry after a lost answer finds the same transfer at the provider. An
    unknown outcome raises ProviderError (the outbox retries); "processing" waits for the query sweep."""
    async with db.write() as s:
        w = await s.get(Withdrawal, withdrawal_id)
        if w is None or w.status not in ("approved", "paying") or w.provider == payouts.OFFLINE:
            return "skipped"
        await s.execute(update(Withdrawal).where(Withdrawal.id == w.id).values(attempts=Withdrawal.attempts + 1))
        paying, out_no, payee, net = w.status == "paying", w.out_batch_no, dict(w.payee or {}), w.net_fen
        channel = payouts.get(w.provider)
    if channel is None:  # configuration changed since approval: keep the money where it is and retry
        raise ProviderError(provider=w.provider, operation="transfer", reason="payout channel not configured")
    result = await channel.query(out_no) if paying else None
    if result is None:
        result = await channel.transfer(out_no, payee, net, REMARK)
    return await settle(db, withdrawal_id, result)


async def settle(db: Database, withdrawal_id: int, result: payouts.PayoutResult) -> str:
    """Record a channel's answer: paid (ledger to paid_out), failed (money back to available), or still
    processing (asked again by the sweep)."""
    async with db.write() as s:
        w = await s.get(Withdrawal, withdrawal_id)
        if w is None or w.status not in ("approved", "paying"):
            return "skipped"
        package = result.raw.get("package_info") if result.state == "WAIT_USER_CONFIRM" else None
        extra = {"transfer_id": result.transfer_id or w.transfer_id, "transfer_state": result.state[:32] or None,
                 "confirm_package": (str(package)[:400] if package else None)}
        if result.status == "succeeded":
            await _move(s, w, ("approved", "paying"), "paid", paid_at=clock.now(), next_check_at=None, **extra)
            await ledger.post(s, "withdrawal.paid", f"w{w.id}", [
                user(w.user_id, "withdrawing", -w.net_fen), user(w.user_id, "paid_out", w.net_fen)],
                reason="withdrawal paid out")
            await outbox.emit(s, "withdrawal.paid", {"withdrawal_id": w.id, "user_id": w.user_id})
            return "paid"
        if result.status == "failed":
            await _move(s, w, ("approved", "paying"), "failed", next_check_at=None,
                        fail_reason=(result.reason or result.state or "failed")[:200], **extra)
            await _give_back(s, w, "failed")
            return "failed"
        checks = max(w.attempts - 1, 0)
        wait = QUERY_BACKOFF[min(checks, len(QUERY_BACKOFF) - 1)]
        if package is None and w.confirm_package and result.state == "":
            extra["confirm_package"] = w.confirm_package  # an answer without a state keeps what we had
        await _move(s, w, ("approved", "paying"), "paying", next_check_at=clock.now() + wait, **extra)
        return "processing"


async def check_now(db: Database, withdrawal_id: int, user_id: int) -> None:
    """The payee says they confirmed the transfer in WeChat: ask the provider now instead of at the next
    scheduled check (only for their own transfer that is still processing)."""
    async with db.read() as s:
        w = await get(s, withdrawal_id, user_id)
        if w.status != "paying":
            return
    await pay_out(db, withdrawal_id)


async def due_for_query(s: AsyncSession, now: datetime, limit: int = 50) -> list[int]:
    """Transfers still processing whose next check is due, and provider payouts approved long ago that
    never got an answer (their outbox message gave up)."""
    stmt = (select(Withdrawal.id).where(Withdrawal.status.in_(("paying", "approved")),
                                        Withdrawal.provider != payouts.OFFLINE, Withdrawal.next_check_at <= now)
            .order_by(Withdrawal.next_check_at).limit(limit))
    return list((await s.execute(skip_locked(s, stmt))).scalars())


async def postpone(db: Database, withdrawal_id: int) -> None:
    """The provider could not be asked: try again in a while, not on every sweep."""
    async with db.write() as s:
        await s.execute(update(Withdrawal).where(Withdrawal.id == withdrawal_id,
                                                 Withdrawal.status.in_(("paying", "approved")))
                        .values(next_check_at=clock.now() + RETRY_AFTER))


async def confirm_offline(s: AsyncSession, w: Withdrawal, actor_id: int, reference: str) -> Withdrawal:
    """The operator paid an approved bank/wallet withdrawal outside the system: record it with the bank's
    reference (audited) and move the money to paid_out."""
    from quanzi.audit.service import record

    if w.provider != payouts.OFFLINE:
        raise NotOffline()
    await _move(s, w, "approved", "paid", paid_at=clock.now(), bank_reference=reference, confirmed_by=actor_id)
    await ledger.post(s, "withdrawal.paid", f"w{w.id}", [
        user(w.user_id, "withdrawing", -w.net_fen), user(w.user_id, "paid_out", w.net_fen)],
        reason="withdrawal paid offline")
    record(s, actor_id, "withdrawal.paid_bank", "withdrawals", w.id,
           {"bank_reference": reference, "net_fen": w.net_fen})
    await outbox.emit(s, "withdrawal.paid", {"withdrawal_id": w.id, "user_id": w.user_id})
    return w


async def fail_offline(s: AsyncSession, w: Withdrawal, actor_id: int, reason: str) -> Withdrawal:
    """The offline payment could not be made (e.g. the bank returned it): the money returns to available."""
    from quanzi.audit.service import record

    if w.provider != payouts.OFFLINE:
        raise NotOffline()
    await _move(s, w, "approved", "failed", fail_reason=reason, confirmed_by=actor_id)
    await _give_back(s, w, "failed")
    record(s, actor_id, "withdrawal.bank_fail", "withdrawals", w.id, {"reason": reason})
    return w


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
