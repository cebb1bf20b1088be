"""Provider notifications through POST /api/payments/notify/sandbox, built and signed by the real
SandboxProvider (WeChat Pay v3 shape, verified by the WeChat Pay adapter): applied once, forgeries and
stale or mismatched statements change nothing, late and duplicate money goes back automatically, and a
silent payment is found by asking the provider. No provider call happens while a connection is checked out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.orders.models import Order, OrderEvent
from quanzi.payments import registry
from quanzi.payments.models import Payment, PaymentNotification, Refund
from quanzi.payments.providers import SandboxProvider
from tests.commerce._support import ask, count, err, get_order, place_one, rows, start_payment
from tests.factories import make_world

NOTIFY = "/api/payments/notify/sandbox"


class NoTransactionGuard:
    """Wraps a provider's outgoing calls: each must run while our pool has no checked-out connection
    (DESIGN rule 3: no outside call inside a transaction). Violations are collected, not raised, because
    the outbox would swallow an exception raised inside a handler."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls: list[str] = []
        self.violations: list[tuple[str, int]] = []

    def _check(self, name: str) -> None:
        self.calls.append(name)
        out = self.db.engine.pool.checkedout()  # type: ignore[attr-defined]
        if out:
            self.violations.append((name, out))

    def wrap(self, provider: SandboxProvider, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("create_payment", "query_payment", "refund"):
            real = getattr(provider, name)

            async def wrapped(*args: Any, __real=real, __name=name, **kwargs: Any) -> Any:  # noqa: ANN401
                self._check(__name)
                return await __real(*args, **kwargs)

            monkeypatch.setattr(provider, name, wrapped)
        for name in ("verify_notification", "mark_paid"):
            real = getattr(provider, name)

            def wrapped_sync(*args: Any, __real=real, __name=name, **kwargs: Any) -> Any:  # noqa: ANN401
                self._check(__name)
                return __real(*args, **kwargs)

            monkeypatch.setattr(provider, name, wrapped_sync)


@pytest.fixture
def sandbox(app, db, monkeypatch) -> Iterator[SandboxProvider]:  # noqa: ANN001
    """The app's configured sandbox provider, with its outgoing calls checked for open transactions."""
    provider = registry.get("sandbox")
    assert isinstance(provider, SandboxProvider)
    guard = NoTransactionGuard(db)
    guard.wrap(provider, monkeypatch)
    provider.guard = guard  # type: ignore[attr-defined]
    yield provider
    assert guard.violations == [], f"provider called while a connection was checked out: {guard.violations}"


async def _order_and_payment(client: httpx.AsyncClient, w: Any, qty: int = 1) -> tuple[dict[str, Any], str]:
    order = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], quantity=qty)
    out_trade_no = (await start_payment(client, w.fan_headers, order["id"]))["out_trade_no"]
    return order, out_trade_no


def _txid() -> str:
    return "4200" + uuid.uuid4().hex[:24]


async def _unchanged(client: httpx.AsyncClient, db: Database, w: Any, order_id: int) -> None:
    assert (await get_order(client, w.fan_headers, order_id))["status"] == "pending_payment"
    assert await count(db, PaymentNotification) == 0
    assert await count(db, OrderEvent, OrderEvent.kind == "paid") == 0
    assert [p.status for p in await rows(db, Payment)] == ["created"]
    assert await count(db, Refund) == 0


