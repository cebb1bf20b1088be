"""Real payouts: WeChat merchant transfer to the payee's openid (refused with a 4xx when there is none),
Alipay transfer to an account, bank cards settled offline with a bank reference (audited); transfers are
idempotent by our out-bill number, asynchronous ones are settled by the query sweep, and a failed transfer
puts the money back exactly. The sandbox pays only when enabled, and never in production."""

from __future__ import annotations

import json

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from quanzi.app import configure_payments, create_app
from quanzi.audit.models import AuditLog
from quanzi.config import Settings
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.outbox import OutboxMessage
from quanzi.ledger import service as ledger
from quanzi.wechat import service as wechat
from quanzi.withdrawals import payouts
from quanzi.withdrawals.jobs import query_transfers
from quanzi.withdrawals.models import Withdrawal
from quanzi.withdrawals.payouts import AlipayTransfer, ConfigurationError, WechatTransfer
from tests.commerce._support import err, rows
from tests.conftest import make_settings, make_user
from tests.distribution.test_withdrawals import Earner, earn
from tests.factories import balances, ledger_problems, set_distribution
from tests.payments.test_providers import APPID, ALIPAY_APP_ID, new_key, private_pem, public_pem, wx_config
from tests.payments.test_providers import AlipayConfig

from .doubles import AlipayTransfers, WechatTransfers

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture(scope="module")
def keys() -> dict[str, object]:
    return {"wx_platform": new_key(), "wx_merchant": new_key(), "alipay": new_key(), "app": new_key()}


@pytest.fixture
def wx_double(keys) -> Iterator[WechatTransfers]:  # noqa: ANN001
    fake = WechatTransfers(keys["wx_platform"], keys["wx_merchant"].public_key())
    yield fake
    fake.server.close()


@pytest.fixture
def ali_double(keys) -> Iterator[AlipayTransfers]:  # noqa: ANN001
    fake = AlipayTransfers(keys["alipay"], keys["app"].public_key())
    yield fake
    fake.server.close()


@pytest.fixture
def channels(app, keys, wx_double, ali_double) -> None:  # noqa: ANN001 - after the app configured its own
    """This deployment pays WeChat and Alipay withdrawals for real (against the doubles); no sandbox."""
    wx = WechatTransfer(wx_config(public_pem(keys["wx_platform"]), "k" * 32, keys["wx_merchant"],
                                  api_base_url=wx_double.server.url))
    ali = AlipayTransfer(AlipayConfig(app_id=ALIPAY_APP_ID, app_private_key=private_pem(keys["app"]),
                                      alipay_public_key=public_pem(keys["alipay"]),
                                      gateway_url=f"{ali_double.server.url}/gateway.do"))
    payouts.set_channels({"wechat": wx, "alipay": ali})


@pytest.fixture
async def earner(app, db) -> Earner:  # noqa: ANN001
    from quanzi.accounts.models import Role
    from quanzi.shops import service as shops
    from tests.conftest import make_user

    uid, _ = await make_user(db, "13700000088", nickname="小美")
    async with db.write() as s:
        shop_id = (await shops.open_shop(s, uid, "小美的店")).id
    _, headers = await make_user(db, "13700000088")
    operator_id, operator = await make_user(db, "13800000001", Role.OPERATOR)
    await earn(db, shop_id, 10_000)
    return Earner(uid, headers, operator, operator_id)


async def withdraw(client: httpx.AsyncClient, e: Earner, amount: int, method: str,
                   payee: dict[str, str] | None = None) -> httpx.Response:
    return await client.post("/api/withdrawals", json={
        "amount_fen": amount, "method": method, "payee": payee or {"name": "李小美", "account": "13700000088"}},
        headers=e.headers)


async def approve(client: httpx.AsyncClient, e: Earner, wid: int) -> dict:  # type: ignore[type-arg]
    r = await client.post(f"/api/withdrawals/{wid}/approve", headers=e.operator)
    assert r.status_code == 200, r.text
    return r.json()


async def mine(client: httpx.AsyncClient, e: Earner, wid: int) -> dict:  # type: ignore[type-arg]
    return (await client.get(f"/api/withdrawals/{wid}", headers=e.headers)).json()


async def fee_income(db) -> int:  # noqa: ANN001
    async with db.read() as s:
        return await ledger.balance(s, 0, "fee_income", "platform")


async def bind_openid(db, user_id: int, openid: str = OPENID) -> None:  # noqa: ANN001
    async with db.write() as s:
        await wechat.bind(s, user_id, APPID, openid, None)


