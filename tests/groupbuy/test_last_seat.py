"""The last seat under real concurrency (DOMAIN_RULES §2 "B — last seat"): 20 people have joined a group with
one free seat and pay at the same moment, each in its own OS thread, event loop, Database (engine and pool)
and transactions, on file SQLite and — when QUANZI_TEST_POSTGRES_URL is set — PostgreSQL. Each thread
applies its payment notification and then delivers outbox messages one at a time, so the seat-taking
handlers of different payers really run side by side.

Exactly one payer gets the seat; the other 19 are refunded in full through the sandbox provider, their
orders closed and their units back in stock; no handler failed or retried.

Two shapes: all 20 payments land first and then the 20 seat handlers race (the guarded UPDATE alone decides);
or each payer's handlers run as soon as its payment lands — then the winner's success also cancels the
orders not yet paid, and a payment arriving for such an order is refunded by the payments domain (its order
stays cancelled). Either way: one seat, one winner, everybody else's money back."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from quanzi.groupbuy.models import GroupMember
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.outbox import OutboxMessage
from quanzi.orders import service as orders
from quanzi.payments import registry
from quanzi.payments import service as payments
from quanzi.payments.api import sandbox_pay
from quanzi.payments.providers import SandboxProvider
from tests.commerce._support import stock
from tests.groupbuy._support import assert_no_fake_members, fans, group_row, join, join_paid, open_paid, order_row, setup

pytestmark = pytest.mark.concurrency

PAYERS = 20


def _pay_and_deliver(url: str, buyer_id: int, out_trade_no: str, start: threading.Barrier,
                     paid: threading.Barrier | None) -> str:
    async def go() -> str:
        db = Database(url)
        try:
            async with db.read() as s:  # connect before the start line so the payments really collide
                await s.execute(text("SELECT 1"))
            start.wait(timeout=60)
            outcome = await sandbox_pay(db, buyer_id, out_trade_no)
            if paid is not None:
                paid.wait(timeout=120)
            while await outbox.deliver_batch(db, limit=1):
                pass
            return outcome
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.mark.parametrize("handlers", ["after_all_payments", "as_payments_land"])
async def test_twenty_payers_for_the_last_seat(app, client, db, db_url, handlers: str) -> None:  # noqa: ANN001
    w, act = await setup(db, size=3, stock=100)
    sku = w.sku_ids[0]
    first, *crowd = await fans(db, 1 + PAYERS)
    leader = await open_paid(client, db, w, act, sku)
    gid = leader["group_id"]
    await join_paid(client, db, first, gid, sku)
    assert (await group_row(db, gid)).filled == 2  # one seat left

    placed = []
    for fan in crowd:
        r = await join(client, fan, gid, sku)
        assert r.status_code == 201, r.text
        placed.append((fan, r.json()))
    trade_nos = {}
    async with db.write() as s:
        for fan, p in placed:
            order = await orders.order_for_buyer(s, p["order_id"], fan.user_id)
            trade_nos[p["order_id"]] = (await payments.open_payment(s, order, "sandbox")).out_trade_no
    before = await stock(db, sku)
    assert before == 100 - 2 - PAYERS
    await db.dispose()  # the test's own pool holds nothing while the payers run

    start = threading.Barrier(PAYERS)
    paid = threading.Barrier(PAYERS) if handlers == "after_all_payments" else None
    with ThreadPoolExecutor(max_workers=PAYERS) as pool:
        futures = [pool.submit(_pay_and_deliver, db_url, fan.user_id, trade_nos[p["order_id"]], start, paid)
                   for fan, p in placed]
        outcomes = [f.result(timeout=180) for f in futures]
    if paid is not None:
        assert outcomes == ["paid"] * PAYERS
    else:
        assert set(outcomes) <= {"paid", "refund_not_payable"} and "paid" in outcomes, outcomes
    await outbox.drain(db)  # whatever the threads left (refunds through the provider, their confirmations)

    g = await group_row(db, gid)
    assert (g.status, g.filled, g.seats) == ("succeeded", 3, 3)
    async with db.read() as s:
        rows = {m.order_id: m for m in (await s.execute(select(GroupMember).where(
            GroupMember.group_id == gid))).scalars()}
        # Not yet due and never tried is fine: an SMS held by the recipient's quiet hours (22:00–08:00 China
        # time by default) waits; anything that failed, was retried or is stuck is a problem.
        held = (OutboxMessage.status == "pending") & (OutboxMessage.attempts == 0) & (OutboxMessage.next_attempt_at > clock.now())
        problems = (await s.execute(select(func.count()).where(
            ((OutboxMessage.status != "done") & ~held) | OutboxMessage.last_error.is_not(None)))).scalar_one()
    assert problems == 0  # no handler failed, deadlocked or was retried

    sandbox = registry.get("sandbox")
    assert isinstance(sandbox, SandboxProvider)
    winners, losers = [], []
    for _fan, p in placed:
        m, o = rows[p["order_id"]], await order_row(db, p["order_id"])
        refunded = sandbox.refunded_fen(trade_nos[p["order_id"]])
        if m.status == "succeeded":
            winners.append(p)
            assert (o.status, o.hold_reason, refunded) == ("paid", None, 0)
        elif m.status == "refunded":  # paid, found no seat: refunded by the group buy, order closed
            losers.append(p)
            assert (m.refund_reason, m.seated_at) == ("group_full", None)
            assert (o.status, o.refunded_fen, refunded) == ("closed", o.total_fen, o.total_fen)
        else:  # still unpaid when the group filled: order cancelled, the late money refunded by payments
            losers.append(p)
            assert (m.status, m.seated_at, o.status, refunded) == ("cancelled", None, "cancelled", o.total_fen)
            assert paid is None
    assert len(winners) == 1 and len(losers) == PAYERS - 1
    assert await stock(db, sku) == before + (PAYERS - 1)  # every loser's unit is back
    await assert_no_fake_members(db)
