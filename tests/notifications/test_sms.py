"""SMS through the official Aliyun and Tencent Cloud SDKs, against local doubles that check the request
signature as the real endpoints do and answer in their shape: login codes go out at once (also during quiet
hours) and log the person in; a notification's text retries with backoff after a transient refusal and is
not retried after a permanent one."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from quanzi.app import create_app
from quanzi.kit.clock import clock
from quanzi.notifications import service
from tests.conftest import make_settings, make_user
from tests.notifications._support import Seen, deliveries, http_double, messages, settle

CHINA = ZoneInfo("Asia/Shanghai")
AK_ID, AK_SECRET = "LTAI-test-id", "aliyun-test-secret"
TC_ID, TC_KEY, TC_APP = "AKID-test", "tencent-test-key", "1400123456"
TEMPLATES = {"login_code": "SMS_LOGIN_1", "order_shipped": "SMS_SHIP_2"}


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()


def aliyun_signature_ok(req: Seen) -> bool:
    """ACS3-HMAC-SHA256, as Alibaba Cloud's gateway checks it."""
    auth = req.headers.get("authorization", "")
    if not auth.startswith("ACS3-HMAC-SHA256 "):
        return False
    fields = dict(p.split("=", 1) for p in auth[len("ACS3-HMAC-SHA256 "):].split(","))
    if fields.get("Credential") != AK_ID:
        return False
    signed = fields["SignedHeaders"].split(";")

    def enc(v: str) -> str:
        return quote(v, safe="~")

    query = "&".join(f"{enc(k)}={enc(v[0])}" for k, v in sorted(req.query.items()))
    headers = "".join(f"{h}:{req.headers.get(h, '').strip()}\n" for h in signed)
    canonical = "\n".join([req.method, req.path, query, headers, ";".join(signed),
                           req.headers.get("x-acs-content-sha256", _sha(req.body))])
    expected = hmac.new(AK_SECRET.encode(), f"ACS3-HMAC-SHA256\n{_sha(canonical)}".encode(), hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields["Signature"])


def tencent_signature_ok(req: Seen) -> bool:
    """TC3-HMAC-SHA256, as Tencent Cloud API 3.0 checks it."""
    auth = req.headers.get("authorization", "")
    try:
        algo, rest = auth.split(" ", 1)
        fields = dict(p.strip().split("=", 1) for p in rest.split(","))
        key_id, date, svc, _term = fields["Credential"].split("/")
    except ValueError:
        return False
    if algo != "TC3-HMAC-SHA256" or key_id != TC_ID or svc != "sms":
        return False
    signed = fields["SignedHeaders"].split(";")
    headers = "".join(f"{h}:{req.headers.get(h, '').strip().lower()}\n" for h in signed)
    canonical = "\n".join(["POST", "/", "", headers, ";".join(signed), _sha(req.body)])
    to_sign = f"TC3-HMAC-SHA256\n{req.headers['x-tc-timestamp']}\n{date}/sms/tc3_request\n{_sha(canonical)}"

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = h(h(h(("TC3" + TC_KEY).encode(), date), "sms"), "tc3_request")
    return hmac.compare_digest(hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest(), fields["Signature"])


class AliyunDouble:
    """dysmsapi SendSms: answers the next scripted Code (OK by default)."""

    def __init__(self, *codes: str) -> None:
        self.codes = list(codes)

    def __call__(self, req: Seen) -> tuple[int, dict[str, Any]]:
        if req.headers.get("x-acs-action") != "SendSms" or not aliyun_signature_ok(req):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched",
                         "RequestId": "R0"}
        code = self.codes.pop(0) if self.codes else "OK"
        if code != "OK":
            return 200, {"Code": code, "Message": "refused", "RequestId": "R1"}
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"9006197469364984{len(self.codes)}^0", "RequestId": "R2"}