async def test_valid_notification_marks_paid_and_replays_change_nothing(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, otn = await _order_and_payment(client, w, qty=2)
    paid = sandbox.mark_paid(otn, order["total_fen"])
    headers, body = sandbox.build_notification(otn, paid.transaction_id, order["total_fen"], paid.paid_at)
    answers = [await client.post(NOTIFY, content=body, headers=headers) for _ in range(5)]
    assert [r.status_code for r in answers] == [200] * 5
    assert [r.json()["message"] for r in answers] == ["paid"] + ["duplicate"] * 4
    assert all(r.json()["code"] == "SUCCESS" for r in answers)  # the provider must stop retrying

    o = await get_order(client, w.fan_headers, order["id"])
    assert o["status"] == "paid" and o["paid_at"] is not None
    assert await count(db, OrderEvent, OrderEvent.order_id == order["id"], OrderEvent.kind == "paid") == 1
    (inbox,) = await rows(db, PaymentNotification)
    assert (inbox.transaction_id, inbox.outcome, inbox.amount_fen) == (paid.transaction_id, "paid",
                                                                       order["total_fen"])
    (p,) = await rows(db, Payment)
    assert (p.status, p.transaction_id) == ("succeeded", paid.transaction_id)
    assert await count(db, Refund) == 0
    assert {"create_payment", "verify_notification", "mark_paid"} <= set(sandbox.guard.calls)


async def test_forged_notifications_are_refused(client, db, sandbox, tmp_path: Path) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, otn = await _order_and_payment(client, w)
    txid = _txid()
    headers, body = sandbox.build_notification(otn, txid, order["total_fen"], clock.now())

    # One byte of the body flipped (inside the encrypted resource).
    i = body.index(b'"ciphertext":"') + 30
    flipped = body[:i] + (b"A" if body[i:i + 1] != b"A" else b"B") + body[i + 1:]
    r = await client.post(NOTIFY, content=flipped, headers=headers)
    assert 400 <= r.status_code < 500 and err(r) == "payment.bad_signature", r.text

    # Someone else's sandbox (another platform key and APIv3 key) signs a notification for our order…
    mallory = SandboxProvider(tmp_path / "mallory")
    m_headers, m_body = mallory.build_notification(otn, txid, order["total_fen"], clock.now())
    r = await client.post(NOTIFY, content=m_body, headers=m_headers)
    assert 400 <= r.status_code < 500 and err(r) == "payment.bad_signature", r.text
    # …and claims our key id in the header: still refused (the signature does not verify).
    m_headers["Wechatpay-Serial"] = sandbox.public_key_id
    r = await client.post(NOTIFY, content=m_body, headers=m_headers)
    assert 400 <= r.status_code < 500 and err(r) == "payment.bad_signature", r.text
    # Our body, re-signed with the other key under our key id.
    forged = dict(headers)
    forged["Wechatpay-Signature"] = mallory.sign(headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], body)
    r = await client.post(NOTIFY, content=body, headers=forged)
    assert 400 <= r.status_code < 500 and err(r) == "payment.bad_signature", r.text
    # No signature at all.
    r = await client.post(NOTIFY, content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    await _unchanged(client, db, w, order["id"])

    # The genuine one still works afterwards (nothing was half-recorded).
    r = await client.post(NOTIFY, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["message"] == "paid", r.text


async def test_stale_or_future_notifications_are_refused(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, otn = await _order_and_payment(client, w)
    txid = _txid()
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        headers, body = sandbox.build_notification(otn, txid, order["total_fen"], clock.now(),
                                                   timestamp=clock.now() + skew)
        r = await client.post(NOTIFY, content=body, headers=headers)
        assert 400 <= r.status_code < 500, r.text
        assert err(r) == "payment.stale_notification"
    await _unchanged(client, db, w, order["id"])
    # Four minutes old is within the tolerance.
    headers, body = sandbox.build_notification(otn, txid, order["total_fen"], clock.now(),
                                               timestamp=clock.now() - timedelta(minutes=4))
    r = await client.post(NOTIFY, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["message"] == "paid", r.text


async def test_amount_merchant_or_payment_mismatch_is_refused(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, otn = await _order_and_payment(client, w)
    total = order["total_fen"]
    cases = [
        (dict(out_trade_no=otn, amount_fen=total - 1), "payment.mismatch"),
        (dict(out_trade_no=otn, amount_fen=total + 1), "payment.mismatch"),
        (dict(out_trade_no=otn, amount_fen=total, mchid="1900009999"), "payment.wrong_merchant"),
        (dict(out_trade_no=otn + "X", amount_fen=total), "payment.unknown_payment"),
    ]
    for kwargs, code in cases:
        headers, body = sandbox.build_notification(transaction_id=_txid(), paid_at=clock.now(), **kwargs)
        r = await client.post(NOTIFY, content=body, headers=headers)
        assert 400 <= r.status_code < 500, (kwargs, r.text)
        assert err(r) == code, (kwargs, r.text)
    await _unchanged(client, db, w, order["id"])
    # A notification for another provider name is not accepted by this endpoint's provider.
    r = await client.post("/api/payments/notify/nope", content=b"{}", headers={})
    assert 400 <= r.status_code < 500, r.text


async def test_payment_for_an_order_cancelled_by_the_sweep_is_refunded(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    order, otn = await _order_and_payment(client, w, qty=2)
    total = order["total_fen"]
    clock.advance(timedelta(minutes=16))
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 1

    paid = sandbox.mark_paid(otn, total)  # the buyer's money arrives after the deadline
    headers, body = sandbox.build_notification(otn, paid.transaction_id, total, paid.paid_at)
    r = await client.post(NOTIFY, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["message"] == "refund_not_payable", r.text
    for _ in range(2):  # replays change nothing
        r = await client.post(NOTIFY, content=body, headers=headers)
        assert r.json()["message"] == "duplicate"

    assert sandbox.refunded_fen(otn) == 0  # the provider is called after commit, by the outbox
    assert await outbox.drain(db) >= 1
    assert sandbox.refunded_fen(otn) == total
    (refund,) = await rows(db, Refund)
    assert (refund.amount_fen, refund.status, refund.reason) == (total, "succeeded", "order_not_payable")
    (p,) = await rows(db, Payment)
    assert (p.status, p.refunded_fen) == ("succeeded", total)
    o = await get_order(client, w.fan_headers, order["id"])
    assert o["status"] == "cancelled"
    kinds = [e["kind"] for e in o["events"]]
    assert "late_payment_refunded" in kinds and kinds.count("refunded") == 1
    assert await count(db, OrderEvent, OrderEvent.kind == "paid") == 0

    assert await outbox.drain(db) == 0  # nothing left; never refunded twice
    assert sandbox.refunded_fen(otn) == total
    assert "refund" in sandbox.guard.calls


async def test_silent_payment_is_found_by_the_query_sweep(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, otn = await _order_and_payment(client, w)
    paid = sandbox.mark_paid(otn, order["total_fen"])  # paid, but the notification never arrives
    assert await sweeps.run_one(db, "payments.query_silent") == 0  # too early to ask
    clock.advance(timedelta(minutes=4))
    assert await sweeps.run_one(db, "payments.query_silent") == 1
    assert (await get_order(client, w.fan_headers, order["id"]))["status"] == "paid"
    (inbox,) = await rows(db, PaymentNotification)
    assert (inbox.source, inbox.outcome, inbox.transaction_id) == ("query", "paid", paid.transaction_id)
    clock.advance(timedelta(minutes=2))
    assert await sweeps.run_one(db, "payments.query_silent") == 0  # a paid attempt is not asked again

    # The notification finally arrives: a duplicate, nothing changes.
    headers, body = sandbox.build_notification(otn, paid.transaction_id, order["total_fen"], paid.paid_at)
    r = await client.post(NOTIFY, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["message"] == "duplicate"
    assert await count(db, OrderEvent, OrderEvent.kind == "paid") == 1
    assert await count(db, PaymentNotification) == 1
    assert "query_payment" in sandbox.guard.calls


async def test_unpaid_silent_payment_is_left_alone_and_provider_outage_is_survived(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, otn = await _order_and_payment(client, w)
    clock.advance(timedelta(minutes=4))
    assert await sweeps.run_one(db, "payments.query_silent") == 0  # the provider says NOTPAY
    assert (await get_order(client, w.fan_headers, order["id"]))["status"] == "pending_payment"
    sandbox.mark_paid(otn, order["total_fen"])
    sandbox.fail_next_queries = 1
    clock.advance(timedelta(minutes=2))
    result = await sweeps.run_due(db, force=True)
    assert result["payments.query_silent"] == -1  # the outage is logged; nothing half-written
    assert (await get_order(client, w.fan_headers, order["id"]))["status"] == "pending_payment"
    clock.advance(timedelta(minutes=2))
    assert await sweeps.run_one(db, "payments.query_silent") == 1
    assert (await get_order(client, w.fan_headers, order["id"]))["status"] == "paid"


@pytest.fixture
def second_sandbox(app, db, sandbox, tmp_path: Path, monkeypatch) -> Iterator[SandboxProvider]:  # noqa: ANN001
    """A second provider next to the sandbox (think WeChat Pay next to Alipay), so that one order can have
    two open payment attempts with two providers."""
    other = SandboxProvider(tmp_path / "sandbox-b", name="sandbox_b", merchant_id="sandbox-mch-b",
                            notify_url="http://test/api/payments/notify/sandbox_b")
    guard = NoTransactionGuard(db)
    guard.wrap(other, monkeypatch)
    before = {name: registry.get(name) for name in registry.names()}
    registry.configure({**before, "sandbox_b": other})
    yield other
    registry.configure(before)
    assert guard.violations == []


async def _pay_with(client: httpx.AsyncClient, provider: SandboxProvider, otn: str, amount: int) -> str:
    paid = provider.mark_paid(otn, amount)
    headers, body = provider.build_notification(otn, paid.transaction_id, amount, paid.paid_at)
    r = await client.post(f"/api/payments/notify/{provider.name}", content=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["message"]


async def test_paying_twice_refunds_the_second_payment(client, db, sandbox, second_sandbox) -> None:  # noqa: ANN001
    w = await make_world(db)
    order = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], quantity=2)
    total = order["total_fen"]
    first = (await start_payment(client, w.fan_headers, order["id"], "sandbox"))["out_trade_no"]
    second = (await start_payment(client, w.fan_headers, order["id"], "sandbox_b"))["out_trade_no"]
    assert first != second

    # The buyer pays with the second provider first, then also completes the first attempt.
    assert await _pay_with(client, second_sandbox, second, total) == "paid"
    outcome = await _pay_with(client, sandbox, first, total)
    assert outcome.startswith("refund"), outcome
    await outbox.drain(db)
    assert sandbox.refunded_fen(first) == total  # the duplicate money went back through its own provider
    assert second_sandbox.refunded_fen(second) == 0
    refunds = await rows(db, Refund)
    assert [(r.amount_fen, r.status) for r in refunds] == [(total, "succeeded")]
    o = await get_order(client, w.fan_headers, order["id"])
    assert o["status"] == "paid" and o["refunded_fen"] == 0
    assert await count(db, OrderEvent, OrderEvent.kind == "paid") == 1

    # The order's real payment is the one that is refunded by an after-sale, not the duplicate.
    line = o["lines"][0]
    r = await ask(client, w.fan_headers, order["id"], line["id"], 1)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/supplier/aftersales/{r.json()['id']}/approve", headers=w.supplier_headers)
    assert r.status_code == 200, r.text
    await outbox.drain(db)
    assert second_sandbox.refunded_fen(second) == 2990
    assert sandbox.refunded_fen(first) == total
    o = await get_order(client, w.fan_headers, order["id"])
    assert o["refunded_fen"] == 2990 and o["status"] == "paid"


async def test_two_attempts_both_paid_through_one_provider_query(client, db, sandbox, second_sandbox) -> None:  # noqa: ANN001
    """The same, but the second payment is discovered by the query sweep instead of a notification."""
    w = await make_world(db)
    order = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[1])
    total = order["total_fen"]
    first = (await start_payment(client, w.fan_headers, order["id"], "sandbox"))["out_trade_no"]
    second = (await start_payment(client, w.fan_headers, order["id"], "sandbox_b"))["out_trade_no"]
    sandbox.mark_paid(first, total)
    second_sandbox.mark_paid(second, total)
    clock.advance(timedelta(minutes=4))
    await sweeps.run_one(db, "payments.query_silent")
    await outbox.drain(db)
    (order_row,) = await rows(db, Order)
    assert order_row.status == "paid"
    assert sandbox.refunded_fen(first) + second_sandbox.refunded_fen(second) == total  # exactly one refunded
    payments = await rows(db, Payment, order_by=Payment.id)
    assert sorted(p.refunded_fen for p in payments) == [0, total]


async def test_payment_racing_the_unpaid_sweep_either_pays_or_refunds(client, db, db_url, sandbox) -> None:  # noqa: ANN001
    """The money arrives just as the sweep cancels the order (two connections): exactly one wins, and
    the stock and the money end up consistent either way."""
    from quanzi.catalog.models import StockMovement
    from tests.commerce._support import stock

    w = await make_world(db, stock=10)
    order, otn = await _order_and_payment(client, w, qty=3)
    total = order["total_fen"]
    clock.advance(timedelta(minutes=15, seconds=1))
    paid = sandbox.mark_paid(otn, total)
    headers, body = sandbox.build_notification(otn, paid.transaction_id, total, paid.paid_at)
    worker = Database(db_url)
    try:
        swept, r = await asyncio.gather(sweeps.run_one(worker, "orders.cancel_unpaid"),
                                        client.post(NOTIFY, content=body, headers=headers))
    finally:
        await worker.dispose()
    assert r.status_code == 200, r.text
    await outbox.drain(db)
    (o,) = await rows(db, Order)
    released = await count(db, StockMovement, StockMovement.reason == "release")
    if o.status == "paid":
        assert (swept, r.json()["message"]) == (0, "paid")
        assert sandbox.refunded_fen(otn) == 0 and await count(db, Refund) == 0
        assert await stock(db, w.sku_ids[0]) == 7 and released == 0
    else:
        assert o.status == "cancelled"
        assert (swept, r.json()["message"]) == (1, "refund_not_payable")
        assert sandbox.refunded_fen(otn) == total
        assert await stock(db, w.sku_ids[0]) == 10 and released == 1