# ------------------------------------------------------------------------------------------ WeChat


async def test_wechat_payout_needs_an_openid_then_pays_once_the_payee_confirms(
        client, db, earner: Earner, channels, wx_double: WechatTransfers) -> None:  # noqa: ANN001
    r = await withdraw(client, earner, 6_000, "wechat")
    assert r.status_code == 409 and err(r) == "withdrawal.no_wechat_openid", r.text
    assert "微信" in r.json()["error"]["message"]
    assert await rows(db, Withdrawal) == [] and (await balances(db, earner.user_id))["available"] == 10_000

    await bind_openid(db, earner.user_id)
    r = await withdraw(client, earner, 6_000, "wechat", {"name": "李小美", "account": "o-typed-by-the-client"})
    assert r.status_code == 201 and r.json()["channel"] == "wechat", r.text
    wid = r.json()["id"]
    await approve(client, earner, wid)
    await outbox.drain(db)
    method, path, sent = wx_double.seen[-1]
    assert (method, path) == ("POST", "/v3/fund-app/mch-transfer/transfer-bills")
    assert sent["openid"] == OPENID  # the bound openid, never what the client typed
    assert (sent["transfer_amount"], sent["appid"], sent["transfer_scene_id"]) == (6_000, APPID, "1005")
    got = await mine(client, earner, wid)
    assert (got["status"], got["transfer_state"]) == ("paying", "WAIT_USER_CONFIRM")  # asynchronous
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (4_000, 6_000, 0)

    assert await query_transfers(db, clock.now()) == 0  # not yet due
    clock.advance(timedelta(minutes=2))
    assert await query_transfers(db, clock.now()) == 1  # still waiting for the payee
    assert (await mine(client, earner, wid))["status"] == "paying"
    (w,) = await rows(db, Withdrawal)
    wx_double.settle(w.out_batch_no, "SUCCESS")
    clock.advance(timedelta(minutes=6))
    assert await query_transfers(db, clock.now()) == 1
    got = await mine(client, earner, wid)
    assert (got["status"], got["transfer_state"]) == ("paid", "SUCCESS") and got["paid_at"]
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (4_000, 0, 6_000)
    assert len(wx_double.bills) == 1
    clock.advance(timedelta(hours=3))
    # Nothing left to pay; the one message left is the payee's "withdrawal paid" notice.
    assert await query_transfers(db, clock.now()) == 0 and await outbox.drain(db) == 1
    assert await ledger_problems(db) == []


async def test_the_payee_accepts_in_wechat_and_the_check_settles_at_once(
        client, db, earner: Earner, channels, wx_double: WechatTransfers) -> None:  # noqa: ANN001
    await bind_openid(db, earner.user_id)
    wid = (await withdraw(client, earner, 4_000, "wechat")).json()["id"]
    await approve(client, earner, wid)
    await outbox.drain(db)
    got = await mine(client, earner, wid)
    assert got["wechat_confirm"] == {"mchId": "1900000109", "appId": APPID, "package": "ABBQO+oYAAABAAAAAAAk+yPZGrQ=="}
    listed = (await client.get("/api/withdrawals", headers=earner.headers)).json()
    assert listed[0]["wechat_confirm"] == got["wechat_confirm"]
    r = await client.get("/console/earnings", headers={**earner.headers, "accept": "text/html"})
    assert 'data-testid="wechat-accept-hint"' in r.text  # not in WeChat (and no official account here)

    _, other_h = await make_user(db, "13700000099")
    assert (await client.post(f"/api/withdrawals/{wid}/check", headers=other_h)).status_code == 404
    r = await client.post(f"/api/withdrawals/{wid}/check", headers=earner.headers)
    assert r.status_code == 200 and r.json()["status"] == "paying"  # not accepted yet
    (w,) = await rows(db, Withdrawal)
    wx_double.settle(w.out_batch_no, "SUCCESS")  # the payee tapped "accept" in WeChat
    r = await client.post(f"/api/withdrawals/{wid}/check", headers=earner.headers)
    assert r.status_code == 200 and r.json()["status"] == "paid" and r.json()["wechat_confirm"] is None, r.text
    assert (await balances(db, earner.user_id))["paid_out"] == 4_000
    assert await ledger_problems(db) == []