class TencentDouble:
    def __init__(self, *codes: str) -> None:
        self.codes = list(codes)

    def __call__(self, req: Seen) -> tuple[int, dict[str, Any]]:
        if req.headers.get("x-tc-action") != "SendSms" or not tencent_signature_ok(req):
            return 200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad signature"},
                                      "RequestId": "r0"}}
        body = req.json()
        code = self.codes.pop(0) if self.codes else "Ok"
        return 200, {"Response": {"SendStatusSet": [
            {"SerialNo": "5000:104571066915705365784949", "PhoneNumber": body["PhoneNumberSet"][0], "Fee": 1,
             "SessionContext": "", "Code": code, "Message": "send success" if code == "Ok" else "refused",
             "IsoCode": "CN"}], "RequestId": "r1"}}


def aliyun_settings(db_url: str, host: str) -> Any:
    return make_settings(db_url, sms_provider="aliyun", sms_aliyun_endpoint=host, sms_aliyun_protocol="http",
                         sms_aliyun_access_key_id=AK_ID, sms_aliyun_access_key_secret=AK_SECRET,
                         sms_templates=TEMPLATES)


def tencent_settings(db_url: str, host: str) -> Any:
    return make_settings(db_url, sms_provider="tencent", sms_tencent_endpoint=host, sms_tencent_scheme="http",
                         sms_tencent_secret_id=TC_ID, sms_tencent_secret_key=TC_KEY, sms_tencent_app_id=TC_APP,
                         sms_templates=TEMPLATES)


async def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 1)), base_url="http://t")


async def _ship_notice(db: Any, user_id: int) -> None:
    async with db.write() as s:
        await service.notify(s, event_key="test:ship:1", user_id=user_id, kind="order_shipped",
                             params={"order_no": "QZ1", "carrier": "顺丰", "tracking_no": "SF1",
                                     "tracking_url": "https://t/SF1"}, link="/orders/1")


async def test_aliyun_login_code_sent_at_once_in_quiet_hours_and_it_logs_in(db_url: str, db) -> None:  # noqa: ANN001
    clock.set(datetime(2026, 6, 15, 23, 30, tzinfo=CHINA))  # inside the default quiet hours
    with http_double(AliyunDouble()) as (host, seen):
        app = create_app(aliyun_settings(db_url, host), db, start_worker=False)
        async with await _client(app) as c:
            r = await c.post("/api/auth/code", json={"phone": "13900000001"})
            assert r.status_code == 202, r.text
            (req,) = seen
            assert req.query["PhoneNumbers"] == ["13900000001"] and req.query["TemplateCode"] == ["SMS_LOGIN_1"]
            assert req.query["SignName"] == ["圈子"]
            params = json.loads(req.query["TemplateParam"][0])
            assert params["minutes"] == "10" and len(params["code"]) == 6
            r = await c.post("/api/auth/login/code", json={"phone": "13900000001", "code": params["code"]})
            assert r.status_code == 200, r.text
    assert await messages(db) == []  # a login code is never kept in the message centre


