"""Outside channels behind one interface: SMS (console, Aliyun, Tencent Cloud) and WeChat subscription messages.

`configure(settings)` (called by the app and the worker at start) checks a production configuration, builds
the SMS gateway and the WeChat client for this process, and returns the login-code sender that accounts uses
(accounts only knows its small `SmsProvider` protocol; it never imports this domain).

A gateway raises `PermanentFailure` for a refusal that retrying cannot fix (no template, a bad number, the
person refused WeChat messages); any other exception is transient and the outbox retries with backoff.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog

from quanzi.accounts.sms import LogSmsProvider
from quanzi.config import Settings
from quanzi.kit import i18n
from quanzi.notifications import catalog
from quanzi.notifications.errors import ProductionConfigError, SmsUnavailable

log = structlog.get_logger("quanzi.notifications")

DEV_SMS = ("log", "console")


class PermanentFailure(Exception):
    """The channel refused this message for good: the delivery is marked failed, not retried."""


class ChannelError(Exception):
    """A transient failure of an outside channel (the outbox retries)."""


@dataclass(frozen=True)
class SmsMessage:
    phone: str  # E.164
    kind: str
    params: dict[str, str]  # the template's parameters, in this person's language
    text: str  # the whole text as we would write it (logged by the console provider)


class SmsGateway(Protocol):
    name: str

    async def send(self, msg: SmsMessage) -> str:
        """Send one text; returns the provider's reference (BizId, SerialNo…)."""
        ...


class ConsoleSms:
    """Development: the text goes to the log as `sms.<kind>` (e.g. `sms.login_code` with phone and code)."""

    name = "console"

    def __init__(self) -> None:
        self.sent: list[SmsMessage] = []

    async def send(self, msg: SmsMessage) -> str:
        self.sent.append(msg)
        del self.sent[:-1000]
        log.info(f"sms.{msg.kind}", phone=msg.phone, text=msg.text, **msg.params)
        return f"console-{len(self.sent)}"


def _template(templates: dict[str, str], kind: str, provider: str) -> str:
    code = templates.get(kind)
    if not code:
        raise PermanentFailure(f"no {provider} SMS template for {kind!r} in QUANZI_SMS_TEMPLATES")
    return code


def _template_params(msg: SmsMessage) -> dict[str, str]:
    """Only the parameters the kind's SMS template uses (never a link: providers refuse URLs in variables)."""
    return {p: msg.params.get(p, "") for p in catalog.KINDS[msg.kind].sms_params}


class AliyunSms:
    """Aliyun SMS (短信服务, dysmsapi 2017-05-25) through its official SDK."""

    name = "aliyun"
    # Codes that say the request itself is wrong: sending it again cannot succeed.
    PERMANENT = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS", "isv.SMS_TEMPLATE_ILLEGAL",
                 "isv.SMS_SIGNATURE_ILLEGAL", "isv.INVALID_PARAMETERS", "isv.PARAM_LENGTH_LIMIT",
                 "isv.BLACK_KEY_CONTROL_LIMIT", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.DENY_IP_RANGE"}

    def __init__(self, settings: Settings) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        self.client = Client(Config(access_key_id=settings.sms_aliyun_access_key_id,
                                    access_key_secret=settings.sms_aliyun_access_key_secret,
                                    endpoint=settings.sms_aliyun_endpoint, protocol=settings.sms_aliyun_protocol))
        self.sign_name = settings.sms_sign_name
        self.templates = settings.sms_templates

    async def send(self, msg: SmsMessage) -> str:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from darabonba.runtime import RuntimeOptions

        # Mainland numbers without +86; others as international digits.
        phone = msg.phone[3:] if msg.phone.startswith("+86") else msg.phone.lstrip("+")
        req = SendSmsRequest(phone_numbers=phone, sign_name=self.sign_name,
                             template_code=_template(self.templates, msg.kind, "Aliyun"),
                             template_param=json.dumps(_template_params(msg), ensure_ascii=False))
        runtime = RuntimeOptions(connect_timeout=5000, read_timeout=10000, autoretry=False)
        try:
            resp = await asyncio.to_thread(self.client.send_sms_with_options, req, runtime)
        except Exception as exc:  # the SDK's HTTP, throttling and network errors: try again later
            what = f"{getattr(exc, 'code', '') or type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
            raise ChannelError(f"aliyun {what}"[:400]) from exc
        body = resp.body
        if body.code != "OK":
            cls = PermanentFailure if body.code in self.PERMANENT else ChannelError
            raise cls(f"aliyun {body.code}: {body.message}")
        return str(body.biz_id)


