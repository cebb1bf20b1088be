"""Payment rules: start a payment (of one order or of a whole checkout), apply a verified provider statement
once, refund through the outbox.

A checkout of several unpaid orders is paid by one provider transaction (`CheckoutPayment`) whose amount is
allocated to its orders exactly: one `Payment` per order holds that order's total, and the shares sum to the
whole. A checkout with one unpaid order is paid with that order's own `Payment`, as before.

Provider calls never happen inside a transaction (DESIGN rule 3): routes and handlers commit first,
call the provider, then open a new transaction to record the outcome.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database, guarded_update, insert_ignore
from quanzi.kit.errors import DomainError
from quanzi.orders import service as orders
from quanzi.orders.models import Checkout, Order
from quanzi.orders.service import CHINA
from quanzi.payments import registry
from quanzi.payments.errors import NotPayable, PaymentMismatch, RefundTooLarge, UnknownPayment
from quanzi.payments.models import CheckoutPayment, Payment, PaymentNotification, Refund
from quanzi.payments.providers.base import PaymentIntent, PaymentResult, SubOrder


async def open_payment(s: AsyncSession, order: Order, provider: str) -> Payment:
    """Reuse the order's open payment with this provider, or create one (out_trade_no = order_no + P + n)."""
    if order.status != "pending_payment":
        raise NotPayable(status=order.status)
    registry.get(provider)  # unknown provider → 422 before anything is written
    existing = (await s.execute(select(Payment).where(
        Payment.order_id == order.id, Payment.provider == provider, Payment.status == "created",
        Payment.checkout_payment_id.is_(None),
    ))).scalars().first()
    if existing is not None:
        return existing
    n = (await s.execute(select(func.count()).where(Payment.order_id == order.id))).scalar_one()
    payment = Payment(order_id=order.id, provider=provider, out_trade_no=f"{order.order_no}P{n + 1}",
                      amount_fen=order.total_fen, status="created", refunded_fen=0, created_at=clock.now())
    s.add(payment)
    await s.flush()
    return payment


async def start_payment(db: Database, order_id: int, buyer_id: int, provider: str, description: str) -> PaymentIntent:
    async with db.write() as s:
        order = await orders.order_for_buyer(s, order_id, buyer_id)
        payment = await open_payment(s, order, provider)
        out_trade_no, amount = payment.out_trade_no, payment.amount_fen
    # Outside the transaction: the provider may be slow. Money that still arrives after the order was
    # cancelled is refunded automatically (apply_result), so no expiry is imposed on the provider here.
    return await registry.get(provider).create_payment(out_trade_no, amount, description)


# --- paying a whole checkout ---------------------------------------------------------------------

@dataclass(frozen=True)
class CheckoutCharge:
    """What to ask the provider for: one order's payment, or one combined payment with its sub-orders."""

    provider: str
    out_trade_no: str
    amount_fen: int
    sub_orders: tuple[SubOrder, ...] = ()