async def test_inside_wechat_the_earnings_page_offers_the_accept_button(
        db_url, db, earner: Earner, keys, wx_double: WechatTransfers) -> None:  # noqa: ANN001
    app = create_app(make_settings(db_url, wechat_app_id=APPID, wechat_app_secret="s"), db, start_worker=False)
    payouts.set_channels({"wechat": WechatTransfer(wx_config(public_pem(keys["wx_platform"]), "k" * 32,
                                                             keys["wx_merchant"], api_base_url=wx_double.server.url))})
    await bind_openid(db, earner.user_id)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        wid = (await withdraw(client, earner, 4_000, "wechat")).json()["id"]
        await approve(client, earner, wid)
        await outbox.drain(db)
        r = await client.get("/console/earnings", headers={
            **earner.headers, "accept": "text/html", "user-agent": "Mozilla/5.0 MicroMessenger/8.0.50"})
    assert f'data-testid="wechat-accept-{wid}"' in r.text
    assert '&#34;package&#34;: &#34;ABBQO+oYAAABAAAAAAAk+yPZGrQ==&#34;' in r.text
    assert '<script src="/static/js/wechat-transfer.js" defer></script>' in r.text
    assert "https://res.wx.qq.com" in r.headers["content-security-policy"]


async def test_a_failed_wechat_transfer_returns_the_money_exactly(
        client, db, earner: Earner, channels, wx_double: WechatTransfers) -> None:  # noqa: ANN001
    await set_distribution(db, withdraw_fee_bp=300)
    before_fee = await fee_income(db)
    await bind_openid(db, earner.user_id)
    wid = (await withdraw(client, earner, 7_000, "wechat")).json()["id"]
    await approve(client, earner, wid)
    await outbox.drain(db)
    assert await fee_income(db) - before_fee == 210
    (w,) = await rows(db, Withdrawal)
    wx_double.settle(w.out_batch_no, "FAIL", "REAL_NAME_CHECK_FAIL")
    clock.advance(timedelta(minutes=2))
    await query_transfers(db, clock.now())
    got = await mine(client, earner, wid)
    assert (got["status"], got["fail_reason"]) == ("failed", "REAL_NAME_CHECK_FAIL"), got
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (10_000, 0, 0)  # the fee too
    assert await fee_income(db) == before_fee
    assert await ledger_problems(db) == []


async def test_a_transfer_wechat_refuses_outright_fails_at_once(
        client, db, earner: Earner, channels, wx_double: WechatTransfers) -> None:  # noqa: ANN001
    await bind_openid(db, earner.user_id, "o-not-this-app-123")
    wid = (await withdraw(client, earner, 5_000, "wechat")).json()["id"]
    await approve(client, earner, wid)
    await outbox.drain(db)
    got = await mine(client, earner, wid)
    assert (got["status"], got["transfer_state"]) == ("failed", "INVALID_REQUEST"), got
    assert (await balances(db, earner.user_id))["available"] == 10_000
    assert await ledger_problems(db) == []


async def test_a_lost_answer_is_retried_with_the_same_bill_number_and_pays_once(
        client, db, earner: Earner, channels, wx_double: WechatTransfers) -> None:  # noqa: ANN001
    await bind_openid(db, earner.user_id)
    wid = (await withdraw(client, earner, 10_000, "wechat")).json()["id"]
    await approve(client, earner, wid)
    wx_double.lose_next_answer = True
    await outbox.drain(db)
    (msg,) = await rows(db, OutboxMessage, OutboxMessage.topic == "withdrawal.approved")
    assert msg.status == "pending" and "ProviderError" in (msg.last_error or "")
    assert (await mine(client, earner, wid))["status"] == "approved"
    assert len(wx_double.bills) == 1  # WeChat did make the transfer; we just never heard
    clock.advance(timedelta(seconds=6))
    await outbox.drain(db)
    assert (await mine(client, earner, wid))["status"] == "paying"
    (w,) = await rows(db, Withdrawal)
    assert w.attempts == 2 and [p[2]["out_bill_no"] for p in wx_double.seen if p[0] == "POST"] == [w.out_batch_no] * 2
    assert len(wx_double.bills) == 1 and w.transfer_id == wx_double.bills[w.out_batch_no]["transfer_bill_no"]
    wx_double.settle(w.out_batch_no, "SUCCESS")
    clock.advance(timedelta(minutes=6))  # the second attempt waits longer before asking
    assert await query_transfers(db, clock.now()) == 1
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (0, 0, 10_000)
    assert await ledger_problems(db) == []