class TencentSms:
    """Tencent Cloud SMS (短信, API 2021-01-11) through its official SDK."""

    name = "tencent"
    PERMANENT = {"FailedOperation.TemplateIncorrectOrUnapproved", "FailedOperation.SignatureIncorrectOrUnapproved",
                 "InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberInBlacklist",
                 "InvalidParameterValue.TemplateParameterFormatError", "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
                 "FailedOperation.MissingSignature", "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"}

    def __init__(self, settings: Settings) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111.sms_client import SmsClient

        http = HttpProfile(endpoint=settings.sms_tencent_endpoint, reqTimeout=10)
        http.scheme = settings.sms_tencent_scheme
        cred = credential.Credential(settings.sms_tencent_secret_id, settings.sms_tencent_secret_key)
        self.client = SmsClient(cred, settings.sms_tencent_region, ClientProfile(httpProfile=http))
        self.app_id = settings.sms_tencent_app_id
        self.sign_name = settings.sms_sign_name
        self.templates = settings.sms_templates

    async def send(self, msg: SmsMessage) -> str:
        from tencentcloud.sms.v20210111 import models

        req = models.SendSmsRequest()
        req.SmsSdkAppId = self.app_id
        req.SignName = self.sign_name
        req.TemplateId = _template(self.templates, msg.kind, "Tencent Cloud")
        req.PhoneNumberSet = [msg.phone]
        req.TemplateParamSet = [msg.params.get(p, "") for p in catalog.KINDS[msg.kind].sms_params]
        try:
            resp = await asyncio.to_thread(self.client.SendSms, req)
        except Exception as exc:  # TencentCloudSDKException: auth, network, rate limits — try again later
            code = getattr(exc, "code", None) or getattr(exc, "get_code", lambda: None)()
            cls = PermanentFailure if code in self.PERMANENT else ChannelError
            raise cls(f"tencent: {exc!r}"[:400]) from exc
        status = (resp.SendStatusSet or [None])[0]
        if status is None:
            raise ChannelError("tencent: no send status in the answer")
        if status.Code != "Ok":
            cls = PermanentFailure if status.Code in self.PERMANENT else ChannelError
            raise cls(f"tencent {status.Code}: {status.Message}")
        return str(status.SerialNo)


def make_sms(settings: Settings) -> SmsGateway:
    name = settings.sms_provider
    if name in DEV_SMS:
        return ConsoleSms()
    if name == "aliyun":
        return AliyunSms(settings)
    if name == "tencent":
        return TencentSms(settings)
    raise ValueError(f"unknown SMS provider {name!r} (QUANZI_SMS_PROVIDER: console, aliyun or tencent)")


# WeChat keyword types and the most characters each takes (subscribe message rules).
_WECHAT_LIMITS = {"thing": 20, "phrase": 5, "character_string": 32, "name": 10, "number": 32, "letter": 32,
                  "amount": 20, "time": 20, "date": 20, "phone_number": 17, "car_number": 8, "symbol": 5}


def _wechat_value(key: str, value: str) -> str:
    limit = next((n for prefix, n in _WECHAT_LIMITS.items() if key.startswith(prefix)), 20)
    return value if len(value) <= limit else value[: limit - 1] + "…"