async def open_checkout_payment(s: AsyncSession, checkout: Checkout, provider: str) -> CheckoutCharge:
    """The payment for every order of `checkout` still waiting for payment. One such order: its own payment
    (as `open_payment`). Several: one `CheckoutPayment` with one share (`Payment`) per order, each share that
    order's exact total, reused while the same orders are still due, replaced when they changed (an order
    was cancelled or paid on its own meanwhile)."""
    registry.get(provider)
    due = [o for o in await orders.orders_of_checkout(s, checkout.id) if o.status == "pending_payment"]
    if not due:
        raise NotPayable(status=checkout.status)
    if len(due) == 1:
        payment = await open_payment(s, due[0], provider)
        return CheckoutCharge(provider, payment.out_trade_no, payment.amount_fen)
    wanted = {(o.id, o.total_fen) for o in due}
    for cp in (await s.execute(select(CheckoutPayment).where(
            CheckoutPayment.checkout_id == checkout.id, CheckoutPayment.status == "created"))).scalars():
        shares = list((await s.execute(select(Payment).where(Payment.checkout_payment_id == cp.id)
                                       .order_by(Payment.id))).scalars())
        if cp.provider == provider and {(p.order_id, p.amount_fen) for p in shares} == wanted:
            return _charge(cp, shares)
        # Its orders changed: a newer attempt replaces it (money that still arrives for it is refunded).
        await s.execute(update(CheckoutPayment).where(CheckoutPayment.id == cp.id, CheckoutPayment.status == "created")
                        .values(status="closed"))
        await s.execute(update(Payment).where(Payment.checkout_payment_id == cp.id, Payment.status == "created")
                        .values(status="closed"))
    n = (await s.execute(select(func.count()).where(CheckoutPayment.checkout_id == checkout.id))).scalar_one()
    now = clock.now()
    # WeChat: ≤ 32 characters of [0-9A-Za-z_-|*] (with the sub-orders' "S01"). Unique because the checkout id
    # is; the random part as in order numbers (a reset database must not reuse a number the provider knows).
    tail = f"{secrets.randbelow(10**8):08d}"
    cp = CheckoutPayment(checkout_id=checkout.id, provider=provider,
                         out_trade_no=f"QC{checkout.created_at.astimezone(CHINA):%y%m%d}{checkout.id:09d}{tail}P{n + 1}",
                         amount_fen=sum(o.total_fen for o in due), status="created", created_at=now)
    s.add(cp)
    await s.flush()
    shares = [Payment(order_id=o.id, provider=provider, out_trade_no=f"{cp.out_trade_no}S{i:02d}",
                      amount_fen=o.total_fen, status="created", refunded_fen=0, created_at=now,
                      checkout_payment_id=cp.id, settled_order=False)
              for i, o in enumerate(due, start=1)]
    s.add_all(shares)
    await s.flush()
    return _charge(cp, shares)


def _charge(cp: CheckoutPayment, shares: list[Payment]) -> CheckoutCharge:
    assert sum(p.amount_fen for p in shares) == cp.amount_fen  # the allocation is exact by construction
    return CheckoutCharge(cp.provider, cp.out_trade_no, cp.amount_fen,
                          tuple(SubOrder(p.out_trade_no, p.amount_fen) for p in shares))


async def start_checkout_payment(db: Database, checkout_id: int, buyer_id: int, provider: str,
                                 description: str) -> PaymentIntent:
    """One payment for the whole checkout (one button, one provider transaction)."""
    async with db.write() as s:
        checkout = await orders.checkout_for_buyer(s, checkout_id, buyer_id)
        charge = await open_checkout_payment(s, checkout, provider)
    return await create_intent(charge, description)


async def create_intent(charge: CheckoutCharge, description: str) -> PaymentIntent:
    """The provider call, outside any transaction (DESIGN rule 3)."""
    adapter = registry.get(charge.provider)
    if not charge.sub_orders:
        return await adapter.create_payment(charge.out_trade_no, charge.amount_fen, description)
    subs = tuple(SubOrder(x.out_trade_no, x.amount_fen, description) for x in charge.sub_orders)
    return await adapter.create_combined_payment(charge.out_trade_no, charge.amount_fen, subs, description)


async def checkout_payment(s: AsyncSession, out_trade_no: str) -> CheckoutPayment | None:
    return (await s.execute(select(CheckoutPayment).where(CheckoutPayment.out_trade_no == out_trade_no))
            ).scalar_one_or_none()


