"""The law that shapes distribution (DOMAIN_RULES §8), one test per rule, named after it.

- 《禁止传销条例》Art. 7: commission only from real paid sales, at most two levels, nothing for registrations,
  no entry fee (becoming a shopkeeper is free), no status bought, no head-count criteria.
- WeChat's rules against multi-level distribution: the 2-level ceiling is enforced by settings validation.
- 7-day no-reason return from the day after receipt (消费者权益保护法 Art. 25): commission is not withdrawable
  before the window has passed, and a refund inside it takes the commission back.
"""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from quanzi.accounts.models import Role
from quanzi.accounts.service import normalize_phone
from quanzi.distribution import service as distribution
from quanzi.distribution.errors import HeadcountCriteria, PaidStatus, RateCapExceeded, TooManyLevels
from quanzi.distribution.models import Commission, Distributor
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from quanzi.orders.models import Order
from quanzi.orders.service import CHINA
from quanzi.payments.models import Payment
from quanzi.referrals.models import Binding
from quanzi.withdrawals import service as withdrawals
from quanzi.withdrawals.errors import NotEnoughAvailable
from tests.commerce._support import count, err, rows
from tests.conftest import make_user
from tests.factories import (
    ask_refund,
    balances,
    bind_via_token,
    buy,
    ledger_problems,
    lines_of,
    new_buyer,
    new_product,
    new_shopkeeper,
    set_distribution,
    share_token,
    ship_and_receive,
    unlock,
)

PAYEE = {"name": "店主", "account": "6222000011112222"}


def china_noon(days_from_now: int = 1) -> datetime:
    day = clock.now().astimezone(CHINA).date() + timedelta(days=days_from_now)
    # Some moment between 09:00 and 15:00, China time: the day is what matters; varying the second keeps
    # order numbers (time + 6 random digits) of different tests apart at the shared sandbox provider.
    return datetime.combine(day, time(9 + secrets.randbelow(6), secrets.randbelow(60), secrets.randbelow(60)),
                            tzinfo=CHINA)


