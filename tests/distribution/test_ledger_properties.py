"""Ledger invariants of the distribution money path (DESIGN rule 5), held by hypothesis on a real database.

Each example builds a small program (an upline and three shopkeepers bound to it, a buyer) and runs a random
sequence of: buy + pay through a shopkeeper's shop, ship + receive, a refund of part or all of a line through
the after-sales service (approved at once, or left open and decided later), a late refund after the line's
commission unlocked, moving the clock and running the unlock sweep, withdrawal requests of random amounts,
approve (sometimes with a failing first payout) or reject. After every step:

- `ledger.check` is empty: every transaction sums to zero, cached balances equal their entries, pending /
  available / withdrawing / paid_out never negative, debt never positive;
- per distributor: pending = unreversed commission still pending; available + withdrawing + paid_out + debt =
  unreversed unlocked commission − withdrawal fees kept; withdrawing and paid_out match the withdrawals;
- per line: what is kept of each commission is exactly ⌊amount × (paid − refunded) / paid⌋;
- platform: commission_expense = −(all unreversed commission), fee_income = the fees kept.

At the end everything still open is settled and every line is refunded: each distributor's net position is
back where it started, less the withdrawal fees they chose to pay, and money already paid out shows as an equal
debt (pending, available and withdrawing are 0, debt = −(paid_out + fees of paid withdrawals)).

Examples share the test's database, so each example uses its own users (the product is shared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from quanzi.accounts import service as accounts
from quanzi.aftersales import service as aftersales
from quanzi.aftersales.models import OPEN_STATES, AfterSale
from quanzi.cart import service as cart
from quanzi.distribution.models import Commission
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.errors import DomainError
from quanzi.ledger import service as ledger
from quanzi.ledger.models import LedgerAccount
from quanzi.orders import service as orders
from quanzi.orders.models import Order, OrderLine
from quanzi.payments import registry
from quanzi.referrals import service as referrals
from quanzi.kit import sharetokens as tokens
from quanzi.shops import service as shops
from quanzi.withdrawals import service as withdrawals
from quanzi.withdrawals.models import Withdrawal
from tests.factories import (
    SHARE_SECRET,
    Fan,
    buy,
    decide_aftersale,
    late_refund,
    new_product,
    next_phone,
    set_distribution,
    unlock,
)

PAYEE = {"name": "店主", "account": "6222000011112222"}
KEPT = ("requested", "approved", "paid")  # withdrawals whose fee the platform keeps

idx = st.integers(min_value=0, max_value=99)
BUY = st.tuples(st.just("buy"), st.sampled_from([0, 1, 2]),
                st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=3,
                         unique_by=lambda x: x[0]))
SHIP = st.tuples(st.just("ship_receive"), idx)
SHIP_ALL_OP = ("ship_receive_all",)
REFUND = st.tuples(st.just("refund"), idx, idx, st.integers(1, 3), st.sampled_from(["approve", "approve", "open"]))
DECIDE_AFTERSALE = st.tuples(st.just("decide_aftersale"), idx, st.sampled_from(["approve", "reject"]))
LATE_REFUND = st.tuples(st.just("late_refund"), idx, idx, st.integers(1, 3))
ADVANCE = st.tuples(st.just("advance"), st.sampled_from([1, 2, 5]))
PAST_FREEZE = st.tuples(st.just("advance"), st.sampled_from([8, 9, 16, 3]))
WITHDRAW = st.tuples(st.just("withdraw"), st.sampled_from([0, 3, 1, 2]),  # the upline earns on every sale
                     st.sampled_from([100, 50, 30, 110, 1]))
DECIDE_WITHDRAWAL = st.tuples(st.just("decide_withdrawal"), idx,
                              st.sampled_from(["approve", "approve_flaky", "reject"]))
# A round of business: buys; refunds (or after-sales left open) before shipment; everything shipped and
# received; after-sales inside the return window; time passes (usually past the freeze); then money moves —
# withdrawals, decisions, late refunds — with more time passing in between. Rounds overlap: what one round
# leaves open (orders, after-sales, withdrawals, payouts waiting for a retry) is picked up by the next.
ROUND = st.tuples(
    st.lists(BUY, min_size=1, max_size=2),
    st.lists(st.one_of(REFUND, SHIP, DECIDE_AFTERSALE), max_size=2),
    st.just(SHIP_ALL_OP),
    st.lists(st.one_of(REFUND, DECIDE_AFTERSALE), max_size=2),
    PAST_FREEZE,
    WITHDRAW,
    DECIDE_WITHDRAWAL,
    st.lists(st.one_of(WITHDRAW, DECIDE_WITHDRAWAL, LATE_REFUND, DECIDE_AFTERSALE, ADVANCE), max_size=4),
).map(lambda r: [*r[0], *r[1], r[2], *r[3], r[4], r[5], r[6], *r[7]])
SEQUENCES = st.lists(ROUND, min_size=1, max_size=3).map(lambda rounds: [op for r in rounds for op in r])


@dataclass
class Program:
    upline: int
    keepers: list[int]
    shops: list[int]
    buyer: Fan
    orders: list[int] = field(default_factory=list)
    open_aftersales: list[int] = field(default_factory=list)
    withdrawals: list[int] = field(default_factory=list)

    @property
    def people(self) -> list[int]:
        return [*self.keepers, self.upline]


async def new_program(db: Database) -> Program:
    """An upline and three shopkeepers bound to it through signed share tokens, and a buyer: one transaction."""
    async with db.write() as s:
        ids = [(await accounts.get_or_create_user(s, next_phone(), f"用户{i}"))[0].id for i in range(5)]
        upline, keepers, buyer = ids[0], ids[1:4], ids[4]
        shop_ids = [(await shops.open_shop(s, uid, f"店铺{uid}")).id for uid in (upline, *keepers)][1:]
        for k in keepers:
            token = tokens.verify(SHARE_SECRET, tokens.issue(SHARE_SECRET, upline, "s", 1, clock.now()), clock.now(), 30)
            assert await referrals.bind(s, k, token, is_new_user=True) == "bound"
        addr = await cart.add_address(s, buyer, name="买家", phone="13900000009", region="上海", detail="1 号")
        return Program(upline, keepers, shop_ids, Fan(buyer, {}, addr.id))


# --- the steps --------------------------------------------------------------------------------------------

def pick(items: list[Any], i: int) -> Any:
    return items[i % len(items)] if items else None


async def order_and_line(db: Database, p: Program, i: int, j: int) -> tuple[Order, OrderLine] | None:
    order_id = pick(p.orders, i)
    if order_id is None:
        return None
    async with db.read() as s:
        order = await orders.get_order(s, order_id)
        line = pick((await orders.lines_of(s, [order_id]))[order_id], j)
    return order, line


async def step(db: Database, p: Program, skus: list[int], op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "buy":
        _, k, items = op
        p.orders.append(await buy(db, p.buyer, [(skus[i], q) for i, q in items], p.shops[k]))
    elif kind == "ship_receive_all":
        for i in range(len(p.orders)):
            await step(db, p, skus, ("ship_receive", i))
    elif kind == "ship_receive":
        order_id = pick(p.orders, op[1])
        if order_id is None:
            return
        try:
            async with db.write() as s:
                order = await orders.get_order(s, order_id)
                if order.status == "paid":
                    await orders.ship(s, order, carrier="顺丰", tracking_no="SF1", actor_id=1)
            async with db.write() as s:
                order = await orders.get_order(s, order_id)
                if order.status == "shipped":
                    await orders.confirm_receipt(s, order, actor_id=order.buyer_id)
        except DomainError:
            pass  # e.g. an after-sale is open on an unshipped order
        await outbox.drain(db)
    elif kind == "refund":
        _, i, j, qty, decision = op
        found = await order_and_line(db, p, i, j)
        if found is None:
            return
        order, line = found
        left = line.quantity - line.refunded_qty
        if left <= 0:
            return
        try:
            async with db.write() as s:
                a = await aftersales.request(s, p.buyer.user_id, order.id, line.id, "refund_only", min(qty, left), "换")
                aftersale_id = a.id
        except DomainError:
            return  # window closed, one already open, order closed …
        await outbox.drain(db)
        if decision == "open":
            p.open_aftersales.append(aftersale_id)
        else:
            await decide_aftersale(db, aftersale_id, "approve")
    elif kind == "decide_aftersale":
        aftersale_id = pick(p.open_aftersales, op[1])
        if aftersale_id is not None:
            p.open_aftersales.remove(aftersale_id)
            await decide_aftersale(db, aftersale_id, op[2])
    elif kind == "late_refund":
        _, i, j, qty = op
        found = await order_and_line(db, p, i, j)
        if found is None:
            return
        order, line = found
        left = line.quantity - line.refunded_qty
        # Only where the after-sales service no longer can: received, window closed, nothing open on the line.
        if (left > 0 and order.status == "received" and order.return_deadline is not None
                and clock.now() >= order.return_deadline and not await _open_on(db, line.id)):
            await late_refund(db, order.id, line.id, min(qty, left))
            event("late refund during the sequence")
    elif kind == "advance":
        clock.advance(timedelta(days=op[1]))
        await outbox.drain(db)  # payouts waiting for their backoff, too
        await unlock(db)
    elif kind == "withdraw":
        _, who, pct = op
        uid = p.people[who]
        async with db.read() as s:
            available = await ledger.balance(s, uid, "available")
        amount = available * pct // 100
        if amount <= 0:
            return
        try:
            async with db.write() as s:
                p.withdrawals.append((await withdrawals.request(s, uid, amount, "alipay", PAYEE)).id)  # paid by the sandbox channel
        except DomainError as exc:
            assert exc.code in ("withdrawal.insufficient_balance", "withdrawal.below_minimum"), exc
            assert amount > available or amount < 100
    elif kind == "decide_withdrawal":
        wid = pick(p.withdrawals, op[1])
        if wid is None:
            return
        async with db.write() as s:
            w = await withdrawals.get(s, wid)
            if w.status != "requested":
                return
            if op[2] == "reject":
                await withdrawals.reject(s, w, 1, "信息有误")
            else:
                await withdrawals.approve(s, w, 1)
        if op[2] == "approve_flaky":
            registry.get("sandbox").fail_next_transfers = 1  # type: ignore[attr-defined]
        await outbox.drain(db)
        registry.get("sandbox").fail_next_transfers = 0  # type: ignore[attr-defined]


async def _open_on(db: Database, line_id: int) -> bool:
    async with db.read() as s:
        return (await s.execute(select(func.count()).where(AfterSale.line_id == line_id,
                                                          AfterSale.status.in_(OPEN_STATES)))).scalar_one() > 0


# --- the invariants ---------------------------------------------------------------------------------------

async def check(db: Database, p: Program) -> None:
    async with db.read() as s:
        assert await ledger.check(s) == []
        people = p.people
        bal: dict[int, dict[str, int]] = {uid: dict.fromkeys(ledger.USER_KINDS, 0) for uid in people}
        for uid, kind, amount in (await s.execute(select(
                LedgerAccount.owner_id, LedgerAccount.kind, LedgerAccount.balance_fen).where(
                LedgerAccount.owner_type == "user", LedgerAccount.owner_id.in_(people)))).all():
            bal[uid][kind] = amount
        cs: dict[int, list[tuple[Commission, int, int]]] = {uid: [] for uid in people}
        for c, paid, refunded in (await s.execute(
                select(Commission, OrderLine.paid_fen, OrderLine.refunded_fen)
                .join(OrderLine, OrderLine.id == Commission.line_id)
                .where(Commission.beneficiary_id.in_(people)))).all():
            cs[c.beneficiary_id].append((c, paid, refunded))
        ws: dict[int, list[Withdrawal]] = {uid: [] for uid in people}
        for w in (await s.execute(select(Withdrawal).where(Withdrawal.user_id.in_(people)))).scalars():
            ws[w.user_id].append(w)
        for uid in people:
            b = bal[uid]
            unreversed = {state: sum(c.amount_fen - c.reversed_fen for c, _, _ in cs[uid] if c.status == state)
                          for state in ("pending", "available", "reversed")}
            assert unreversed["reversed"] == 0
            fees = sum(w.fee_fen for w in ws[uid] if w.status in KEPT)
            assert b["pending"] == unreversed["pending"], (uid, b, unreversed)
            assert b["available"] + b["withdrawing"] + b["paid_out"] + b["debt"] == unreversed["available"] - fees, \
                (uid, b, unreversed, fees)
            assert sum(b.values()) == sum(unreversed.values()) - fees
            assert b["withdrawing"] == sum(w.net_fen for w in ws[uid] if w.status in ("requested", "approved"))
            assert b["paid_out"] == sum(w.net_fen for w in ws[uid] if w.status == "paid")
            for c, paid, refunded in cs[uid]:  # what is kept is exactly the unrefunded share, rounded down
                assert c.amount_fen - c.reversed_fen == c.amount_fen * (paid - refunded) // paid, (c.id, paid, refunded)
        all_commission, all_fees = (await s.execute(select(
            select(func.coalesce(func.sum(Commission.amount_fen - Commission.reversed_fen), 0)).scalar_subquery(),
            select(func.coalesce(func.sum(Withdrawal.fee_fen), 0)).where(Withdrawal.status.in_(KEPT))
            .scalar_subquery()))).one()
        plat = await ledger.balances(s, 0, "platform")
        assert plat.get("commission_expense", 0) == -all_commission
        assert plat.get("fee_income", 0) == all_fees


async def refund_everything(db: Database, p: Program) -> None:
    """Settle what is open, then give every remaining unit of every line back."""
    for aftersale_id in p.open_aftersales:
        await decide_aftersale(db, aftersale_id, "reject")
    p.open_aftersales.clear()
    for wid in p.withdrawals:
        async with db.write() as s:
            w = await withdrawals.get(s, wid)
            if w.status == "requested":
                await withdrawals.approve(s, w, 1)
    clock.advance(timedelta(hours=1))  # past any payout backoff
    await outbox.drain(db)
    async with db.read() as s:
        for uid in p.people:
            assert not [w for w in await withdrawals.mine(s, uid) if w.status in ("requested", "approved")]
    await check(db, p)
    for order_id in p.orders:
        async with db.read() as s:
            order = await orders.get_order(s, order_id)
            lines = (await orders.lines_of(s, [order_id]))[order_id]
        for line in lines:
            left = line.quantity - line.refunded_qty
            if left <= 0:
                continue
            try:
                async with db.write() as s:
                    a = await aftersales.request(s, p.buyer.user_id, order_id, line.id, "refund_only", left, "全退")
                    aftersale_id = a.id
            except DomainError as exc:
                assert exc.code == "aftersale.window_closed", exc  # too late for the buyer: refunded anyway
                await late_refund(db, order_id, line.id, left)
            else:
                await outbox.drain(db)
                await decide_aftersale(db, aftersale_id, "approve")
            await check(db, p)
    clock.advance(timedelta(days=30))
    await outbox.drain(db)
    await unlock(db)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(ops=SEQUENCES, fee_bp=st.sampled_from([0, 0, 150, 600]))
async def test_ledger_invariants_hold_under_any_sequence(app, db: Database, ops: list[tuple[Any, ...]],  # noqa: ANN001
                                                        fee_bp: int) -> None:
    await set_distribution(db, withdraw_fee_bp=fee_bp, withdraw_min_fen=100)
    skus = getattr(db, "_property_skus", None)  # one product per test database, shared by its examples
    if skus is None:
        skus = (await new_product(db, prices=(999, 8_000, 12_345), stock=100_000)).sku_ids
        db._property_skus = skus  # type: ignore[attr-defined]
    p = await new_program(db)
    for op in ops:
        await step(db, p, skus, op)
        await check(db, p)
    async with db.read() as s:
        states = {c.status for c in (await s.execute(select(Commission).where(
            Commission.beneficiary_id.in_(p.people)))).scalars()}
        debts = [await ledger.balance(s, uid, "debt") for uid in p.people]
        paid = [w for w in (await s.execute(select(Withdrawal).where(Withdrawal.user_id.in_(p.people)))).scalars()]
    for state in sorted(states):
        event(f"sequence leaves a {state} commission")
    if any(debts):
        event("sequence leaves a debt")
    for w in paid:
        event(f"sequence leaves a {w.status} withdrawal")

    await refund_everything(db, p)
    await check(db, p)
    async with db.read() as s:
        for uid in p.people:
            b = await ledger.balances(s, uid)
            cs = list((await s.execute(select(Commission).where(Commission.beneficiary_id == uid))).scalars())
            ws = list((await s.execute(select(Withdrawal).where(Withdrawal.user_id == uid))).scalars())
            if b["debt"]:
                event("a distributor ends with a debt for money paid out")
            if any(w.attempts > 1 for w in ws):
                event("a payout was retried")
            assert all(c.reversed_fen == c.amount_fen for c in cs)
            fees_paid = sum(w.fee_fen for w in ws if w.status == "paid")
            assert (b["pending"], b["available"], b["withdrawing"]) == (0, 0, 0), (uid, b)
            assert b["debt"] == -(b["paid_out"] + fees_paid), (uid, b, fees_paid)
            assert sum(b.values()) == -fees_paid  # back where they started, less the fees they chose to pay