async def _apply_combined(s: AsyncSession, cp: CheckoutPayment, result: PaymentResult, source: str) -> str:
    """One verified statement for a whole checkout: every order of it paid at once, each with its exact
    share; an order that can no longer be paid (cancelled meanwhile) gets its share refunded."""
    provider = registry.get(result.provider)
    shares = list((await s.execute(select(Payment).where(Payment.checkout_payment_id == cp.id)
                                   .order_by(Payment.id))).scalars())
    if result.amount_fen != cp.amount_fen or result.merchant_id != provider.merchant_id:
        raise PaymentMismatch(out_trade_no=result.out_trade_no)
    if result.sub_payments:  # WeChat 合单 / sandbox: every sub-order is ours, with exactly its share
        by_no = {p.out_trade_no: p for p in shares}
        if ({x.out_trade_no for x in result.sub_payments} != set(by_no)
                or any(x.amount_fen != by_no[x.out_trade_no].amount_fen or not x.paid for x in result.sub_payments)):
            raise PaymentMismatch(out_trade_no=result.out_trade_no)
        transaction_of = {x.out_trade_no: x.transaction_id for x in result.sub_payments}
    elif getattr(provider, "refunds_per_sub_order", True):
        # A provider with sub-orders must report them: a statement without them cannot be allocated.
        raise PaymentMismatch(out_trade_no=result.out_trade_no)
    else:  # Alipay: one trade; the shares are ours
        transaction_of = {p.out_trade_no: result.transaction_id for p in shares}
    first = await insert_ignore(s, PaymentNotification, {
        "provider": result.provider, "transaction_id": result.transaction_id, "out_trade_no": result.out_trade_no,
        "amount_fen": result.amount_fen, "source": source, "outcome": "pending", "raw": _plain(result.raw),
        "received_at": clock.now(),
    }, ["provider", "transaction_id"])
    if not first:
        return "duplicate"
    now = clock.now()
    paid_at = result.paid_at or now
    won = await guarded_update(s, update(CheckoutPayment).where(
        CheckoutPayment.id == cp.id, CheckoutPayment.status.in_(("created", "closed")),
    ).values(status="succeeded", transaction_id=result.transaction_id, paid_at=paid_at))
    if won != 1:
        # The same combined number paid again under another transaction: give all of that money back.
        for p in shares:
            await _refund_orphan(s, p, PaymentResult(
                provider=result.provider, out_trade_no=p.out_trade_no, transaction_id=transaction_of[p.out_trade_no],
                amount_fen=p.amount_fen, merchant_id=result.merchant_id, paid=True, paid_at=paid_at,
            ), reason="duplicate_charge")
        outcome = "refund_duplicate_charge"
    else:
        settled = 0
        for p in shares:
            await s.execute(update(Payment).where(Payment.id == p.id).values(
                status="succeeded", transaction_id=transaction_of[p.out_trade_no], paid_at=paid_at))
            if await orders.mark_paid(s, p.order_id, payment_id=p.id, amount_fen=p.amount_fen):
                settled += 1
                await s.execute(update(Payment).where(Payment.id == p.id).values(settled_order=True))
                await _close_other_attempts(s, p)
            else:
                await s.refresh(p)
                await request_refund(s, p, p.amount_fen, reason="order_not_payable", source="payment")
                await orders.log_event(s, p.order_id, "late_payment_refunded", data={"payment_id": p.id})
        outcome = "paid" if settled == len(shares) else "refund_not_payable" if settled == 0 else "paid_partly_refunded"
        await s.execute(update(CheckoutPayment).where(CheckoutPayment.checkout_id == cp.checkout_id,
                                                      CheckoutPayment.id != cp.id,
                                                      CheckoutPayment.status == "created").values(status="closed"))
    await s.execute(update(PaymentNotification).where(
        PaymentNotification.provider == result.provider, PaymentNotification.transaction_id == result.transaction_id
    ).values(outcome=outcome))
    return outcome


# --- applying provider statements -----------------------------------------------------------------