async def _ledger_is_empty(db: Database) -> bool:
    async with db.read() as s:
        txns = (await s.execute(select(func.count()).select_from(LedgerTransaction))).scalar_one()
        entries = (await s.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        nonzero = (await s.execute(select(func.count()).select_from(LedgerAccount)
                                   .where(LedgerAccount.balance_fen != 0))).scalar_one()
    return txns == entries == nonzero == 0


# --- 禁止传销条例 Art. 7 and WeChat: at most two levels ---------------------------------------------------

async def test_commission_at_most_two_levels_however_deep_the_chain(app, db) -> None:  # noqa: ANN001
    a, _ = await new_shopkeeper(db)
    b, _ = await new_shopkeeper(db, upline=a)
    c, _ = await new_shopkeeper(db, upline=b)
    d, _ = await new_shopkeeper(db, upline=c)
    e = await new_buyer(db)
    assert await bind_via_token(db, e.user_id, d) == "bound"  # A ← B ← C ← D ← E
    sku = (await new_product(db, prices=(10_000,))).sku_ids[0]
    order_id = await buy(db, e, [(sku, 1)])

    paid = [(c_.level, c_.beneficiary_id, c_.amount_fen) for c_ in
            await rows(db, Commission, Commission.order_id == order_id, order_by=Commission.level)]
    assert paid == [(1, d, 1000), (2, c, 300)]
    for upper in (a, b):
        assert await balances(db, upper) == {"pending": 0, "available": 0, "withdrawing": 0, "paid_out": 0, "debt": 0}
    assert await ledger_problems(db) == []

    await set_distribution(db, levels=1)  # a one-level program pays level 1 only
    order_id = await buy(db, e, [(sku, 1)])
    paid = [(c_.level, c_.beneficiary_id) for c_ in await rows(db, Commission, Commission.order_id == order_id)]
    assert paid == [(1, d)]


async def test_settings_validation_enforces_two_levels_and_the_rate_cap(client: httpx.AsyncClient, db) -> None:  # noqa: ANN001
    _, op = await make_user(db, "13800000001", Role.OPERATOR)
    for levels in (3, 0, 10):
        r = await client.put("/api/distribution/policy", json={"levels": levels}, headers=op)
        assert r.status_code == 422, r.text
        assert err(r) == "distribution.too_many_levels"
    r = await client.put("/api/distribution/policy", json={"level1_bp": 2500, "level2_bp": 600}, headers=op)
    assert r.status_code == 422 and err(r) == "distribution.rate_cap_exceeded", r.text
    r = await client.put("/api/distribution/levels/1", json={"name": "金牌", "l1_bp": 2800, "l2_bp": 300},
                         headers=op)
    assert r.status_code == 422 and err(r) == "distribution.rate_cap_exceeded", r.text
    async with db.write() as s:
        with pytest.raises(TooManyLevels):
            await distribution.put_policy(s, {"levels": 3}, None)
        with pytest.raises(RateCapExceeded):
            await distribution.put_level(s, rank=2, name="钻石", l1_bp=3001, l2_bp=0, criteria=[], actor_id=1)
    async with db.read() as s:  # nothing of the refused settings was kept
        pol = await distribution.get_policy(s)
        assert (pol.levels, pol.level1_bp, pol.level2_bp) == (2, 1000, 300)
        assert await distribution.levels(s) == []
    r = await client.put("/api/distribution/policy", json={"level1_bp": 2500, "level2_bp": 500}, headers=op)
    assert r.status_code == 200, r.text  # exactly at the cap is allowed


async def test_level_criteria_refuse_head_count_and_anything_paid(client: httpx.AsyncClient, db) -> None:  # noqa: ANN001
    _, op = await make_user(db, "13800000001", Role.OPERATOR)
    for kind, code in (("recruits", "distribution.headcount_criteria_forbidden"),
                       ("team_size", "distribution.headcount_criteria_forbidden"),
                       ("downline_count", "distribution.headcount_criteria_forbidden"),
                       ("own_purchase_fen", "distribution.paid_status_forbidden"),
                       ("own_spend_fen", "distribution.paid_status_forbidden"),
                       ("membership_fee_fen", "distribution.paid_status_forbidden")):
        r = await client.put("/api/distribution/levels/1", headers=op, json={
            "name": "团长", "l1_bp": 1200, "l2_bp": 300, "criteria": [{"type": kind, "threshold": 10}]})
        assert r.status_code == 422 and err(r) == code, (kind, r.text)
    async with db.write() as s:
        with pytest.raises(HeadcountCriteria):  # also when mixed with a lawful criterion
            await distribution.put_level(s, rank=1, name="团长", l1_bp=1200, l2_bp=300, actor_id=1,
                                         criteria=[{"type": "attributed_sales_fen", "threshold": 1},
                                                   {"type": "recruits", "threshold": 10}])
        with pytest.raises(PaidStatus):
            await distribution.put_level(s, rank=1, name="VIP", l1_bp=1200, l2_bp=300, actor_id=1,
                                         criteria=[{"type": "own_purchase_fen", "threshold": 39_900}])
    async with db.read() as s:
        assert await distribution.levels(s) == []
    r = await client.put("/api/distribution/levels/1", headers=op, json={
        "name": "银牌", "l1_bp": 1200, "l2_bp": 300, "criteria": [{"type": "attributed_sales_fen", "threshold": 1}]})
    assert r.status_code == 200, r.text  # own attributed sales are lawful


# --- 禁止传销条例 Art. 7: nothing for registrations, no entry fee, status never bought -------------------

async def test_registrations_and_bindings_pay_nothing(client: httpx.AsyncClient, app, db) -> None:  # noqa: ANN001
    keeper, shop_id = await new_shopkeeper(db)
    token = share_token(keeper, "s", shop_id)
    for i in range(10):
        phone = f"1390000{i:04d}"
        assert (await client.post("/api/auth/code", json={"phone": phone})).status_code == 202
        code = app.state.sms.last_code(normalize_phone(phone))
        r = await client.post("/api/auth/login/code", json={"phone": phone, "code": code, "share_token": token})
        assert r.status_code == 200, r.text
    assert await count(db, Binding, Binding.sharer_id == keeper) == 10
    assert await _ledger_is_empty(db)
    assert await count(db, Commission) == 0
    async with db.write() as s:  # and ten fans do not change the sharer's level either
        await distribution.put_level(s, rank=1, name="银牌", l1_bp=1200, l2_bp=300, criteria=[], actor_id=1)
    await unlock(db)
    async with db.read() as s:
        assert (await distribution.get_distributor(s, keeper)).level_rank == 0  # type: ignore[union-attr]


async def test_opening_a_shop_requires_no_payment(client: httpx.AsyncClient, db) -> None:  # noqa: ANN001
    uid, headers = await make_user(db, "13900000300")
    r = await client.post("/api/shops", json={"name": "我的小店"}, headers=headers)
    assert r.status_code == 201, r.text
    async with db.read() as s:
        assert await distribution.is_active_distributor(s, uid)

    await set_distribution(db, who_may="approval")  # where the operator approves distributors: free as well
    uid2, headers2 = await make_user(db, "13900000301")
    r = await client.post("/api/shops", json={"name": "另一家小店"}, headers=headers2)
    assert r.status_code == 201, r.text
    async with db.write() as s:
        assert (await distribution.get_distributor(s, uid2)).status == "pending"  # type: ignore[union-attr]
        await distribution.decide(s, uid2, "active", actor_id=1)
    assert (await count(db, Order), await count(db, Payment)) == (0, 0)
    assert await _ledger_is_empty(db)


async def test_no_purchase_changes_distributor_status_or_level(app, db) -> None:  # noqa: ANN001
    async with db.write() as s:
        await distribution.put_level(s, rank=1, name="银牌", l1_bp=1200, l2_bp=300, actor_id=1,
                                     criteria=[{"type": "attributed_sales_fen", "threshold": 1000}])
    keeper, keeper_shop = await new_shopkeeper(db)
    other, other_shop = await new_shopkeeper(db)
    plain = await new_buyer(db)
    sku = (await new_product(db, prices=(50_000,))).sku_ids[0]
    from quanzi.cart import service as cart
    from tests.factories import Fan

    async with db.write() as s:
        addr = await cart.add_address(s, keeper, name="店主", phone="13500000000", region="上海", detail="1 号")
    keeper_as_buyer = Fan(keeper, {}, addr.id)
    received = china_noon()
    clock.freeze(received)
    bought = [await buy(db, plain, [(sku, 4)]),                            # a plain user, no shop
              await buy(db, plain, [(sku, 2)], other_shop),                # a plain user, through a shop
              await buy(db, keeper_as_buyer, [(sku, 4)], keeper_shop),     # a distributor in their own shop
              await buy(db, keeper_as_buyer, [(sku, 2)], None)]            # a distributor, no shop
    for order_id in bought:
        await ship_and_receive(db, order_id)
    clock.freeze(received + timedelta(days=9))
    await unlock(db)
    async with db.read() as s:
        assert await distribution.get_distributor(s, plain.user_id) is None  # buying never makes a distributor
        d = await distribution.get_distributor(s, keeper)
        assert d is not None and (d.status, d.level_rank) == ("active", 0)
        # `other` rose, but on a sale to somebody else (the plain user's ¥1000 order through other's shop).
        assert (await distribution.get_distributor(s, other)).level_rank == 1  # type: ignore[union-attr]


# --- 7-day no-reason return: the freeze ------------------------------------------------------------------

async def test_commission_is_not_withdrawable_until_day_eight_after_receipt(app, db) -> None:  # noqa: ANN001
    keeper, shop_id = await new_shopkeeper(db)
    sku = (await new_product(db, prices=(20_000,))).sku_ids[0]
    received = china_noon()
    clock.freeze(received)
    order_id = await buy(db, await new_buyer(db), [(sku, 1)], shop_id)
    await ship_and_receive(db, order_id)
    for day in (1, 5, 7):
        clock.freeze(received + timedelta(days=day))
        await unlock(db)
        with pytest.raises(NotEnoughAvailable):
            async with db.write() as s:
                await withdrawals.request(s, keeper, 2000, "bank", PAYEE)
    clock.freeze(datetime.combine(received.astimezone(CHINA).date() + timedelta(days=8), time(0), tzinfo=CHINA))
    await unlock(db)
    async with db.write() as s:
        w = await withdrawals.request(s, keeper, 2000, "bank", PAYEE)
    assert w.status == "requested"
    assert await ledger_problems(db) == []


async def test_a_refund_inside_the_window_takes_the_commission_back(app, db) -> None:  # noqa: ANN001
    up, _ = await new_shopkeeper(db)
    keeper, shop_id = await new_shopkeeper(db, upline=up)
    buyer = await new_buyer(db)
    sku = (await new_product(db, prices=(20_000,))).sku_ids[0]
    received = china_noon()
    clock.freeze(received)
    order_id = await buy(db, buyer, [(sku, 1)], shop_id)
    await ship_and_receive(db, order_id)
    clock.freeze(received + timedelta(days=5))
    (line,) = await lines_of(db, order_id)
    await ask_refund(db, buyer.user_id, order_id, line.id, 1)
    assert [(c.status, c.reversed_fen) for c in await rows(db, Commission, order_by=Commission.level)] == [
        ("reversed", 2000), ("reversed", 600)]
    clock.freeze(received + timedelta(days=30))
    assert await unlock(db) == 0
    for who in (keeper, up):
        assert await balances(db, who) == {"pending": 0, "available": 0, "withdrawing": 0, "paid_out": 0, "debt": 0}
    assert await ledger_problems(db) == []


# --- binding -------------------------------------------------------------------------------------------

async def test_self_binding_and_cycles_are_refused(db) -> None:  # noqa: ANN001
    a, _ = await new_shopkeeper(db)
    b, _ = await new_shopkeeper(db, upline=a)
    c, _ = await new_shopkeeper(db, upline=b)
    assert await bind_via_token(db, a, a) == "refused:self"
    assert await bind_via_token(db, a, b) == "refused:cycle"
    assert await bind_via_token(db, a, c) == "refused:cycle"
    async with db.read() as s:
        assert (await s.execute(select(Binding).where(Binding.fan_id == a))).first() is None
        assert (await s.execute(select(func.count()).select_from(Distributor))).scalar_one() == 3