async def test_aliyun_refusal_of_a_login_code_is_a_plain_503(db_url: str, db) -> None:  # noqa: ANN001
    with http_double(AliyunDouble("isv.BUSINESS_LIMIT_CONTROL")) as (host, _seen):
        app = create_app(aliyun_settings(db_url, host), db, start_worker=False)
        async with await _client(app) as c:
            r = await c.post("/api/auth/code", json={"phone": "13900000001"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "notifications.sms_unavailable"


async def test_aliyun_notice_retries_with_backoff_until_sent(db_url: str, db) -> None:  # noqa: ANN001
    clock.set(datetime(2026, 6, 15, 10, 0, tzinfo=CHINA))
    with http_double(AliyunDouble("isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR")) as (host, seen):
        create_app(aliyun_settings(db_url, host), db, start_worker=False)
        uid, _ = await make_user(db, "13900000002")
        await _ship_notice(db, uid)
        from quanzi.kit import outbox

        await outbox.drain(db)
        (d,) = await deliveries(db, "sms")
        assert (d.status, d.attempts) == ("pending", 1) and "BUSINESS_LIMIT_CONTROL" in (d.last_error or "")
        assert await outbox.drain(db) == 0  # not before the backoff
        await settle(db)
        (d,) = await deliveries(db, "sms")
        assert (d.status, d.attempts) == ("sent", 3) and d.provider_ref and d.provider_ref.endswith("^0")
        assert len(seen) == 3
        assert json.loads(seen[-1].query["TemplateParam"][0]) == {  # the template's own variables only
            "order_no": "QZ1", "carrier": "顺丰", "tracking_no": "SF1"}
        assert seen[-1].query["TemplateCode"] == ["SMS_SHIP_2"]


async def test_tencent_login_code_and_notice(db_url: str, db) -> None:  # noqa: ANN001
    clock.set(datetime(2026, 6, 15, 10, 0, tzinfo=CHINA))
    with http_double(TencentDouble()) as (host, seen):
        app = create_app(tencent_settings(db_url, host), db, start_worker=False)
        async with await _client(app) as c:
            r = await c.post("/api/auth/code", json={"phone": "13900000003"})
            assert r.status_code == 202, r.text
            body = seen[0].json()
            assert body["PhoneNumberSet"] == ["+8613900000003"] and body["SmsSdkAppId"] == TC_APP
            assert body["TemplateId"] == "SMS_LOGIN_1" and body["TemplateParamSet"][1] == "10"
            r = await c.post("/api/auth/login/code", json={"phone": "13900000003", "code": body["TemplateParamSet"][0]})
            assert r.status_code == 200, r.text
        uid, _ = await make_user(db, "13900000003")  # the person the code just logged in
        await _ship_notice(db, uid)
        await settle(db)
        (d,) = await deliveries(db, "sms")
        assert d.status == "sent" and d.provider_ref == "5000:104571066915705365784949"
        assert seen[-1].json()["TemplateParamSet"] == ["QZ1", "顺丰", "SF1"]  # the kind's parameter order


async def test_tencent_permanent_refusal_is_not_retried(db_url: str, db) -> None:  # noqa: ANN001
    clock.set(datetime(2026, 6, 15, 10, 0, tzinfo=CHINA))
    with http_double(TencentDouble("FailedOperation.TemplateIncorrectOrUnapproved")) as (host, seen):
        create_app(tencent_settings(db_url, host), db, start_worker=False)
        uid, _ = await make_user(db, "13900000004")
        await _ship_notice(db, uid)
        await settle(db)
        (d,) = await deliveries(db, "sms")
        assert d.status == "failed" and "TemplateIncorrectOrUnapproved" in (d.last_error or "")
        assert len(seen) == 1


async def test_a_forged_signature_is_refused_by_the_doubles(db_url: str) -> None:
    """The doubles really check signatures: the same SDK with a wrong secret is refused (and retried later)."""
    from quanzi.notifications import channels

    with http_double(AliyunDouble()) as (host, _seen):
        s = aliyun_settings(db_url, host).model_copy(update={"sms_aliyun_access_key_secret": "wrong"})
        try:
            await channels.make_sms(s).send(channels.SmsMessage("+8613900000001", "login_code", {"code": "1"}, "x"))
        except channels.ChannelError as exc:
            assert "SignatureDoesNotMatch" in str(exc)
        else:
            raise AssertionError("a wrong secret was accepted")
    with http_double(TencentDouble()) as (host, _seen):
        s = tencent_settings(db_url, host).model_copy(update={"sms_tencent_secret_key": "wrong"})
        try:
            await channels.make_sms(s).send(channels.SmsMessage("+8613900000001", "login_code", {"code": "1"}, "x"))
        except channels.ChannelError as exc:
            assert "SignatureFailure" in str(exc)
        else:
            raise AssertionError("a wrong secret was accepted")


async def test_a_send_that_keeps_failing_is_given_up_as_failed(db_url: str, db) -> None:  # noqa: ANN001
    clock.set(datetime(2026, 6, 15, 10, 0, tzinfo=CHINA))
    with http_double(AliyunDouble(*["isp.SYSTEM_ERROR"] * 10)) as (host, seen):
        create_app(aliyun_settings(db_url, host).model_copy(update={"outbox_max_attempts": 3}), db,
                   start_worker=False)
        uid, _ = await make_user(db, "13900000005")
        await _ship_notice(db, uid)
        await settle(db, rounds=10)
        (d,) = await deliveries(db, "sms")
        assert (d.status, d.attempts) == ("failed", 3) and "SYSTEM_ERROR" in (d.last_error or "")
        assert len(seen) == 3