async def apply_result(s: AsyncSession, result: PaymentResult, source: str) -> str:
    """Apply a verified provider statement exactly once. Returns the outcome recorded in the inbox."""
    if not result.paid:
        return "not_paid"
    payment = None
    if not result.sub_payments:
        payment = (await s.execute(select(Payment).where(Payment.out_trade_no == result.out_trade_no))
                   ).scalar_one_or_none()
    if payment is None:
        cp = await checkout_payment(s, result.out_trade_no)
        if cp is not None and cp.provider == result.provider:
            return await _apply_combined(s, cp, result, source)
    if payment is None or payment.provider != result.provider or payment.checkout_payment_id is not None:
        raise UnknownPayment(out_trade_no=result.out_trade_no)
    provider = registry.get(result.provider)
    if result.amount_fen != payment.amount_fen or result.merchant_id != provider.merchant_id:
        raise PaymentMismatch(out_trade_no=result.out_trade_no)
    first = await insert_ignore(s, PaymentNotification, {
        "provider": result.provider, "transaction_id": result.transaction_id, "out_trade_no": result.out_trade_no,
        "amount_fen": result.amount_fen, "source": source, "outcome": "pending", "raw": _plain(result.raw),
        "received_at": clock.now(),
    }, ["provider", "transaction_id"])
    if not first:
        return "duplicate"
    now = clock.now()
    # "closed" = an attempt closed because another attempt of the order was paid first; its money is real
    # and known to its provider under its own out_trade_no, so record it and refund it below.
    won = await guarded_update(s, update(Payment).where(
        Payment.id == payment.id, Payment.status.in_(("created", "closed")),
    ).values(status="succeeded", transaction_id=result.transaction_id, paid_at=result.paid_at or now))
    if won != 1:
        # Same out_trade_no paid again under another transaction id: give that money back.
        outcome = "refund_duplicate_charge"
        await _refund_orphan(s, payment, result, reason="duplicate_charge")
    elif await orders.mark_paid(s, payment.order_id, payment_id=payment.id, amount_fen=payment.amount_fen):
        outcome = "paid"
        await s.execute(update(Payment).where(Payment.id == payment.id).values(settled_order=True))
        await _close_other_attempts(s, payment)
    else:
        # The order was cancelled (or paid through another attempt) before the money arrived.
        outcome = "refund_not_payable"
        await request_refund(s, payment, payment.amount_fen, reason="order_not_payable", source="payment")
        await orders.log_event(s, payment.order_id, "late_payment_refunded", data={"payment_id": payment.id})
    await s.execute(update(PaymentNotification).where(
        PaymentNotification.provider == result.provider, PaymentNotification.transaction_id == result.transaction_id
    ).values(outcome=outcome))
    return outcome


async def _close_other_attempts(s: AsyncSession, paid: Payment) -> None:
    await s.execute(update(Payment).where(Payment.order_id == paid.order_id, Payment.id != paid.id,
                                          Payment.status == "created").values(status="closed"))


async def _refund_orphan(s: AsyncSession, payment: Payment, result: PaymentResult, reason: str) -> None:
    """Money that arrived for an attempt already settled: record it as its own payment and refund it."""
    orphan = Payment(order_id=payment.order_id, provider=result.provider,
                     out_trade_no=f"{payment.out_trade_no}D{result.transaction_id[-8:]}", amount_fen=result.amount_fen,
                     status="succeeded", transaction_id=result.transaction_id, refunded_fen=0,
                     created_at=clock.now(), paid_at=result.paid_at or clock.now())
    s.add(orphan)
    await s.flush()
    await request_refund(s, orphan, orphan.amount_fen, reason=reason, source="payment")


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(raw, default=str))


async def handle_notification(db: Database, provider_name: str, headers: dict[str, str], body: bytes) -> str:
    """Verify (signature, freshness, decryption) and apply. Raises NotificationRejected for forgeries."""
    provider = registry.get(provider_name)
    result = provider.verify_notification(headers, body, clock.now())
    async with db.write() as s:
        return await apply_result(s, result, "notify")


async def paid_payment_of(s: AsyncSession, order_id: int) -> Payment | None:
    """The payment that paid the order (its inbox outcome is "paid"), not a late or duplicate payment of
    the same order that succeeded too and was refunded in full."""
    return (await s.execute(
        select(Payment).where(Payment.order_id == order_id, Payment.status == "succeeded",
                              Payment.settled_order.is_(True)).order_by(Payment.id)
    )).scalars().first()


async def request_refund(s: AsyncSession, payment: Payment, amount_fen: int, *, reason: str, source: str) -> Refund:
    """Reserve `amount_fen` of the payment for a refund (one guarded update) and queue the provider call."""
    ok = await guarded_update(s, update(Payment).where(
        Payment.id == payment.id, Payment.status == "succeeded",
        Payment.refunded_fen + amount_fen <= Payment.amount_fen,
    ).values(refunded_fen=Payment.refunded_fen + amount_fen))
    if ok != 1 or amount_fen <= 0:
        raise RefundTooLarge(amount_fen=amount_fen)
    n = (await s.execute(select(func.count()).where(Refund.payment_id == payment.id))).scalar_one()
    refund = Refund(payment_id=payment.id, order_id=payment.order_id, out_refund_no=f"{payment.out_trade_no}R{n + 1}",
                    amount_fen=amount_fen, status="pending", reason=reason, source=source, created_at=clock.now())
    s.add(refund)
    await s.flush()
    await outbox.emit(s, "payments.refund_requested", {"refund_id": refund.id})
    return refund


