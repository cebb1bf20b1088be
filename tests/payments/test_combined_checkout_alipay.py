"""One checkout, one payment with Alipay: one trade for the checkout's total (Alipay has no sub-orders for a
direct merchant), the allocation kept on our side, and a partial refund of one line sent against that one
trade — through the real app and database, with a local stand-in for Alipay's gateway that checks our
signatures and signs its answers."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest

from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.orders.models import Order, OrderLine
from quanzi.payments import registry
from quanzi.payments.models import CheckoutPayment, Payment, Refund
from quanzi.payments.providers._common import fen_to_yuan
from tests.commerce._support import count, rows
from tests.factories import ask_refund

from .test_combined_checkout import place_three, three_suppliers
from .test_providers import alipay_body, alipay_params, alipay_provider, new_key, public_pem
from .test_providers_http import FakeAlipay


@pytest.fixture
def alipay_keys():  # noqa: ANN201
    return new_key(), new_key()


@pytest.fixture
def gateway(alipay_keys) -> Iterator[FakeAlipay]:  # noqa: ANN001
    alipay_key, app_key = alipay_keys
    fake = FakeAlipay(alipay_key, app_key.public_key())
    yield fake
    fake.server.close()


async def test_alipay_checkout_is_one_trade_and_refunds_go_against_it(client, db, alipay_keys, gateway) -> None:  # noqa: ANN001
    alipay_key, app_key = alipay_keys
    provider = alipay_provider(public_pem(alipay_key), app_key, gateway_url=f"{gateway.server.url}/gateway.do")
    registry.configure({**{n: registry.get(n) for n in registry.names()}, "alipay": provider})

    w, skus = await three_suppliers(db)
    placed = await place_three(client, w, skus)
    r = await client.post(f"/api/checkouts/{placed['checkout_id']}/pay", json={"provider": "alipay"},
                          headers=w.fan_headers)
    assert r.status_code == 200, r.text
    intent = r.json()
    total, out_trade_no = intent["amount_fen"], intent["out_trade_no"]
    assert total == placed["total_fen"] == 16270
    # One wap-pay trade for the whole total, signed locally.
    query = dict(parse_qsl(urlsplit(intent["client_params"]["pay_url"]).query))
    assert query["method"] == "alipay.trade.wap.pay"
    assert '"total_amount":"162.70"' in query["biz_content"] and out_trade_no in query["biz_content"]

    def notify(amount_fen: int) -> bytes:
        params = alipay_params(total=fen_to_yuan(amount_fen), notify_time=clock.now())
        params["out_trade_no"] = out_trade_no
        return alipay_body(params, alipay_key)

    headers = {"content-type": "application/x-www-form-urlencoded"}
    r = await client.post("/api/payments/notify/alipay", content=notify(total + 1), headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "payment.mismatch"
    assert await count(db, Order, Order.status == "paid") == 0
    r = await client.post("/api/payments/notify/alipay", content=notify(total), headers=headers)
    assert r.json() == {"code": "SUCCESS", "message": "paid"}, r.text
    r = await client.post("/api/payments/notify/alipay", content=notify(total), headers=headers)
    assert r.json()["message"] == "duplicate"
    assert await count(db, Order, Order.status == "paid") == 3
    (cp,) = await rows(db, CheckoutPayment)
    shares = await rows(db, Payment, Payment.checkout_payment_id == cp.id, order_by=Payment.order_id)
    assert sum(p.amount_fen for p in shares) == total and {p.transaction_id for p in shares} == {cp.transaction_id}

    # Refund one small pear (12.00): against the one trade, with its own request number.
    await outbox.drain(db)
    pear_order = next(o for o in await rows(db, Order) if o.goods_fen == 5900)
    small = next(x for x in await rows(db, OrderLine, OrderLine.order_id == pear_order.id) if x.sku_id == skus[3])
    await ask_refund(db, w.fan_id, pear_order.id, small.id, 1)
    (refund,) = await rows(db, Refund)
    assert (refund.amount_fen, refund.status, refund.order_id) == (1200, "succeeded", pear_order.id)
    call = next(x for x in gateway.seen if x["method"] == "alipay.trade.refund")
    assert call["biz_content"]["out_trade_no"] == out_trade_no
    assert call["biz_content"]["refund_amount"] == "12.00"
    assert call["biz_content"]["out_request_no"] == refund.out_refund_no
    pear_share = next(p for p in await rows(db, Payment, Payment.checkout_payment_id == cp.id)
                      if p.order_id == pear_order.id)
    assert pear_share.refunded_fen == 1200