async def test_a_payout_whose_outbox_gave_up_is_picked_up_by_the_sweep(
        client, db, earner: Earner, channels, keys) -> None:  # noqa: ANN001
    from sqlalchemy import update

    working = payouts.get("alipay")
    wid = (await withdraw(client, earner, 3_000, "alipay", {"name": "李小美", "account": "xiaomei@example.com"})).json()["id"]
    await approve(client, earner, wid)
    async with db.write() as s:  # as if every delivery attempt had failed (hours of SYSTEM_ERROR)
        await s.execute(update(OutboxMessage).where(OutboxMessage.topic == "withdrawal.approved").values(status="dead"))
    assert await query_transfers(db, clock.now()) == 0  # not before an hour
    down = AlipayTransfer(AlipayConfig(app_id=ALIPAY_APP_ID, app_private_key=private_pem(keys["app"]),
                                       alipay_public_key=public_pem(keys["alipay"]),
                                       gateway_url="http://127.0.0.1:9/gateway.do"))
    payouts.set_channels({"alipay": down})  # and Alipay is still unreachable at first
    clock.advance(timedelta(minutes=61))
    assert await query_transfers(db, clock.now()) == 0
    assert await query_transfers(db, clock.now()) == 0  # postponed, not retried on every run
    (w,) = await rows(db, Withdrawal)
    assert (w.status, w.attempts) == ("approved", 1)
    payouts.set_channels({"alipay": working})
    clock.advance(timedelta(minutes=11))
    assert await query_transfers(db, clock.now()) == 1
    assert (await mine(client, earner, wid))["status"] == "paid"
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (7_000, 0, 3_000)
    assert await ledger_problems(db) == []


async def test_an_answer_not_signed_by_wechat_pay_is_not_believed(
        client, db, earner: Earner, channels, wx_double: WechatTransfers) -> None:  # noqa: ANN001
    await bind_openid(db, earner.user_id)
    wid = (await withdraw(client, earner, 3_000, "wechat")).json()["id"]
    await approve(client, earner, wid)
    wx_double.forge_next = True
    await outbox.drain(db)
    assert (await mine(client, earner, wid))["status"] == "approved"  # unknown: retried, not recorded
    assert (await balances(db, earner.user_id))["withdrawing"] == 3_000


# ------------------------------------------------------------------------------------------ Alipay


async def test_alipay_payout_and_a_refused_one_returning_the_money(
        client, db, earner: Earner, channels, ali_double: AlipayTransfers) -> None:  # noqa: ANN001
    wid = (await withdraw(client, earner, 4_000, "alipay", {"name": "李小美", "account": "xiaomei@example.com"})).json()["id"]
    bad = (await withdraw(client, earner, 3_000, "alipay", {"name": "李小美", "account": "closed@example.com"})).json()["id"]
    await approve(client, earner, wid)
    await approve(client, earner, bad)
    await outbox.drain(db)
    transfer = next(x for x in ali_double.seen if x["biz_content"].get("payee_info", {}).get("identity")
                    == "xiaomei@example.com")["biz_content"]
    assert transfer["trans_amount"] == "40.00" and transfer["product_code"] == "TRANS_ACCOUNT_NO_PWD"
    assert transfer["payee_info"] == {"identity": "xiaomei@example.com", "identity_type": "ALIPAY_LOGON_ID",
                                      "name": "李小美"}
    assert (await mine(client, earner, wid))["status"] == "paid"
    got = await mine(client, earner, bad)
    assert (got["status"], got["transfer_state"]) == ("failed", "PAYEE_NOT_EXIST"), got
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (6_000, 0, 4_000)
    assert await ledger_problems(db) == []


async def test_alipay_dealing_is_settled_by_the_query(
        client, db, earner: Earner, channels, ali_double: AlipayTransfers) -> None:  # noqa: ANN001
    ali_double.next_status = "DEALING"
    wid = (await withdraw(client, earner, 2_500, "alipay", {"name": "李小美", "account": "2088102177846881"})).json()["id"]
    await approve(client, earner, wid)
    await outbox.drain(db)
    assert (await mine(client, earner, wid))["status"] == "paying"
    assert ali_double.seen[-1]["biz_content"]["payee_info"] == {"identity": "2088102177846881",
                                                                 "identity_type": "ALIPAY_USER_ID"}
    (w,) = await rows(db, Withdrawal)
    ali_double.transfers[w.out_batch_no]["status"] = "SUCCESS"
    clock.advance(timedelta(minutes=2))
    assert await query_transfers(db, clock.now()) == 1
    assert ali_double.seen[-1]["method"] == "alipay.fund.trans.common.query"
    assert (await mine(client, earner, wid))["status"] == "paid"
    assert (await balances(db, earner.user_id))["paid_out"] == 2_500
    assert await ledger_problems(db) == []