async def execute_refund(db: Database, refund_id: int) -> bool:
    """Call the provider for a pending refund (idempotent by out_refund_no), then record the result."""
    async with db.read() as s:
        refund = await s.get(Refund, refund_id)
        if refund is None or refund.status != "pending":
            return False
        payment = await s.get(Payment, refund.payment_id)
        assert payment is not None
        provider = registry.get(payment.provider)
        args = (refund.out_refund_no, payment.out_trade_no, payment.transaction_id or "", refund.amount_fen,
                payment.amount_fen, refund.reason)
        if payment.checkout_payment_id is not None and not getattr(provider, "refunds_per_sub_order", True):
            # One trade for the checkout (Alipay): refund against it; the order's share capped it above.
            cp = await s.get(CheckoutPayment, payment.checkout_payment_id)
            assert cp is not None
            args = (refund.out_refund_no, cp.out_trade_no, cp.transaction_id or "", refund.amount_fen,
                    cp.amount_fen, refund.reason)
    result = await provider.refund(*args)  # no transaction open here
    if result.status == "failed":
        raise DomainError({"zh": "退款被支付渠道拒绝", "en": "The provider refused the refund"})
    if result.status != "succeeded":
        # WeChat answers PROCESSING and settles later: ask again (same out_refund_no) after a backoff.
        raise RuntimeError(f"refund {refund_id} still processing at the provider")
    async with db.write() as s:
        done = await guarded_update(s, update(Refund).where(Refund.id == refund_id, Refund.status == "pending").values(
            status="succeeded", provider_refund_id=result.refund_id, done_at=clock.now()))
        if done == 1:
            r = await s.get(Refund, refund_id)
            assert r is not None
            await orders.log_event(s, r.order_id, "refunded", data={"refund_id": r.id, "amount_fen": r.amount_fen,
                                                                    "reason": r.reason})
            await outbox.emit(s, "payments.refund_succeeded", {
                "refund_id": r.id, "order_id": r.order_id, "amount_fen": r.amount_fen, "source": r.source,
                "reason": r.reason,
            })
    return True


async def query_due(db: Database, now: datetime, older_than_minutes: int, limit: int = 50) -> int:
    """Ask the provider about payments whose notification never came; apply what it says."""
    from datetime import timedelta

    cutoff = now - timedelta(minutes=older_than_minutes)
    async with db.read() as s:
        rows = (await s.execute(select(Payment.id, Payment.provider, Payment.out_trade_no).where(
            Payment.status == "created", Payment.created_at <= cutoff, Payment.checkout_payment_id.is_(None), Payment.created_at >= now - timedelta(days=2),
            (Payment.last_queried_at.is_(None)) | (Payment.last_queried_at <= now - timedelta(minutes=1)),
        ).order_by(Payment.id).limit(limit))).all()
    applied = 0
    for pid, provider_name, out_trade_no in rows:
        async with db.write() as s:
            await s.execute(update(Payment).where(Payment.id == pid).values(last_queried_at=now))
        result = await registry.get(provider_name).query_payment(out_trade_no)
        if result is not None and result.paid:
            async with db.write() as s:
                outcome = await apply_result(s, result, "query")
            applied += outcome not in {"duplicate", "not_paid"}
    async with db.read() as s:
        combined = (await s.execute(select(CheckoutPayment.id, CheckoutPayment.provider, CheckoutPayment.out_trade_no)
                                    .where(CheckoutPayment.status == "created", CheckoutPayment.created_at <= cutoff,
                                           CheckoutPayment.created_at >= now - timedelta(days=2),
                                           (CheckoutPayment.last_queried_at.is_(None))
                                           | (CheckoutPayment.last_queried_at <= now - timedelta(minutes=1)))
                                    .order_by(CheckoutPayment.id).limit(limit))).all()
    for cid, provider_name, out_trade_no in combined:
        async with db.write() as s:
            await s.execute(update(CheckoutPayment).where(CheckoutPayment.id == cid).values(last_queried_at=now))
        result = await registry.get(provider_name).query_combined_payment(out_trade_no)
        if result is not None and result.paid:
            async with db.write() as s:
                outcome = await apply_result(s, result, "query")
            applied += outcome not in {"duplicate", "not_paid"}
    return applied
