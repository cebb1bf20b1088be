"""Distribution JSON API and console pages over the real app and database: joining (free), my money and
fans, rankings, the operator's policy/levels refusals (the law's codes, as 422s), withdrawals end to end
(reject → money back; approve → outbox → paid), object-level authorization, and the pages."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from quanzi.distribution import service as distribution
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.ledger import service as ledger
from quanzi.referrals import service as referrals
from quanzi.kit import sharetokens as tokens
from quanzi.shops import service as shops
from quanzi.withdrawals.models import Withdrawal
from tests.commerce._support import err, rows
from tests.console.helpers import browser, pay
from tests.conftest import make_settings, make_user
from tests.factories import make_world


@pytest.fixture
def settings(db_url: str, tmp_path: Path):  # noqa: ANN201
    return make_settings(db_url, media_dir=tmp_path / "media")


async def _keeper(db, w) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await shops.public_shop(s, w.shop_id)).owner_id


async def _sell(client, db, w, sku_index: int = 0, *, unlock: bool = True) -> dict:  # noqa: ANN001
    """The world's fan buys through the shop; shipped, received and (optionally) past the freeze."""
    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": [
        {"sku_id": w.sku_ids[sku_index], "quantity": 1, "shop_id": w.shop_id}]}, headers=w.fan_headers)
    assert r.status_code == 201, r.text
    order = r.json()["orders"][0]
    await pay(client, w.fan_headers, order["id"])
    await outbox.drain(db)
    if unlock:
        r = await client.post(f"/api/supplier/orders/{order['id']}/ship",
                              json={"carrier": "顺丰速运", "tracking_no": "SF1234567890"}, headers=w.supplier_headers)
        assert r.status_code == 200, r.text
        assert (await client.post(f"/api/orders/{order['id']}/receive", headers=w.fan_headers)).status_code == 200
        await outbox.drain(db)
        clock.advance(timedelta(days=9))
        assert await sweeps.run_one(db, "distribution.unlock_commission") >= 1
    return order


async def _balances(db, user_id: int) -> dict[str, int]:  # noqa: ANN001
    async with db.read() as s:
        return await ledger.balances(s, user_id)


# --- joining and "me" -----------------------------------------------------------------------------------