class WechatSubscribe:
    """WeChat mini-program subscription messages: `cgi-bin/message/subscribe/send` with an access token from
    `cgi-bin/stable_token` (a stable token stays valid when another process asks for one, unlike
    `cgi-bin/token`, so several workers do not invalidate each other's token)."""

    # The person refused or never subscribed, the openid is wrong, the template is unknown or its data bad.
    PERMANENT = {43101, 40003, 40037, 47003, 41030}
    TOKEN_EXPIRED = {40001, 40014, 42001}

    def __init__(self, settings: Settings) -> None:
        self.app_id = settings.wechat_subscribe_app_id
        self.secret = settings.wechat_subscribe_app_secret
        self.base = settings.wechat_api_base.rstrip("/")
        self.templates = settings.wechat_subscribe_templates
        self.state = settings.wechat_miniprogram_state
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=10)

    async def access_token(self, *, force: bool = False) -> str:
        async with self._lock:
            if not force and self._token and self._token[1] > time.monotonic():
                return self._token[0]
            async with self._client() as c:
                r = await c.post(f"{self.base}/cgi-bin/stable_token", json={
                    "grant_type": "client_credential", "appid": self.app_id, "secret": self.secret,
                    "force_refresh": force})
            body = r.json()
            if "access_token" not in body:
                raise ChannelError(f"wechat token {body.get('errcode')}: {body.get('errmsg')}")
            # Renew five minutes before WeChat's expiry.
            self._token = (str(body["access_token"]), time.monotonic() + int(body.get("expires_in", 7200)) - 300)
            return self._token[0]

    def payload(self, openid: str, kind: str, params: dict[str, str], link: str | None, lang: str) -> dict[str, Any]:
        tpl = self.templates.get(kind)
        if not tpl or not tpl.get("id"):
            raise PermanentFailure(f"no WeChat subscription template for {kind!r}")
        fields: dict[str, str] = dict(tpl.get("data") or {})  # type: ignore[call-overload]
        data = {key: {"value": _wechat_value(key, params.get(src, ""))} for key, src in fields.items()}
        body: dict[str, Any] = {"touser": openid, "template_id": tpl["id"], "data": data,
                                "miniprogram_state": self.state, "lang": "en_US" if lang == "en" else "zh_CN"}
        if link:
            body["page"] = link.lstrip("/")
        return body

    async def send(self, openid: str, kind: str, params: dict[str, str], link: str | None, lang: str) -> str:
        body = self.payload(openid, kind, params, link, lang)
        for attempt in range(2):
            token = await self.access_token(force=attempt > 0)
            async with self._client() as c:
                r = await c.post(f"{self.base}/cgi-bin/message/subscribe/send", params={"access_token": token},
                                 json=body)
            answer = r.json()
            code = int(answer.get("errcode", 0))
            if code == 0:
                return str(answer.get("msgid", ""))
            if code in self.TOKEN_EXPIRED and attempt == 0:
                continue  # the token was revoked early: fetch a new one and send once more
            cls = PermanentFailure if code in self.PERMANENT else ChannelError
            raise cls(f"wechat {code}: {answer.get('errmsg')}")
        raise ChannelError("wechat: token refused twice")


class SmsLoginSender:
    """accounts' `SmsProvider`: login codes go through the SMS channel at once (never held by quiet hours,
    never kept in the message centre)."""

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    async def send_login_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        params = {"code": code, "minutes": str(ttl_minutes)}
        _title, text = catalog.render("login_code", catalog.lang_of(i18n.get_locale()), params)
        try:
            await self.gateway.send(SmsMessage(phone, "login_code", params, text))
        except Exception as exc:  # noqa: BLE001 - the code is issued; the person may ask again shortly
            log.error("sms.login_code_failed", provider=self.gateway.name, error=repr(exc)[:300])
            raise SmsUnavailable() from exc