# -------------------------------------------------------------------------------------- bank, offline


async def test_bank_card_is_settled_offline_with_an_audited_bank_reference(
        client, db, earner: Earner, channels) -> None:  # noqa: ANN001
    card = {"name": "李小美", "account": "6222020200112233445"}
    wid = (await withdraw(client, earner, 5_000, "bank", card)).json()["id"]
    other = (await withdraw(client, earner, 2_000, "bank", card)).json()["id"]
    got = await approve(client, earner, wid)
    assert (got["status"], got["channel"]) == ("approved", "offline")
    await approve(client, earner, other)
    assert await rows(db, OutboxMessage, OutboxMessage.topic == "withdrawal.approved") == []  # nobody calls out
    await outbox.drain(db)
    assert (await mine(client, earner, wid))["status"] == "approved"

    url = f"/api/withdrawals/{wid}/confirm-paid"
    r = await client.post(url, json={"bank_reference": "HX20250301-88"}, headers=earner.headers)
    assert r.status_code == 403  # only an operator
    r = await client.post(url, json={"bank_reference": "x"}, headers=earner.operator)
    assert r.status_code == 422, r.text
    r = await client.post(url, json={"bank_reference": "HX20250301-88"}, headers=earner.operator)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert r.json()["bank_reference"] == "HX20250301-88"
    r = await client.post(url, json={"bank_reference": "HX20250301-88"}, headers=earner.operator)
    assert r.status_code == 409 and err(r) == "state.illegal_transition"
    async with db.read() as s:
        (audit,) = (await s.execute(select(AuditLog).where(AuditLog.action == "withdrawal.paid_bank"))).scalars()
    assert audit.entity_id == str(wid) and audit.changes == {"bank_reference": "HX20250301-88", "net_fen": 5_000}

    r = await client.post(f"/api/withdrawals/{other}/offline-failed", json={"reason": "银行退票：户名不符"},
                          headers=earner.operator)
    assert r.status_code == 200 and r.json()["status"] == "failed" and r.json()["fail_reason"] == "银行退票：户名不符"
    b = await balances(db, earner.user_id)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (5_000, 0, 5_000)
    assert await ledger_problems(db) == []


async def test_a_provider_payout_cannot_be_confirmed_by_hand(client, db, earner: Earner, channels,
                                                             wx_double) -> None:  # noqa: ANN001
    await bind_openid(db, earner.user_id)
    wid = (await withdraw(client, earner, 3_000, "wechat")).json()["id"]
    await approve(client, earner, wid)
    r = await client.post(f"/api/withdrawals/{wid}/confirm-paid", json={"bank_reference": "HX-0001"},
                          headers=earner.operator)
    assert r.status_code == 409 and err(r) == "withdrawal.not_offline", r.text


async def test_console_shows_the_bank_reference_form_and_records_it(app, client, db, earner: Earner) -> None:  # noqa: ANN001
    from tests.storefront.conftest import cookie_login

    wid = (await withdraw(client, earner, 5_000, "bank", {"name": "李小美", "account": "6222020200112233445"})).json()["id"]
    await approve(client, earner, wid)
    async with db.read() as s:
        from quanzi.accounts.models import User

        operator_id = (await s.execute(select(User.id).where(User.phone == "+8613800000001"))).scalar_one()
    op = await cookie_login(client, db, operator_id, "13800000001")
    page = await op.get("/console/withdrawals?status=approved")
    assert f'data-testid="confirm-paid-{wid}"' in page.text and f'data-testid="bank-reference-{wid}"' in page.text
    r = await op.post(f"/console/withdrawals/{wid}/confirm-paid", {"reference": "  ", "back": "approved"})
    assert (await mine(client, earner, wid))["status"] == "approved"
    r = await op.post(f"/console/withdrawals/{wid}/confirm-paid", {"reference": "ICBC 0301 7788", "back": "approved"})
    assert r.status_code in (200, 303), r.text
    got = await mine(client, earner, wid)
    assert (got["status"], got["channel"]) == ("paid", "offline")


# ---------------------------------------------------------------------------- sandbox and production


