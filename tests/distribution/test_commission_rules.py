"""Commission rules (DOMAIN_RULES §1): base = what was paid for the line, rounded down; fixed per SKU × quantity
capped at the line; rates per distributor level; campaign opt-out; self-purchase rebate off by default; pending
at payment, available only after the freeze counted from the day after receipt and never while an after-sale
is open; proportional reversal; a refund after the money left becomes a debt repaid first; levels rise only on
own attributed sales or commission, never on the distributor's own purchases.

Real database, real services, real outbox; the payment goes through the sandbox provider's signed notification.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from quanzi.distribution import service as distribution
from quanzi.distribution.models import Commission, SkuCommissionRule
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.ledger.models import LedgerTransaction
from quanzi.orders.service import CHINA
from quanzi.withdrawals import service as withdrawals
from tests.commerce._support import count, rows
from tests.factories import (
    Fan,
    ask_refund,
    balances,
    buy,
    decide_aftersale,
    late_refund,
    ledger_problems,
    lines_of,
    new_buyer,
    new_product,
    new_shopkeeper,
    set_distribution,
    ship_and_receive,
    unlock,
)


@dataclass
class Program:
    upline: int      # level 2
    keeper: int      # level 1, bound to the upline
    shop_id: int     # the keeper's shop
    buyer: Fan
    sku: int         # 1000 fen
    odd_sku: int     # 999 fen
    big_sku: int     # 5000 fen


@pytest.fixture
async def program(app, db: Database) -> Program:  # noqa: ANN001 - `app` configures the payment providers
    upline, _ = await new_shopkeeper(db)
    keeper, shop_id = await new_shopkeeper(db, upline=upline)
    buyer = await new_buyer(db)
    p = await new_product(db, prices=(1000, 999, 5000))
    return Program(upline, keeper, shop_id, buyer, *p.sku_ids)


async def commissions(db: Database, **where: int) -> list[Commission]:
    return await rows(db, Commission, *[getattr(Commission, k) == v for k, v in where.items()],
                      order_by=Commission.id)


def china_noon(days_from_now: int = 1) -> datetime:
    day = clock.now().astimezone(CHINA).date() + timedelta(days=days_from_now)
    # Some moment between 09:00 and 15:00, China time: the day is what matters; varying the second keeps
    # order numbers (time + 6 random digits) of different tests apart at the shared sandbox provider.
    return datetime.combine(day, time(9 + secrets.randbelow(6), secrets.randbelow(60), secrets.randbelow(60)),
                            tzinfo=CHINA)


def china_midnight(received: datetime, days_after: int) -> datetime:
    """00:00 China time on day D+days_after, D being the day of `received`."""
    return datetime.combine(received.astimezone(CHINA).date() + timedelta(days=days_after), time(0, 0), tzinfo=CHINA)


# --- how much ----------------------------------------------------------------------------------------------

async def test_percentage_of_what_was_paid_for_the_line_rounded_down_sub_fen_dropped(db, program: Program) -> None:  # noqa: ANN001
    order_id = await buy(db, program.buyer, [(program.odd_sku, 1)], program.shop_id)
    (c1, c2) = await commissions(db, order_id=order_id)
    # 10 % of 999 = 99.9 → 99; 3 % of 999 = 29.97 → 29. Shipping (the ¥8 fee under ¥99) is not in the base.
    assert (c1.level, c1.beneficiary_id, c1.base_fen, c1.amount_fen, c1.rule) == (1, program.keeper, 999, 99,
                                                                                   "rate:1000bp")
    assert (c2.level, c2.beneficiary_id, c2.base_fen, c2.amount_fen) == (2, program.upline, 999, 29)
    assert (await balances(db, program.keeper))["pending"] == 99
    assert (await balances(db, program.upline))["pending"] == 29
    assert await ledger_problems(db) == []

    await set_distribution(db, level1_bp=1, level2_bp=1)  # 0.01 % of ¥10 = 0.1 fen: dropped, nothing booked
    order_id = await buy(db, program.buyer, [(program.sku, 1)], program.shop_id)
    assert await commissions(db, order_id=order_id) == []
    assert await count(db, LedgerTransaction) == 2


async def test_fixed_per_sku_times_quantity_capped_at_the_line(db, program: Program) -> None:  # noqa: ANN001
    async with db.write() as s:
        s.add(SkuCommissionRule(sku_id=program.sku, l1_fixed_fen=150, l2_fixed_fen=40))
        s.add(SkuCommissionRule(sku_id=program.odd_sku, l1_fixed_fen=1200, l2_fixed_fen=0))
    order_id = await buy(db, program.buyer, [(program.sku, 3), (program.odd_sku, 1), (program.big_sku, 1)],
                         program.shop_id)
    got = {(c.line_id, c.level): (c.amount_fen, c.rule) for c in await commissions(db, order_id=order_id)}
    fixed, capped, rate = await lines_of(db, order_id)
    assert got[(fixed.id, 1)] == (450, "fixed:150x3")
    assert got[(fixed.id, 2)] == (120, "fixed:40x3")
    assert got[(capped.id, 1)] == (999, "fixed:1200x1")  # ¥12 per unit would exceed the ¥9.99 line: capped
    assert got[(capped.id, 2)] == (29, "rate:300bp")   # no fixed level-2 amount: the rate applies
    assert got[(rate.id, 1)] == (500, "rate:1000bp")
    assert (await balances(db, program.keeper))["pending"] == 450 + 999 + 500


async def test_each_distributor_level_has_its_own_rates(db, program: Program) -> None:  # noqa: ANN001
    async with db.write() as s:
        await distribution.put_level(s, rank=1, name="金牌", l1_bp=2000, l2_bp=500, criteria=[], actor_id=1)
        await distribution.maybe_upgrade(s, [program.keeper, program.upline])  # no threshold: both reach it
    assert (await _rank(db, program.keeper), await _rank(db, program.upline)) == (1, 1)
    order_id = await buy(db, program.buyer, [(program.sku, 2)], program.shop_id)
    amounts = [(c.level, c.beneficiary_id, c.amount_fen) for c in await commissions(db, order_id=order_id)]
    assert amounts == [(1, program.keeper, 400), (2, program.upline, 100)]  # 20 % and 5 % of ¥20


async def test_campaign_orders_that_opt_out_pay_nothing(db, program: Program) -> None:  # noqa: ANN001
    order_id = await buy(db, program.buyer, [(program.big_sku, 2)], program.shop_id, commission_eligible=False)
    assert await commissions(db, order_id=order_id) == []
    assert await count(db, LedgerTransaction) == 0


async def test_self_purchase_pays_nothing_by_default_and_the_rebate_when_switched_on(db, program: Program) -> None:  # noqa: ANN001
    me = await _as_buyer(db, program.keeper)
    order_id = await buy(db, me, [(program.big_sku, 1)], program.shop_id)
    # The keeper's own purchase through the keeper's own shop: neither the keeper nor the upline earns.
    assert await commissions(db, order_id=order_id) == []
    assert await count(db, LedgerTransaction) == 0

    await set_distribution(db, self_purchase_rebate=True)
    order_id = await buy(db, me, [(program.big_sku, 1)], program.shop_id)
    amounts = [(c.level, c.beneficiary_id, c.amount_fen) for c in await commissions(db, order_id=order_id)]
    assert amounts == [(1, program.keeper, 500), (2, program.upline, 150)]
    order_id = await buy(db, me, [(program.big_sku, 1)])  # also without going through the shop
    amounts = [(c.level, c.beneficiary_id, c.amount_fen) for c in await commissions(db, order_id=order_id)]
    assert amounts == [(1, program.keeper, 500), (2, program.upline, 150)]
    _, other_shop = await new_shopkeeper(db)  # through somebody else's shop the rebate takes nothing from them:
    order_id = await buy(db, me, [(program.big_sku, 1)], other_shop)  # the keeper's own referrer is level 1
    assert [(c.level, c.beneficiary_id) for c in await commissions(db, order_id=order_id)] == [(1, program.upline)]


async def _as_buyer(db: Database, user_id: int) -> Fan:
    from quanzi.cart import service as cart

    async with db.write() as s:
        addr = await cart.add_address(s, user_id, name="店主", phone="13500000000", region="上海", detail="1 号")
        return Fan(user_id, {}, addr.id)


# --- when -------------------------------------------------------------------------------------------------

async def test_pending_at_payment_available_on_day_eight_after_receipt(db, program: Program) -> None:  # noqa: ANN001
    received = china_noon()
    clock.freeze(received - timedelta(days=2))
    order_id = await buy(db, program.buyer, [(program.sku, 1)], program.shop_id)
    assert (await balances(db, program.keeper))["pending"] == 100  # pending from payment on
    clock.freeze(received)
    await ship_and_receive(db, order_id)

    clock.freeze(china_midnight(received, 8) - timedelta(seconds=1))  # the last second of day 7
    assert await unlock(db) == 0
    assert (await balances(db, program.keeper))["available"] == 0
    clock.freeze(china_midnight(received, 8))  # day 8 begins
    assert await unlock(db) == 2  # level 1 and level 2
    b = await balances(db, program.keeper)
    assert (b["pending"], b["available"]) == (0, 100)
    assert (await balances(db, program.upline))["available"] == 30
    assert all(c.status == "available" for c in await commissions(db, order_id=order_id))
    assert await unlock(db) == 0  # nothing unlocks twice
    async with db.read() as s:
        unlocks = (await s.execute(select(LedgerTransaction).where(LedgerTransaction.kind == "commission.unlock"))).all()
    assert len(unlocks) == 1
    assert (await balances(db, program.keeper))["available"] == 100


async def test_the_freeze_never_starts_before_receipt(db, program: Program) -> None:  # noqa: ANN001
    order_id = await buy(db, program.buyer, [(program.sku, 1)], program.shop_id)
    await ship_and_receive(db, order_id, receive=False)
    clock.advance(timedelta(days=60))  # paid and shipped long ago, never received
    assert await unlock(db) == 0
    assert (await balances(db, program.keeper))["pending"] == 100


async def test_freeze_is_configurable(db, program: Program) -> None:  # noqa: ANN001
    await set_distribution(db, freeze_days=14)
    received = china_noon()
    clock.freeze(received)
    order_id = await buy(db, program.buyer, [(program.sku, 1)], program.shop_id)
    await ship_and_receive(db, order_id)
    clock.freeze(china_midnight(received, 15) - timedelta(seconds=1))
    assert await unlock(db) == 0
    clock.freeze(china_midnight(received, 15))
    assert await unlock(db) == 2
    assert (await balances(db, program.keeper))["available"] == 100


async def test_open_aftersale_holds_the_line_until_it_is_decided(db, program: Program) -> None:  # noqa: ANN001
    received = china_noon()
    clock.freeze(received)
    order_id = await buy(db, program.buyer, [(program.sku, 1), (program.big_sku, 1)], program.shop_id)
    await ship_and_receive(db, order_id)
    held, free = await lines_of(db, order_id)
    clock.freeze(received + timedelta(days=3))
    aftersale_id = await ask_refund(db, program.buyer.user_id, order_id, held.id, 1, decision=None)

    clock.freeze(china_midnight(received, 9))  # past the freeze
    assert await unlock(db) == 2  # the other line's two commissions only
    line_status = {(c.line_id, c.level): c.status for c in await commissions(db, order_id=order_id)}
    assert line_status[(held.id, 1)] == line_status[(held.id, 2)] == "pending"
    assert line_status[(free.id, 1)] == "available"
    assert (await balances(db, program.keeper))["available"] == 500

    await decide_aftersale(db, aftersale_id, "reject")
    assert await unlock(db) == 2
    b = await balances(db, program.keeper)
    assert (b["pending"], b["available"]) == (0, 600)
    assert await ledger_problems(db) == []


async def test_aftersale_asked_on_the_last_day_holds_even_before_the_outbox_runs(db, program: Program) -> None:  # noqa: ANN001
    """The hold counter is maintained by outbox handlers; a sweep that runs between the buyer's request and
    its delivery must still see the open after-sale (the request itself is the source of truth)."""
    from quanzi.aftersales import service as aftersales

    received = china_noon()
    clock.freeze(received)
    order_id = await buy(db, program.buyer, [(program.sku, 1)], program.shop_id)
    await ship_and_receive(db, order_id)
    (line,) = await lines_of(db, order_id)
    clock.freeze(china_midnight(received, 8) - timedelta(seconds=1))  # 23:59:59 on the last day
    async with db.write() as s:
        await aftersales.request(s, program.buyer.user_id, order_id, line.id, "refund_only", 1, "坏了")
    clock.freeze(china_midnight(received, 8))
    assert await unlock(db) == 0  # the worker's sweep came before the outbox delivered the hold
    assert (await balances(db, program.keeper))["available"] == 0
    await outbox.drain(db)
    assert await unlock(db) == 0
    assert [c.status for c in await commissions(db, order_id=order_id)] == ["pending", "pending"]


# --- reversal ---------------------------------------------------------------------------------------------

async def test_partial_refund_reverses_in_proportion(db, program: Program) -> None:  # noqa: ANN001
    order_id = await buy(db, program.buyer, [(program.sku, 3), (program.odd_sku, 3)], program.shop_id)
    even, odd = await lines_of(db, order_id)
    await ask_refund(db, program.buyer.user_id, order_id, even.id, 1)
    await ask_refund(db, program.buyer.user_id, order_id, odd.id, 1)
    got = {(c.line_id, c.level): (c.amount_fen, c.reversed_fen, c.status) for c in await commissions(db, order_id=order_id)}
    assert got[(even.id, 1)] == (300, 100, "pending")   # 1 of 3 units
    assert got[(even.id, 2)] == (90, 30, "pending")
    # 2997 paid, 999 refunded: keep ⌊299 × 1998 / 2997⌋ = 199, take back 100.
    assert got[(odd.id, 1)] == (299, 100, "pending")
    assert got[(odd.id, 2)] == (89, 30, "pending")      # keep ⌊89 × 2/3⌋ = 59
    assert (await balances(db, program.keeper))["pending"] == 200 + 199

    await ask_refund(db, program.buyer.user_id, order_id, even.id, 2)  # the rest of the line
    (c1, c2) = [c for c in await commissions(db, order_id=order_id) if c.line_id == even.id]
    assert (c1.reversed_fen, c1.status, c2.reversed_fen, c2.status) == (300, "reversed", 90, "reversed")
    assert (await balances(db, program.keeper))["pending"] == 199
    assert (await balances(db, program.upline))["pending"] == 59
    assert await ledger_problems(db) == []


async def test_refund_after_withdrawal_is_a_debt_repaid_first_from_the_next_unlock(db, program: Program) -> None:  # noqa: ANN001
    received = china_noon()
    clock.freeze(received)
    first = await buy(db, program.buyer, [(program.big_sku, 2)], program.shop_id)  # 1000 commission
    await ship_and_receive(db, first)
    clock.freeze(china_midnight(received, 8))
    await unlock(db)
    async with db.write() as s:
        w = await withdrawals.request(s, program.keeper, 1000, "alipay", {"name": "店主", "account": "dianzhu@example.com"})
    async with db.write() as s:
        await withdrawals.approve(s, await withdrawals.get(s, w.id), actor_id=1)
    await outbox.drain(db)
    assert (await balances(db, program.keeper))["paid_out"] == 1000

    (line,) = await lines_of(db, first)
    await late_refund(db, first, line.id, 2)  # the whole line comes back after the money left
    b = await balances(db, program.keeper)
    assert (b["available"], b["debt"], b["paid_out"]) == (0, -1000, 1000)  # full reversal, nothing absorbed
    assert await ledger_problems(db) == []

    clock.freeze(received + timedelta(days=10))
    second = await buy(db, program.buyer, [(program.big_sku, 1), (program.sku, 2)], program.shop_id)  # 500 + 200
    third = await buy(db, program.buyer, [(program.big_sku, 1)], program.shop_id)  # 500
    await ship_and_receive(db, second)
    clock.freeze(received + timedelta(days=20))
    await ship_and_receive(db, third)
    clock.freeze(china_midnight(received + timedelta(days=10), 8))
    assert await unlock(db) == 4
    b = await balances(db, program.keeper)
    assert (b["available"], b["debt"]) == (0, -300)  # all 700 went to the debt first
    clock.freeze(china_midnight(received + timedelta(days=20), 8))
    await unlock(db)
    b = await balances(db, program.keeper)
    assert (b["available"], b["debt"]) == (200, 0)
    assert await ledger_problems(db) == []


# --- levels -----------------------------------------------------------------------------------------------

async def test_level_rises_on_own_attributed_sales_not_on_own_purchases(db, program: Program) -> None:  # noqa: ANN001
    async with db.write() as s:
        await distribution.put_level(s, rank=1, name="银牌", l1_bp=1500, l2_bp=300,
                                     criteria=[{"type": "attributed_sales_fen", "threshold": 15_000}], actor_id=1)
    await set_distribution(db, self_purchase_rebate=True)
    me = await _as_buyer(db, program.keeper)
    received = china_noon()
    clock.freeze(received)
    own = await buy(db, me, [(program.big_sku, 5)], program.shop_id)  # ¥250 bought by the keeper
    sold = await buy(db, program.buyer, [(program.big_sku, 2)], program.shop_id)  # ¥100 sold
    for order_id in (own, sold):
        await ship_and_receive(db, order_id)
    clock.freeze(china_midnight(received, 8))
    await unlock(db)
    # The keeper earned the self-purchase rebate, but their own spending never counts towards a level.
    assert (await balances(db, program.keeper))["available"] == 2500 + 1000
    assert (await _rank(db, program.keeper)) == 0

    clock.freeze(received + timedelta(days=9))
    more = await buy(db, program.buyer, [(program.big_sku, 1)], program.shop_id)  # ¥150 sold in all
    await ship_and_receive(db, more)
    clock.freeze(china_midnight(received + timedelta(days=9), 8))
    await unlock(db)
    assert (await _rank(db, program.keeper)) == 1
    # The upline's level-2 commission is not the upline's own sale.
    assert (await _rank(db, program.upline)) == 0


async def test_commission_criterion_counts_only_unlocked_commission(db, program: Program) -> None:  # noqa: ANN001
    async with db.write() as s:
        await distribution.put_level(s, rank=1, name="银牌", l1_bp=1500, l2_bp=300,
                                     criteria=[{"type": "commission_fen", "threshold": 1000}], actor_id=1)
    received = china_noon()
    clock.freeze(received)
    order_id = await buy(db, program.buyer, [(program.big_sku, 2)], program.shop_id)  # 1000 pending
    await ship_and_receive(db, order_id)
    async with db.write() as s:
        await distribution.maybe_upgrade(s, [program.keeper])
    assert (await _rank(db, program.keeper)) == 0  # pending commission does not count
    clock.freeze(china_midnight(received, 8))
    await unlock(db)
    assert (await _rank(db, program.keeper)) == 1


async def _rank(db: Database, user_id: int) -> int:
    async with db.read() as s:
        d = await distribution.get_distributor(s, user_id)
        return d.level_rank if d else -1


async def test_debt_is_repaid_by_every_unlock_even_two_at_the_same_instant(db, program: Program) -> None:  # noqa: ANN001
    """Two unlock sweeps at one frozen instant (a held line released by a rejection, then swept again) repay
    the debt twice: each repayment is its own business event, not one per clock reading."""
    received = china_noon()
    clock.freeze(received)
    first = await buy(db, program.buyer, [(program.big_sku, 2)], program.shop_id)  # 1000
    await ship_and_receive(db, first)
    clock.freeze(china_midnight(received, 8))
    await unlock(db)
    async with db.write() as s:
        w = await withdrawals.request(s, program.keeper, 1000, "alipay", {"name": "店主", "account": "dianzhu@example.com"})
    async with db.write() as s:
        await withdrawals.approve(s, await withdrawals.get(s, w.id), actor_id=1)
    await outbox.drain(db)
    (line,) = await lines_of(db, first)
    await late_refund(db, first, line.id, 2)
    assert (await balances(db, program.keeper))["debt"] == -1000

    clock.freeze(received + timedelta(days=9))
    held = await buy(db, program.buyer, [(program.sku, 3)], program.shop_id)  # 300
    free = await buy(db, program.buyer, [(program.sku, 3)], program.shop_id)  # 300
    await ship_and_receive(db, held)
    await ship_and_receive(db, free)
    (held_line,) = await lines_of(db, held)
    aftersale_id = await ask_refund(db, program.buyer.user_id, held, held_line.id, 1, decision=None)
    clock.freeze(china_midnight(received + timedelta(days=9), 8))
    assert await unlock(db) == 2  # `free` only
    assert (await balances(db, program.keeper))["debt"] == -700
    await decide_aftersale(db, aftersale_id, "reject")
    assert await unlock(db) == 2  # `held`, at the very same instant
    b = await balances(db, program.keeper)
    assert (b["available"], b["debt"]) == (0, -400)
    assert await ledger_problems(db) == []
