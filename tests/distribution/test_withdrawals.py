"""Withdrawals (DOMAIN_RULES §1): a minimum, a fee (to the platform's fee income, the rest to the user), allowed
methods, operator audit (reject with a reason returns exactly the amount), payout through the provider after
commit and retried with the same out_batch_no until it succeeds — once; an illegal second decision is a 409."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import httpx
import pytest

from quanzi.accounts.models import Role
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.outbox import OutboxMessage
from quanzi.ledger import service as ledger
from quanzi.orders.service import CHINA
from quanzi.payments import registry
from quanzi.withdrawals import service as withdrawals
from quanzi.withdrawals.errors import BelowMinimum, MethodNotAllowed, NotEnoughAvailable
from quanzi.withdrawals.models import Withdrawal
from tests.commerce._support import err, rows
from tests.conftest import make_user
from tests.factories import (
    balances,
    buy,
    late_refund,
    ledger_problems,
    lines_of,
    new_buyer,
    new_product,
    set_distribution,
    ship_and_receive,
    unlock,
)

PAYEE = {"name": "小美", "account": "6222000011112222"}


@dataclass
class Earner:
    user_id: int
    headers: dict[str, str]
    operator: dict[str, str]
    operator_id: int


async def earn(db: Database, shop_id: int, commission_fen: int) -> int:
    """Make `commission_fen` available to the shopkeeper the honest way: a sale at 10 %, received, and the
    unlock sweep at the start of day 8 after receipt. The clock stays frozen there. Returns the order id."""
    sku = (await new_product(db, prices=(commission_fen * 10,))).sku_ids[0]
    day = clock.now().astimezone(CHINA).date() + timedelta(days=1)
    clock.freeze(datetime.combine(day, time(9 + secrets.randbelow(6), secrets.randbelow(60)), tzinfo=CHINA))
    order_id = await buy(db, await new_buyer(db), [(sku, 1)], shop_id)
    await ship_and_receive(db, order_id)
    clock.freeze(datetime.combine(day + timedelta(days=8), time(0), tzinfo=CHINA))
    await unlock(db)
    return order_id


@pytest.fixture
async def earner(app, db: Database) -> Earner:  # noqa: ANN001 - `app` configures the payment providers
    from quanzi.shops import service as shops

    uid, headers = await make_user(db, "13700000088", nickname="小美")
    async with db.write() as s:
        shop_id = (await shops.open_shop(s, uid, "小美的店")).id
    _, headers = await make_user(db, "13700000088")  # a token carrying the shopkeeper role
    operator_id, operator = await make_user(db, "13800000001", Role.OPERATOR)
    await earn(db, shop_id, 10_000)
    assert (await balances(db, uid))["available"] == 10_000
    return Earner(uid, headers, operator, operator_id)


async def request(db: Database, user_id: int, amount: int, method: str = "alipay") -> Withdrawal:
    """Alipay: in tests (QUANZI_PAYOUT_SANDBOX on, no Alipay configured) paid by the sandbox channel; bank-card
    withdrawals are settled offline (tests/withdrawals/test_payouts.py)."""
    async with db.write() as s:
        return await withdrawals.request(s, user_id, amount, method, PAYEE)


async def platform(db: Database) -> dict[str, int]:
    async with db.read() as s:
        return {k: await ledger.balance(s, 0, k, "platform") for k in ("fee_income", "commission_expense")}


def sandbox_transfers(out_batch_no: str) -> list[tuple[int, str]]:
    with registry.get("sandbox")._db() as conn:  # type: ignore[attr-defined]
        return [(r["amount_fen"], r["status"]) for r in
                conn.execute("SELECT * FROM transfers WHERE out_batch_no = ?", (out_batch_no,)).fetchall()]


async def test_minimum_amount_methods_and_balance(client: httpx.AsyncClient, db, earner: Earner) -> None:  # noqa: ANN001
    await set_distribution(db, withdraw_min_fen=2000, withdraw_methods=["bank", "alipay"])
    body = {"amount_fen": 1999, "method": "bank", "payee": PAYEE}
    r = await client.post("/api/withdrawals", json=body, headers=earner.headers)
    assert r.status_code == 422 and err(r) == "withdrawal.below_minimum", r.text
    r = await client.post("/api/withdrawals", json={**body, "amount_fen": 2000, "method": "wechat"},
                          headers=earner.headers)
    assert r.status_code == 422 and err(r) == "withdrawal.method_not_allowed", r.text
    r = await client.post("/api/withdrawals", json={**body, "amount_fen": 20_000}, headers=earner.headers)
    assert r.status_code == 409 and err(r) == "withdrawal.insufficient_balance", r.text
    with pytest.raises(BelowMinimum):
        await request(db, earner.user_id, 1999)
    for method in ("wechat", "wallet"):
        with pytest.raises(MethodNotAllowed):
            await request(db, earner.user_id, 2000, method)
    assert await rows(db, Withdrawal) == []  # nothing refused was written
    assert (await balances(db, earner.user_id))["available"] == 10_000

    w = await request(db, earner.user_id, 2000, "bank")  # exactly the minimum
    assert (w.amount_fen, w.fee_fen, w.net_fen, w.method) == (2000, 0, 2000, "bank")
    await request(db, earner.user_id, 6000, "alipay")
    with pytest.raises(NotEnoughAvailable):
        await request(db, earner.user_id, 2001)
    await request(db, earner.user_id, 2000)
    assert (await balances(db, earner.user_id))["available"] == 0
    assert await ledger_problems(db) == []


async def test_fee_goes_to_platform_fee_income_and_net_to_the_user(db, earner: Earner) -> None:  # noqa: ANN001
    await set_distribution(db, withdraw_fee_bp=600)  # 6 %
    before = await platform(db)
    w = await request(db, earner.user_id, 9_999)
    assert (w.amount_fen, w.fee_fen, w.net_fen) == (9_999, 599, 9_400)  # the fee is rounded down
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"]) == (1, 9_400)
    assert (await platform(db))["fee_income"] - before["fee_income"] == 599

    async with db.write() as s:
        await withdrawals.approve(s, await withdrawals.get(s, w.id), actor_id=1)
    await outbox.drain(db)
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (1, 0, 9_400)
    assert sandbox_transfers(w.out_batch_no) == [(9_400, "succeeded")]  # the provider moves the net amount
    assert (await platform(db))["fee_income"] - before["fee_income"] == 599
    assert await ledger_problems(db) == []


async def test_reject_with_reason_returns_exactly_the_amount(client: httpx.AsyncClient, db,  # noqa: ANN001
                                                            earner: Earner) -> None:
    await set_distribution(db, withdraw_fee_bp=250)
    before_user, before_platform = await balances(db, earner.user_id), await platform(db)
    r = await client.post("/api/withdrawals", json={"amount_fen": 7_777, "method": "alipay", "payee": PAYEE},
                          headers=earner.headers)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    assert r.json()["fee_fen"] == 194
    r = await client.post(f"/api/withdrawals/{wid}/reject", json={"reason": "收款账户姓名不一致"},
                          headers=earner.operator)
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    assert await balances(db, earner.user_id) == before_user
    assert await platform(db) == before_platform
    mine = (await client.get(f"/api/withdrawals/{wid}", headers=earner.headers)).json()
    assert (mine["status"], mine["reject_reason"]) == ("rejected", "收款账户姓名不一致")
    await outbox.drain(db)
    assert sandbox_transfers((await rows(db, Withdrawal))[0].out_batch_no) == []  # nothing was paid
    assert await ledger_problems(db) == []


async def test_payout_is_retried_after_backoff_and_paid_once(db, earner: Earner) -> None:  # noqa: ANN001
    sandbox = registry.get("sandbox")
    w = await request(db, earner.user_id, 10_000, "wechat")
    async with db.write() as s:
        await withdrawals.approve(s, await withdrawals.get(s, w.id), actor_id=1)
    sandbox.fail_next_transfers = 1  # type: ignore[attr-defined]
    await outbox.drain(db)
    (w,) = await rows(db, Withdrawal)
    assert (w.status, w.attempts) == ("approved", 1)
    (msg,) = await rows(db, OutboxMessage, OutboxMessage.topic == "withdrawal.approved")
    assert msg.status == "pending" and "ProviderError" in (msg.last_error or "")
    assert sandbox_transfers(w.out_batch_no) == []
    b = await balances(db, earner.user_id)
    assert (b["withdrawing"], b["paid_out"]) == (10_000, 0)

    assert await outbox.drain(db) == 0  # not before the backoff
    clock.advance(timedelta(seconds=6))
    await outbox.drain(db)
    (w,) = await rows(db, Withdrawal)
    assert (w.status, w.attempts) == ("paid", 2) and w.transfer_id
    assert sandbox_transfers(w.out_batch_no) == [(10_000, "succeeded")]
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (0, 0, 10_000)

    clock.advance(timedelta(hours=1))  # nothing left to retry: paid exactly once
    assert await outbox.drain(db) == 0
    assert await withdrawals.pay_out(db, w.id) == "skipped"  # a duplicate delivery of the message
    assert sandbox_transfers(w.out_batch_no) == [(10_000, "succeeded")]
    async with db.read() as s:
        assert await ledger.balance(s, earner.user_id, "paid_out") == 10_000
    assert await ledger_problems(db) == []


async def test_second_decision_is_a_409(client: httpx.AsyncClient, db, earner: Earner) -> None:  # noqa: ANN001
    first = await request(db, earner.user_id, 3_000)
    second = await request(db, earner.user_id, 3_000)
    r = await client.post(f"/api/withdrawals/{first.id}/approve", headers=earner.operator)
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    r = await client.post(f"/api/withdrawals/{first.id}/approve", headers=earner.operator)
    assert r.status_code == 409 and err(r) == "state.illegal_transition", r.text
    r = await client.post(f"/api/withdrawals/{first.id}/reject", json={"reason": "晚了"}, headers=earner.operator)
    assert r.status_code == 409, r.text
    r = await client.post(f"/api/withdrawals/{second.id}/reject", json={"reason": "重复申请"}, headers=earner.operator)
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/withdrawals/{second.id}/approve", headers=earner.operator)
    assert r.status_code == 409, r.text
    r = await client.post(f"/api/withdrawals/{first.id}/approve", headers=earner.headers)  # not an operator
    assert r.status_code == 403, r.text
    await outbox.drain(db)
    assert len(await rows(db, OutboxMessage, OutboxMessage.topic == "withdrawal.approved")) == 1
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (7_000, 0, 3_000)
    assert await ledger_problems(db) == []


async def test_request_is_idempotent_by_key(client: httpx.AsyncClient, db, earner: Earner) -> None:  # noqa: ANN001
    body = {"amount_fen": 6_000, "method": "bank", "payee": PAYEE}
    key = {"Idempotency-Key": "wd-0001", **earner.headers}
    first = await client.post("/api/withdrawals", json=body, headers=key)
    again = await client.post("/api/withdrawals", json=body, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    other = await client.post("/api/withdrawals", json={**body, "amount_fen": 1_000}, headers=key)
    assert other.status_code == 409 and err(other) == "idempotency.key_reused"
    assert len(await rows(db, Withdrawal)) == 1
    assert (await balances(db, earner.user_id))["available"] == 4_000


async def test_frozen_distributor_cannot_withdraw_until_unfrozen_revoked_still_can(
        client: httpx.AsyncClient, db, earner: Earner) -> None:  # noqa: ANN001
    from quanzi.distribution import service as distribution

    async with db.write() as s:
        await distribution.join(s, earner.user_id)
        await distribution.decide(s, earner.user_id, "frozen", actor_id=1, note="可疑订单核查中")
    body = {"amount_fen": 3000, "method": "bank", "payee": PAYEE}
    r = await client.post("/api/withdrawals", json=body, headers=earner.headers)
    assert r.status_code == 403 and err(r) == "withdrawal.account_frozen", r.text
    assert await rows(db, Withdrawal) == []
    assert (await balances(db, earner.user_id))["available"] == 10_000
    async with db.write() as s:  # revoked: no more distribution, but earned money is still the person's
        await distribution.decide(s, earner.user_id, "revoked", actor_id=1, note="不再合作")
    r = await client.post("/api/withdrawals", json=body, headers=earner.headers)
    assert r.status_code == 201, r.text
    assert (await balances(db, earner.user_id))["available"] == 7_000


async def test_money_returned_by_a_rejection_repays_a_debt_first(db, earner: Earner) -> None:  # noqa: ANN001
    """Found by the ledger property test: the whole balance is being withdrawn when the commission behind it is
    reversed (a late refund), so the reversal becomes a debt; the operator then rejects the withdrawal. The money
    that comes back must settle the debt, or the clawed-back commission could be withdrawn a second time."""
    async with db.read() as s:
        from quanzi.shops import service as shops

        shop_id = (await shops.my_shop(s, earner.user_id)).id
    order_id = await earn(db, shop_id, 5_000)  # a second sale: 15,000 available
    w = await request(db, earner.user_id, 15_000)
    line = (await lines_of(db, order_id))[0]
    assert await late_refund(db, order_id, line.id, line.quantity) == 5_000
    assert (await balances(db, earner.user_id))["debt"] == -5_000
    async with db.write() as s:
        await withdrawals.reject(s, await s.get(Withdrawal, w.id), earner.operator_id, "退回")
    b = await balances(db, earner.user_id)
    assert (b["available"], b["debt"], b["withdrawing"]) == (10_000, 0, 0), b
    assert await ledger_problems(db) == []
