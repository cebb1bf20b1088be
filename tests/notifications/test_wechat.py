"""WeChat subscription messages (订阅消息) against a local double of api.weixin.qq.com: a stable access token,
`message/subscribe/send` with the template's keywords, a revoked token renewed once, a refusal by the person
not retried, and no send for someone without an openid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from quanzi.app import create_app
from quanzi.kit.clock import clock
from quanzi.notifications import service
from tests.conftest import make_settings, make_user
from tests.notifications._support import Seen, deliveries, http_double, settle

CHINA = ZoneInfo("Asia/Shanghai")
APP_ID, SECRET = "wx1234567890abcdef", "wechat-test-secret"
TEMPLATES = {"order_shipped": {"id": "TPL-SHIP-1", "data": {
    "character_string1": "order_no", "thing2": "carrier", "character_string3": "tracking_no"}}}


class WechatDouble:
    """Answers like WeChat: tokens for the right appid/secret only; sends need a current token."""

    def __init__(self, *send_codes: int) -> None:
        self.send_codes = list(send_codes)
        self.tokens: list[str] = []

    def __call__(self, req: Seen) -> tuple[int, dict[str, Any]]:
        if req.path == "/cgi-bin/stable_token":
            body = req.json()
            if (body.get("appid"), body.get("secret"), body.get("grant_type")) != (APP_ID, SECRET, "client_credential"):
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            self.tokens.append(f"TOKEN-{len(self.tokens) + 1}")
            return 200, {"access_token": self.tokens[-1], "expires_in": 7200}
        if req.path == "/cgi-bin/message/subscribe/send":
            token = req.query.get("access_token", [""])[0]
            if not self.tokens or token != self.tokens[-1]:
                return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            code = self.send_codes.pop(0) if self.send_codes else 0
            if code:
                return 200, {"errcode": code, "errmsg": "refused"}
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 294402298110051942}
        return 404, {"errcode": -1, "errmsg": "not found"}


@pytest.fixture
def openids() -> Iterator[dict[int, str]]:
    """Stands in for the WeChat account binding (another domain registers the real lookup)."""
    known: dict[int, str] = {}

    async def lookup(_s: Any, user_id: int) -> str | None:
        return known.get(user_id)

    service.set_openid_lookup(lookup)
    yield known
    service.set_openid_lookup(None)


def wechat_settings(db_url: str, host: str) -> Any:
    return make_settings(db_url, wechat_subscribe_app_id=APP_ID, wechat_subscribe_app_secret=SECRET,
                         wechat_api_base=f"http://{host}", wechat_subscribe_templates=TEMPLATES)


async def _ship_notice(db: Any, user_id: int, key: str = "1") -> None:
    async with db.write() as s:
        await service.notify(s, event_key=f"test:ship:{key}", user_id=user_id, kind="order_shipped",
                             params={"order_no": f"QZ2612150000{key}", "carrier": "顺丰速运",
                                     "tracking_no": "SF1234567890", "tracking_url": "https://t/x"},
                             link=f"/orders/{key}")


@pytest.fixture(autouse=True)
def _daytime() -> None:
    clock.set(datetime(2026, 6, 15, 10, 0, tzinfo=CHINA))


async def test_subscription_message_sent_with_a_reused_token(db_url: str, db, openids) -> None:  # noqa: ANN001
    double = WechatDouble()
    with http_double(double) as (host, seen):
        create_app(wechat_settings(db_url, host), db, start_worker=False)
        uid, _ = await make_user(db, "13900000011")
        openids[uid] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
        await _ship_notice(db, uid, "1")
        await _ship_notice(db, uid, "2")
        await settle(db)
    sends = [r for r in seen if r.path.endswith("/send")]
    assert len(double.tokens) == 1 and len(sends) == 2  # one token for both
    body = sends[0].json()
    assert body["touser"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" and body["template_id"] == "TPL-SHIP-1"
    assert body["data"] == {"character_string1": {"value": "QZ26121500001"}, "thing2": {"value": "顺丰速运"},
                            "character_string3": {"value": "SF1234567890"}}
    assert body["page"] == "orders/1" and body["lang"] == "zh_CN" and body["miniprogram_state"] == "formal"
    assert [d.status for d in await deliveries(db, "wechat")] == ["sent", "sent"]
    assert (await deliveries(db, "wechat"))[0].provider_ref == "294402298110051942"


async def test_revoked_token_is_renewed_once(db_url: str, db, openids) -> None:  # noqa: ANN001
    double = WechatDouble(40001)
    with http_double(double) as (host, seen):
        create_app(wechat_settings(db_url, host), db, start_worker=False)
        uid, _ = await make_user(db, "13900000012")
        openids[uid] = "o-second"
        await _ship_notice(db, uid)
        await settle(db)
    token_calls = [r.json() for r in seen if r.path == "/cgi-bin/stable_token"]
    assert [c["force_refresh"] for c in token_calls] == [False, True]
    assert [d.status for d in await deliveries(db, "wechat")] == ["sent"]


async def test_refused_by_the_person_is_not_retried_and_no_openid_is_skipped(db_url: str, db, openids) -> None:  # noqa: ANN001
    double = WechatDouble(43101)
    with http_double(double) as (host, seen):
        create_app(wechat_settings(db_url, host), db, start_worker=False)
        refused, _ = await make_user(db, "13900000013")
        unbound, _ = await make_user(db, "13900000014")
        openids[refused] = "o-refuses"
        await _ship_notice(db, refused, "1")
        await _ship_notice(db, unbound, "2")
        await settle(db)
    by_user = {d.user_id: d for d in await deliveries(db, "wechat")}
    assert by_user[refused].status == "failed" and "43101" in (by_user[refused].last_error or "")
    assert by_user[unbound].status == "skipped"
    assert len([r for r in seen if r.path.endswith("/send")]) == 1


async def test_no_wechat_delivery_without_configuration(app, db, openids) -> None:  # noqa: ANN001
    uid, _ = await make_user(db, "13900000015")
    openids[uid] = "o-x"
    await _ship_notice(db, uid)
    assert [d.channel for d in await deliveries(db)] == ["sms"]