async def test_joining_is_free_and_instant_or_an_application(client, db) -> None:  # noqa: ANN001
    uid, h = await make_user(db, "13900000101", nickname="阿花")
    r = await client.get("/api/distribution/me", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "none"
    assert r.json()["balances"] == {"pending": 0, "available": 0, "withdrawing": 0, "paid_out": 0, "debt": 0}
    r = await client.post("/api/distribution/join", json={}, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "active"
    assert (await client.get("/api/distribution/me", headers=h)).json()["status"] == "active"
    assert (await client.post("/api/distribution/join", json={"fee_fen": 100}, headers=h)).status_code == 422

    op, oh = await make_user(db, "13700000009", "operator")
    r = await client.put("/api/distribution/policy", json={"who_may": "approval"}, headers=oh)
    assert r.status_code == 200 and r.json()["who_may"] == "approval"
    applicant, ah = await make_user(db, "13900000102", nickname="小王")
    r = await client.post("/api/distribution/join", json={"note": "我想分享"}, headers=ah)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert err(await client.post("/api/distribution/join", json={}, headers=ah)) == "distribution.already_applied"

    r = await client.get("/api/distribution/distributors", headers=oh)
    assert [x["user_id"] for x in r.json()][0] == applicant  # pending applications first
    assert r.json()[0]["phone"] == "139****0102"
    assert (await client.get("/api/distribution/distributors", headers=ah)).status_code == 403
    r = await client.post(f"/api/distribution/distributors/{applicant}/decision",
                          json={"status": "active", "note": "欢迎"}, headers=oh)
    assert r.status_code == 200 and r.json()["status"] == "active"
    r = await client.post(f"/api/distribution/distributors/{applicant}/decision", json={"status": "boss"}, headers=oh)
    assert r.status_code == 422
    assert (await client.post("/api/distribution/distributors/99999/decision", json={"status": "frozen"},
                              headers=oh)).status_code == 404


async def test_me_counts_money_fans_and_earnings_in_china_time(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    keeper = await _keeper(db, w)
    await _sell(client, db, w, unlock=False)
    r = await client.get("/api/distribution/me", headers=w.shopkeeper_headers)
    me = r.json()
    assert me["status"] == "active" and me["rates"] == {"l1_bp": 1000, "l2_bp": 300}
    assert me["balances"]["pending"] == 3000 and me["balances"]["available"] == 0
    assert me["earnings"] == {"today_fen": 3000, "month_fen": 3000, "total_fen": 3000}
    r = await client.get("/api/distribution/commissions", headers=w.shopkeeper_headers)
    (c,) = r.json()["items"]
    assert r.json()["total"] == 1
    assert (c["level"], c["amount_fen"], c["status"], c["item"]) == (1, 3000, "pending", "云南高原苹果")
    assert c["order_no"].startswith("QZ")
    clock.advance(timedelta(days=2))  # another China day: no longer "today"
    me = (await client.get("/api/distribution/me", headers=w.shopkeeper_headers)).json()
    assert me["earnings"]["today_fen"] == 0 and me["earnings"]["total_fen"] == 3000
    assert keeper == me["user_id"]


async def test_fans_are_listed_with_masked_phones_by_level(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    keeper = await _keeper(db, w)
    fan1, fan1_h = await make_user(db, "13912345601", nickname="一级粉")
    fan2, _ = await make_user(db, "13912345602", nickname="二级粉")
    async with db.write() as s:
        await distribution.join(s, fan1)
        now = clock.now()
        t1 = tokens.verify("test-secret", tokens.issue("test-secret", keeper, "s", w.shop_id, now), now, 30)
        assert await referrals.bind(s, fan1, t1, is_new_user=True) == "bound"
        t2 = tokens.verify("test-secret", tokens.issue("test-secret", fan1, "s", w.shop_id, now), now, 30)
        assert await referrals.bind(s, fan2, t2, is_new_user=True) == "bound"
    r = await client.get("/api/distribution/fans?level=1", headers=w.shopkeeper_headers)
    assert r.json()["count"] == 1 and r.json()["items"][0] == {
        **r.json()["items"][0], "nickname": "一级粉", "phone": "139****5601"}
    r = await client.get("/api/distribution/fans?level=2", headers=w.shopkeeper_headers)
    assert [(f["nickname"], f["phone"]) for f in r.json()["items"]] == [("二级粉", "139****5602")]
    assert "13912345602" not in r.text
    assert (await client.get("/api/distribution/fans?level=3", headers=w.shopkeeper_headers)).status_code == 422
    me = (await client.get("/api/distribution/me", headers=w.shopkeeper_headers)).json()
    assert me["fans"] == {"level1": 1, "level2": 1}
    assert (await client.get("/api/distribution/fans?level=1", headers=fan1_h)).json()["count"] == 1


async def test_rankings_show_my_position(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    await _sell(client, db, w, unlock=False)
    for by, value in (("sales", 30000), ("earnings", 3000)):
        r = await client.get(f"/api/distribution/ranking?by={by}", headers=w.shopkeeper_headers)
        body = r.json()
        assert (body["my_rank"], body["my_value_fen"]) == (1, value)
        assert body["entries"][0] == {"rank": 1, "nickname": "店主", "value_fen": value, "me": True}
    r = await client.get("/api/distribution/ranking?by=sales", headers=w.fan_headers)
    assert r.json()["my_rank"] is None and r.json()["entries"][0]["nickname"] == "店*"  # others' names shortened
    assert (await client.get("/api/distribution/ranking?by=recruits", headers=w.fan_headers)).status_code == 422


# --- operator: policy and levels -------------------------------------------------------------------------

async def test_policy_refusals_are_clear_422s_with_the_rules_codes(client, db) -> None:  # noqa: ANN001
    _, oh = await make_user(db, "13700000009", "operator")
    _, fan_h = await make_user(db, "13900000103")
    cases = [
        ({"levels": 3}, "distribution.too_many_levels"),
        ({"level1_bp": 2500, "level2_bp": 1000}, "distribution.rate_cap_exceeded"),
        ({"platform_cap_bp": 1000}, "distribution.rate_cap_exceeded"),
        ({"freeze_days": 5}, "distribution.freeze_shorter_than_return_window"),
        ({"freeze_days": 181}, "distribution.freeze_shorter_than_return_window"),
        ({"withdraw_fee_bp": 2001}, "request.invalid"),
        ({"levels": "2"}, "request.invalid"),  # strict: no strings for numbers
        ({"return_window_days": 30}, "request.invalid"),  # the commerce policy's, not settable here
    ]
    for body, code in cases:
        r = await client.put("/api/distribution/policy", json=body, headers=oh)
        assert r.status_code == 422 and err(r) == code, (body, r.text)
        assert r.json()["error"]["message"]
    r = await client.put("/api/distribution/policy", json={"levels": 3}, headers={**oh, "accept-language": "zh-CN"})
    assert "2 级" in r.json()["error"]["message"]
    assert (await client.get("/api/distribution/policy", headers=oh)).json()["levels"] == 2  # nothing saved
    assert (await client.put("/api/distribution/policy", json={"levels": 1}, headers=fan_h)).status_code == 403

    r = await client.put("/api/distribution/policy", json={
        "levels": 1, "level1_bp": 1500, "freeze_days": 10, "withdraw_min_fen": 500, "withdraw_methods": ["wechat"]},
        headers=oh)
    assert r.status_code == 200, r.text
    got = (await client.get("/api/distribution/policy", headers=oh)).json()
    assert (got["levels"], got["level1_bp"], got["freeze_days"], got["withdraw_min_fen"], got["withdraw_methods"]) == \
        (1, 1500, 10, 500, ["wechat"])


async def test_level_criteria_may_only_be_own_sales_or_own_commission(client, db) -> None:  # noqa: ANN001
    _, oh = await make_user(db, "13700000009", "operator")
    base = {"name": "金牌", "l1_bp": 1200, "l2_bp": 400}
    r = await client.put("/api/distribution/levels/1", json={**base, "criteria": [{"type": "recruits", "threshold": 10}]},
                         headers=oh)
    assert r.status_code == 422 and err(r) == "distribution.headcount_criteria_forbidden"
    r = await client.put("/api/distribution/levels/1", json={**base, "criteria": [{"type": "team_size", "threshold": 3}]},
                         headers=oh)
    assert err(r) == "distribution.headcount_criteria_forbidden"
    r = await client.put("/api/distribution/levels/1", json={
        **base, "criteria": [{"type": "own_purchase_fen", "threshold": 9900}]}, headers=oh)
    assert r.status_code == 422 and err(r) == "distribution.paid_status_forbidden"
    r = await client.put("/api/distribution/levels/1", json={**base, "l1_bp": 2900}, headers=oh)
    assert r.status_code == 422 and err(r) == "distribution.rate_cap_exceeded"
    assert (await client.get("/api/distribution/levels", headers=oh)).json() == []
    r = await client.put("/api/distribution/levels/1", json={**base, "criteria": [
        {"type": "attributed_sales_fen", "threshold": 100000}, {"type": "commission_fen", "threshold": 5000}]},
        headers=oh)
    assert r.status_code == 200, r.text
    assert (await client.get("/api/distribution/levels", headers=oh)).json() == [{
        "rank": 1, "name": "金牌", "l1_bp": 1200, "l2_bp": 400, "min_sales_fen": 100000, "min_commission_fen": 5000}]


# --- withdrawals ------------------------------------------------------------------------------------------

async def test_withdrawal_below_the_minimum_or_beyond_the_balance_is_refused(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    await _sell(client, db, w)
    payee = {"name": "小美", "account": "wx-openid-1"}
    r = await client.post("/api/withdrawals", json={"amount_fen": 999, "method": "wechat", "payee": payee},
                          headers=w.shopkeeper_headers)
    assert r.status_code == 422 and err(r) == "withdrawal.below_minimum"
    r = await client.post("/api/withdrawals", json={"amount_fen": 3001, "method": "wechat", "payee": payee},
                          headers=w.shopkeeper_headers)
    assert r.status_code == 409 and err(r) == "withdrawal.insufficient_balance"
    r = await client.post("/api/withdrawals", json={"amount_fen": "3000", "method": "wechat", "payee": payee},
                          headers=w.shopkeeper_headers)
    assert r.status_code == 422 and err(r) == "request.invalid"
    r = await client.post("/api/withdrawals", json={"amount_fen": 3000, "method": "paypal", "payee": payee},
                          headers=w.shopkeeper_headers)
    assert r.status_code == 422
    assert await rows(db, Withdrawal) == []
    assert (await _balances(db, await _keeper(db, w)))["available"] == 3000


async def test_rejected_withdrawal_returns_the_money_to_available(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    keeper = await _keeper(db, w)
    await _sell(client, db, w)
    _, oh = await make_user(db, "13700000009", "operator")
    body = {"amount_fen": 2000, "method": "alipay", "payee": {"name": "小美", "account": "meimei@example.com"}}
    headers = {**w.shopkeeper_headers, "Idempotency-Key": "wd-1"}
    r = await client.post("/api/withdrawals", json=body, headers=headers)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    assert r.json()["payee"]["account"] == "me****.com"  # masked for the requester's lists
    again = await client.post("/api/withdrawals", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == wid  # the same key: the same withdrawal
    r = await client.post("/api/withdrawals", json={**body, "amount_fen": 1000}, headers=headers)
    assert r.status_code == 409 and err(r) == "idempotency.key_reused"
    assert len(await rows(db, Withdrawal)) == 1
    b = await _balances(db, keeper)
    assert (b["available"], b["withdrawing"]) == (1000, 2000)

    queue = (await client.get("/api/withdrawals/audit", headers=oh)).json()
    assert [x["id"] for x in queue] == [wid] and queue[0]["payee"]["account"] == "meimei@example.com"
    assert (await client.get("/api/withdrawals/audit", headers=w.shopkeeper_headers)).status_code == 403
    r = await client.post(f"/api/withdrawals/{wid}/reject", json={"reason": ""}, headers=oh)
    assert r.status_code == 422
    r = await client.post(f"/api/withdrawals/{wid}/reject", json={"reason": "收款账户与实名不符"}, headers=oh)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    b = await _balances(db, keeper)
    assert (b["available"], b["withdrawing"]) == (3000, 0)
    mine = (await client.get("/api/withdrawals", headers=w.shopkeeper_headers)).json()
    assert [(x["id"], x["status"], x["reject_reason"]) for x in mine] == [(wid, "rejected", "收款账户与实名不符")]
    r = await client.post(f"/api/withdrawals/{wid}/approve", headers=oh)
    assert r.status_code == 409 and err(r) == "state.illegal_transition"
    async with db.read() as s:
        assert await ledger.check(s) == []


async def test_approved_withdrawal_is_paid_by_the_outbox(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    keeper = await _keeper(db, w)
    await _sell(client, db, w)
    _, oh = await make_user(db, "13700000009", "operator")
    async with db.write() as s:  # a 1 % fee this time
        await distribution.put_policy(s, {"withdraw_fee_bp": 100}, None)
    r = await client.post("/api/withdrawals", json={  # Alipay, paid by the sandbox channel in tests
        "amount_fen": 3000, "method": "alipay", "payee": {"name": "小美", "account": "xiaomei@example.com"}},
        headers=w.shopkeeper_headers)
    wid = r.json()["id"]
    assert (r.json()["fee_fen"], r.json()["net_fen"]) == (30, 2970)
    r = await client.post(f"/api/withdrawals/{wid}/approve", headers=oh)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert (await client.get(f"/api/withdrawals/{wid}", headers=w.shopkeeper_headers)).json()["status"] == "approved"
    await outbox.drain(db)
    got = (await client.get(f"/api/withdrawals/{wid}", headers=w.shopkeeper_headers)).json()
    assert got["status"] == "paid" and got["paid_at"] is not None
    b = await _balances(db, keeper)
    assert (b["available"], b["withdrawing"], b["paid_out"]) == (0, 0, 2970)
    async with db.read() as s:
        assert await ledger.check(s) == []


async def test_nobody_sees_another_persons_withdrawal(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    await _sell(client, db, w)
    r = await client.post("/api/withdrawals", json={
        "amount_fen": 1000, "method": "wechat", "payee": {"name": "小美", "account": "wx-1"}},
        headers=w.shopkeeper_headers)
    wid = r.json()["id"]
    _, other_keeper_h = await make_user(db, "13700000077", "shopkeeper")
    r = await client.get(f"/api/withdrawals/{wid}", headers=other_keeper_h)
    assert r.status_code == 404 and err(r) == "withdrawal.not_found"
    assert (await client.get("/api/withdrawals", headers=other_keeper_h)).json() == []
    assert (await client.post(f"/api/withdrawals/{wid}/approve", headers=other_keeper_h)).status_code == 403
    assert (await client.post(f"/api/withdrawals/{wid}/reject", json={"reason": "x"},
                              headers=other_keeper_h)).status_code == 403
    assert (await client.get(f"/api/withdrawals/{wid}", headers=w.shopkeeper_headers)).status_code == 200


# --- pages ------------------------------------------------------------------------------------------------

def _chart(html: str) -> dict:
    m = re.search(r"data-echarts='([^']*)' data-testid=\"earnings-chart\"", html)
    assert m, "no chart div"
    return json.loads(unescape(m.group(1)))


async def test_earnings_page_shows_money_chart_commissions_fans_rankings(app, client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    await _sell(client, db, w)                      # ¥30 unlocked
    order = await _sell(client, db, w, 1, unlock=False)  # ¥5 pending
    keeper = await browser(app, db, "13700000002")
    r = await keeper.get("/console/earnings")
    assert r.status_code == 200, r.text[:2000]
    html = r.text
    assert '<script src="/static/vendor/echarts/echarts.min.js" defer></script>' in html
    chart = _chart(html)
    data = chart["series"][0]["data"]
    assert len(data) == 30 and sum(data) == 35.0
    for testid, text in (("balance-pending", "¥5.00"), ("balance-available", "¥30.00"), ("balance-debt", "¥0.00"),
                         ("earn-total", "¥35.00")):
        assert re.search(rf'data-testid="{testid}">{re.escape(text)}<', html), testid
    assert "买家确认收货" in html or "收货" in html  # the one-line explanations (Chinese by default)
    assert order["order_no"] in html
    assert html.count('data-testid="commission"') == 2
    assert 'data-testid="ranking-sales-mine"' in html and "第 1 名" in html
    assert 'data-testid="withdraw-amount"' in html and 'data-testid="withdraw-submit"' in html
    assert 'data-testid="fans-level1"' in html
    await keeper.close()


async def test_withdraw_form_parses_yuan_exactly_and_a_double_submit_is_one_withdrawal(app, client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    await _sell(client, db, w)
    keeper = await browser(app, db, "13700000002")
    page = (await keeper.get("/console/earnings")).text
    form_key = re.search(r'name="form_key" value="([^"]+)"', page).group(1)
    good = {"amount": "12.34", "method": "wechat", "payee_name": "小美", "payee_account": "wx-openid",
            "form_key": form_key}
    r = await keeper.post("/console/earnings/withdraw", {**good, "amount": "12.345"})
    assert r.status_code == 422 and 'data-testid="error-amount"' in r.text
    assert 'value="12.345"' in r.text  # what was typed stays
    r = await keeper.post("/console/earnings/withdraw", {**good, "amount": "9.99"})
    assert r.status_code == 422 and "10.00" in r.text  # below the minimum, said next to the amount
    r = await keeper.post("/console/earnings/withdraw", {**good, "payee_account": ""})
    assert r.status_code == 422 and 'data-testid="error-payee_account"' in r.text
    r = await keeper.post("/console/earnings/withdraw", {**good, "method": "paypal"})
    assert r.status_code == 422 and 'data-testid="error-method"' in r.text
    assert await rows(db, Withdrawal) == []

    r = await keeper.submit("/console/earnings/withdraw", good)
    assert "12.34" in r.text and 'data-testid="my-withdrawal"' in r.text
    r = await keeper.post("/console/earnings/withdraw", good)  # the same form sent twice
    assert r.status_code == 303
    (wd,) = await rows(db, Withdrawal)
    assert wd.amount_fen == 1234 and wd.method == "wechat" and wd.payee == {"name": "小美", "account": "wx-openid"}
    r = await keeper.post("/console/earnings/withdraw", {**good, "csrf_token": "forged"})
    assert r.status_code == 403
    await keeper.close()


async def test_non_distributor_sees_the_program_and_joins_for_free(app, db) -> None:  # noqa: ANN001
    person = await browser(app, db, "13900000201")
    r = await person.get("/console/earnings")
    assert r.status_code == 200 and 'data-testid="join-distribution"' in r.text and "免费" in r.text
    r = await person.get("/console/posters")
    assert 'data-testid="join-distribution"' in r.text
    r = await person.submit("/console/earnings/join")
    assert 'data-testid="poster-gallery"' in r.text or 'data-testid="open-shop-cta"' in r.text
    async with db.read() as s:
        assert await distribution.is_active_distributor(s, person.user_id)

    async with db.write() as s:
        await distribution.put_policy(s, {"who_may": "approval"}, None)
    applicant = await browser(app, db, "13900000202")
    r = await applicant.submit("/console/earnings/join")
    assert 'data-testid="application-pending"' in r.text
    r = await applicant.get("/console/posters")
    assert 'data-testid="application-pending"' in r.text
    await person.close()
    await applicant.close()


async def test_poster_gallery_lists_my_shop_and_shelf(app, client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    keeper_id = await _keeper(db, w)
    keeper = await browser(app, db, "13700000002")
    r = await keeper.get("/console/posters")
    html = r.text
    assert f'src="/posters/p/{w.product_id}.png"' in html and f'src="/posters/s/{w.shop_id}.png"' in html
    assert f'data-testid="poster-download-{w.product_id}"' in html
    urls = re.findall(r'value="(http[^"]+/r/[^"]+)"[^>]*data-testid="share-url" data-kind="(\w)" data-target="(\d+)"', html)
    assert {(k, int(t)) for _u, k, t in urls} == {("s", w.shop_id), ("p", w.product_id)}
    for url, kind, target in urls:
        share = tokens.verify("test-secret", url.rsplit("/", 1)[-1], clock.now(), 30)
        assert (share.sharer_id, share.kind, share.target_id) == (keeper_id, kind, int(target))
    r = await keeper.get(f"/posters/p/{w.product_id}.png")  # the thumbnails load with the cookie session
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    await keeper.close()


async def test_operator_policy_form_shows_each_refusal_next_to_its_field(app, db) -> None:  # noqa: ANN001
    op = await browser(app, db, "13700000009", "operator")
    r = await op.get("/console/distribution")
    assert r.status_code == 200 and 'data-testid="policy-form"' in r.text
    assert 'name="level1_bp" value="10"' in r.text and 'name="withdraw_min_fen" value="10.00"' in r.text
    good = {"enabled": "on", "who_may": "everyone", "binding_mode": "time_bound", "binding_scope": "all",
            "validity_days": "30", "protection_days": "7", "share_token_days": "30", "levels": "2",
            "platform_cap_bp": "30", "level1_bp": "10", "level2_bp": "3", "freeze_days": "7",
            "withdraw_min_fen": "10", "withdraw_fee_bp": "0", "withdraw_methods": ["wechat", "alipay"]}
    for change, field, text in ((({"levels": "3"}), "levels", "2 级"),
                                ({"level1_bp": "25", "level2_bp": "10"}, "level1_bp", "35%，超过平台上限 30%"),
                                ({"level1_bp": "25", "level2_bp": "10"}, "platform_cap_bp", "超过平台上限"),
                                ({"freeze_days": "5"}, "freeze_days", "不短于退货期"),
                                ({"level2_bp": "3.333"}, "level2_bp", "两位小数"),
                                ({"validity_days": "0"}, "validity_days", "1 到 3650")):
        r = await op.post("/console/distribution/policy", {**good, **change})
        assert r.status_code == 422, (change, r.text[:500])
        m = re.search(rf'data-testid="error-{field}">([^<]*)<', r.text)
        assert m and text in m.group(1), (change, m and m.group(1))
    # Several refusals at once: each is shown next to its own field, not one per submit.
    r = await op.post("/console/distribution/policy", {**good, "levels": "3", "freeze_days": "5",
                                                       "validity_days": "0", "who_may": "anyone"})
    assert r.status_code == 422
    for field in ("levels", "freeze_days", "validity_days", "who_may"):
        assert f'data-testid="error-{field}"' in r.text, field
    async with db.read() as s:
        assert (await distribution.get_policy(s)).withdraw_methods == ["wallet", "bank", "wechat", "alipay"]
    r = await op.submit("/console/distribution/policy", {**good, "level1_bp": "12.5", "withdraw_min_fen": "20"})
    assert "已保存" in r.text
    async with db.read() as s:
        pol = await distribution.get_policy(s)
    assert (pol.level1_bp, pol.withdraw_min_fen, pol.withdraw_methods) == (1250, 2000, ["wechat", "alipay"])
    await op.close()


async def test_operator_decides_distributors_and_edits_levels(app, db) -> None:  # noqa: ANN001
    async with db.write() as s:
        await distribution.put_policy(s, {"who_may": "approval"}, None)
    uid, _ = await make_user(db, "13900000301", nickname="申请人")
    async with db.write() as s:
        await distribution.join(s, uid)
    op = await browser(app, db, "13700000009", "operator")
    r = await op.get("/console/distribution")
    assert f'data-testid="approve-distributor-{uid}"' in r.text and f'data-testid="reject-distributor-{uid}"' in r.text
    r = await op.submit(f"/console/distribution/distributors/{uid}/decision", {"status": "active"})
    assert "申请人" in r.text and f'data-testid="freeze-distributor-{uid}"' in r.text
    await op.submit(f"/console/distribution/distributors/{uid}/decision", {"status": "frozen", "note": "违规宣传"})
    async with db.read() as s:
        d = await distribution.get_distributor(s, uid)
    assert (d.status, d.note) == ("frozen", "违规宣传")

    level = {"rank": "1", "name": "金牌", "l1": "12", "l2": "4", "crit_type": ["attributed_sales_fen", ""],
             "crit_threshold": ["1000", ""]}
    r = await op.post("/console/distribution/levels", {**level, "crit_type": ["recruits", ""]})
    assert r.status_code == 422 and "发展人数" in r.text
    r = await op.post("/console/distribution/levels", {**level, "crit_type": ["own_purchase_fen", ""]})
    assert r.status_code == 422 and "付费或购买" in r.text
    assert 'value="attributed_sales_fen"' in r.text and 'value="recruits"' not in r.text  # the select offers 2 types
    r = await op.submit("/console/distribution/levels", level)
    assert 'data-testid="level"' in r.text and "金牌" in r.text
    async with db.read() as s:
        (lv,) = await distribution.levels(s)
    assert (lv.l1_bp, lv.l2_bp, lv.min_sales_fen) == (1200, 400, 100000)
    await op.close()


async def test_operator_withdrawal_audit_page(app, client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(30000, 5000))
    keeper = await _keeper(db, w)
    await _sell(client, db, w)
    ids = []
    for amount in (1000, 1500):
        r = await client.post("/api/withdrawals", json={
            "amount_fen": amount, "method": "wechat", "payee": {"name": "小美", "account": "wx-openid"}},
            headers=w.shopkeeper_headers)
        ids.append(r.json()["id"])
    op = await browser(app, db, "13700000009", "operator")
    r = await op.get("/console/withdrawals")
    for wid in ids:
        assert f'data-testid="approve-withdrawal-{wid}"' in r.text and f'data-testid="reject-withdrawal-{wid}"' in r.text
    r = await op.submit(f"/console/withdrawals/{ids[0]}/reject", {"reason": " "})
    assert "理由" in r.text
    r = await op.submit(f"/console/withdrawals/{ids[0]}/reject", {"reason": "账户有误"})
    assert f'data-testid="approve-withdrawal-{ids[0]}"' not in r.text
    r = await op.submit(f"/console/withdrawals/{ids[1]}/approve", {"back": "requested"})
    assert f'data-testid="approve-withdrawal-{ids[1]}"' not in r.text
    r = await op.get("/console/withdrawals?status=approved")
    assert f'data-withdrawal-id="{ids[1]}"' in r.text and 'data-testid="paying-note"' in r.text
    await outbox.drain(db)
    r = await op.get("/console/withdrawals?status=paid")
    assert f'data-withdrawal-id="{ids[1]}"' in r.text
    b = await _balances(db, keeper)
    assert (b["available"], b["paid_out"]) == (1500, 1500)
    assert (await op.post("/console/withdrawals/999999/approve", {})).status_code == 404
    shopkeeper = await browser(app, db, "13700000002")
    assert (await shopkeeper.get("/console/withdrawals")).status_code == 403
    assert (await shopkeeper.get("/console/distribution")).status_code == 403
    await op.close()
    await shopkeeper.close()