class ConsoleLoginSender(SmsLoginSender, LogSmsProvider):
    """Development: also keeps the last codes, which the login page shows with demo hints and tests read."""

    def __init__(self, gateway: SmsGateway) -> None:
        SmsLoginSender.__init__(self, gateway)
        LogSmsProvider.__init__(self)

    async def send_login_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        self.sent.append((phone, code))
        del self.sent[:-1000]
        await SmsLoginSender.send_login_code(self, phone, code, ttl_minutes)


def check_production(settings: Settings) -> None:
    """A production process must not run on development stand-ins: refuse to start, saying what to set."""
    if settings.environment != "production":
        return
    problems = []
    if settings.sms_provider in DEV_SMS:
        problems.append(f"QUANZI_SMS_PROVIDER={settings.sms_provider!r} only writes texts to the log, so nobody "
                        "would receive a login code; set it to 'aliyun' or 'tencent' with its keys")
    elif settings.sms_provider == "aliyun" and not (settings.sms_aliyun_access_key_id
                                                     and settings.sms_aliyun_access_key_secret):
        problems.append("QUANZI_SMS_ALIYUN_ACCESS_KEY_ID and QUANZI_SMS_ALIYUN_ACCESS_KEY_SECRET are required "
                        "for the Aliyun SMS provider")
    elif settings.sms_provider == "tencent" and not (settings.sms_tencent_secret_id
                                                      and settings.sms_tencent_secret_key
                                                      and settings.sms_tencent_app_id):
        problems.append("QUANZI_SMS_TENCENT_SECRET_ID, QUANZI_SMS_TENCENT_SECRET_KEY and QUANZI_SMS_TENCENT_APP_ID "
                        "are required for the Tencent Cloud SMS provider")
    elif settings.sms_provider not in ("aliyun", "tencent"):
        problems.append(f"QUANZI_SMS_PROVIDER={settings.sms_provider!r} is not a known provider")
    if settings.sms_provider not in DEV_SMS and not settings.sms_templates.get("login_code"):
        problems.append("QUANZI_SMS_TEMPLATES has no 'login_code' template, so no login code could be sent")
    if problems:
        raise ProductionConfigError("Refusing to start with QUANZI_ENVIRONMENT=production: " + "; ".join(problems))


_sms: SmsGateway = ConsoleSms()
_wechat: WechatSubscribe | None = None
_tracking = Settings.model_fields["tracking_url_template"].default
_max_attempts = Settings.model_fields["outbox_max_attempts"].default


def configure(settings: Settings) -> SmsLoginSender:
    """Check and set up this process's channels; returns the login-code sender for accounts."""
    global _sms, _wechat, _tracking, _max_attempts
    from quanzi.notifications import service
    check_production(settings)
    _tracking = settings.tracking_url_template
    _max_attempts = settings.outbox_max_attempts
    _sms = make_sms(settings)
    _wechat = WechatSubscribe(settings) if settings.wechat_subscribe_app_id else None
    if _wechat is not None and not service.has_openid_lookup():
        # The openid a subscription message goes to is the one the person bound in that WeChat app (unless
        # the process registered another source first, as the tests' stand-in does).
        from quanzi.wechat import service as wechat_accounts

        app_id = settings.wechat_subscribe_app_id

        async def lookup(s: Any, user_id: int) -> str | None:
            return await wechat_accounts.openid_for(s, user_id, app_id)

        service.set_openid_lookup(lookup)
    return ConsoleLoginSender(_sms) if isinstance(_sms, ConsoleSms) else SmsLoginSender(_sms)


def sms() -> SmsGateway:
    return _sms


def wechat() -> WechatSubscribe | None:
    return _wechat


def tracking_url(carrier: str, tracking_no: str) -> str:
    """The parcel's tracking page (QUANZI_TRACKING_URL_TEMPLATE)."""
    from urllib.parse import quote

    return _tracking.format(carrier=quote(carrier), tracking_no=quote(tracking_no))


def max_attempts() -> int:
    """Attempts of one send before it is given up as failed (the outbox's own limit)."""
    return _max_attempts