async def test_without_the_sandbox_a_method_nobody_can_pay_is_refused_up_front(db_url, db) -> None:  # noqa: ANN001
    app = create_app(make_settings(db_url, payout_sandbox=False), db, start_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        from quanzi.accounts.models import Role
        from quanzi.shops import service as shops
        from tests.conftest import make_user

        uid, _ = await make_user(db, "13700000088")
        async with db.write() as s:
            shop_id = (await shops.open_shop(s, uid, "小美的店")).id
        _, headers = await make_user(db, "13700000088")
        operator_id, operator = await make_user(db, "13800000001", Role.OPERATOR)
        await earn(db, shop_id, 10_000)
        e = Earner(uid, headers, operator, operator_id)
        for method in ("wechat", "alipay"):
            r = await withdraw(client, e, 2_000, method)
            assert r.status_code == 422 and err(r) == "withdrawal.method_unavailable", r.text
        assert await rows(db, Withdrawal) == []
        r = await withdraw(client, e, 2_000, "bank")
        assert r.status_code == 201 and r.json()["channel"] == "offline"
    assert payouts.get("sandbox") is None


# Production also needs a real SMS provider (notifications refuse the console one); these keys only configure it.
REAL_SMS = {"sms_provider": "aliyun", "sms_aliyun_access_key_id": "LTAI5t", "sms_aliyun_access_key_secret": "s3cret",
            "sms_templates": {"login_code": "SMS_1"}}


def test_production_refuses_to_start_with_sandbox_payouts(db_url, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError) as refused:
        create_app(make_settings(db_url, environment="production", payout_sandbox=True, **REAL_SMS), start_worker=False)
    assert "QUANZI_PAYOUT_SANDBOX" in str(refused.value) and "no money moves" in str(refused.value)
    # The worker configures payouts through the same function, so it refuses too.
    with pytest.raises(ConfigurationError):
        configure_payments(make_settings(db_url, environment="production", payout_sandbox=True, **REAL_SMS))
    # From the environment, as a deployment sets it.
    monkeypatch.setenv("QUANZI_ENVIRONMENT", "production")
    monkeypatch.setenv("QUANZI_PAYOUT_SANDBOX", "1")
    monkeypatch.setenv("DATABASE_URL", db_url)
    for name, value in REAL_SMS.items():
        monkeypatch.setenv(f"QUANZI_{name.upper()}", value if isinstance(value, str) else json.dumps(value))
    with pytest.raises(ConfigurationError):
        create_app(Settings(), start_worker=False)
    # Production without sandbox payouts starts; development with them starts.
    create_app(make_settings(db_url, environment="production", payout_sandbox=False, **REAL_SMS), start_worker=False)
    create_app(make_settings(db_url, environment="development", payout_sandbox=True), start_worker=False)
    assert payouts.get("sandbox") is not None


def test_channels_come_from_the_merchant_settings(db_url, tmp_path, keys, wx_double, ali_double) -> None:  # noqa: ANN001
    """The same QUANZI_WECHATPAY_* / QUANZI_ALIPAY_* settings that configure payments configure payouts."""
    (tmp_path / "mch.pem").write_text(private_pem(keys["wx_merchant"]))
    (tmp_path / "wxpub.pem").write_text(public_pem(keys["wx_platform"]))
    (tmp_path / "app.pem").write_text(private_pem(keys["app"]))
    (tmp_path / "alipub.pem").write_text(public_pem(keys["alipay"]))
    settings = make_settings(
        db_url, payout_sandbox=False, wechatpay_mchid="1900000109", wechatpay_appid=APPID,
        wechatpay_apiv3_key="k" * 32, wechatpay_private_key_path=str(tmp_path / "mch.pem"),
        wechatpay_cert_serial_no="444F4864EA9B34415", wechatpay_public_key_path=str(tmp_path / "wxpub.pem"),
        wechatpay_public_key_id="PUB_KEY_ID_0114232134912410000000000000", wechatpay_api_base_url=wx_double.server.url,
        alipay_app_id=ALIPAY_APP_ID, alipay_app_private_key_path=str(tmp_path / "app.pem"),
        alipay_public_key_path=str(tmp_path / "alipub.pem"), alipay_gateway_url=f"{ali_double.server.url}/gateway.do")
    configure_payments(settings)
    assert isinstance(payouts.get("wechat"), WechatTransfer) and payouts.get("wechat").openid_app_id == APPID
    assert isinstance(payouts.get("alipay"), AlipayTransfer) and payouts.get("sandbox") is None
    assert payouts.channel_for("wechat") == "wechat" and payouts.channel_for("bank") == payouts.OFFLINE
