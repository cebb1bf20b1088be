"""Payment provider adapters: signature, freshness, decryption and mapping, with locally generated keys.

No network: every key is generated here (or stored in tests/payments/fixtures/), every notification is
built here the way WeChat Pay v3 / Alipay build theirs. The stored fixtures pin the wire format; to
regenerate them (new keys, same fixed inputs) run `.venv/bin/python -m tests.payments.test_providers`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quanzi.payments.providers import (
    AlipayConfig,
    AlipayProvider,
    BadSignature,
    MalformedNotification,
    ProviderConfig,
    ProviderError,
    SandboxProvider,
    StaleNotification,
    WechatPayConfig,
    WechatPayProvider,
    WrongMerchant,
    make_provider,
)
from quanzi.payments.providers._common import CHINA_TZ, fen_to_yuan, yuan_to_fen

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2025, 3, 1, 4, 0, 0, tzinfo=UTC)  # 12:00 in Shanghai
MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"


# ---------------------------------------------------------------------------------------------- keys


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_sha256(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


@pytest.fixture(scope="module")
def platform_key() -> rsa.RSAPrivateKey:
    """Plays WeChat Pay's platform key."""
    return new_key()


@pytest.fixture(scope="module")
def merchant_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def apiv3_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def wx_config(public_key: str, apiv3: str, merchant: rsa.RSAPrivateKey, **over: Any) -> WechatPayConfig:
    values: dict[str, Any] = {
        "mchid": MCHID,
        "appid": APPID,
        "apiv3_key": apiv3,
        "private_key": private_pem(merchant),
        "cert_serial_no": "444F4864EA9B34415",
        "public_key": public_key,
        "public_key_id": PUBLIC_KEY_ID,
        "notify_url": "https://shop.example/api/payments/notify/wechatpay",
    }
    values.update(over)
    return WechatPayConfig(**values)


@pytest.fixture(scope="module")
def wechat(
    platform_key: rsa.RSAPrivateKey, merchant_key: rsa.RSAPrivateKey, apiv3_key: str
) -> WechatPayProvider:
    return WechatPayProvider(wx_config(public_pem(platform_key), apiv3_key, merchant_key))


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verification must never reach for the network (e.g. to download platform certificates)."""
    import requests

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network call attempted: {args[:3]}")

    monkeypatch.setattr(requests.Session, "request", refuse)


# ------------------------------------------------------------------------- WeChat Pay notifications


def wx_transaction(
    out_trade_no: str = "Q20250301000001",
    amount: int = 12345,
    *,
    mchid: str = MCHID,
    trade_state: str = "SUCCESS",
) -> dict[str, Any]:
    return {
        "appid": APPID,
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000985202503011234567890",
        "trade_type": "JSAPI",
        "trade_state": trade_state,
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "attach": "",
        "success_time": "2025-03-01T11:59:30+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": amount, "payer_total": amount, "currency": "CNY", "payer_currency": "CNY"},
    }


def wx_notification(
    platform: rsa.RSAPrivateKey,
    apiv3: str,
    tx: dict[str, Any],
    *,
    timestamp: int,
    nonce: str = "fdasflkja484w0r8slj0ZCNpKQIDAQAB",
    resource_nonce: str = "fdasflkja484",
    serial: str = PUBLIC_KEY_ID,
) -> tuple[dict[str, str], bytes]:
    """A TRANSACTION.SUCCESS notification built independently of the sandbox, from WeChat's documentation."""
    plaintext = json.dumps(tx, ensure_ascii=False, separators=(",", ":")).encode()
    ciphertext = AESGCM(apiv3.encode()).encrypt(resource_nonce.encode(), plaintext, b"transaction")
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2025-03-01T12:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": "transaction",
            "nonce": resource_nonce,
        },
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    headers = {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sha256(platform, f"{timestamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body.encode()


TS = int(NOW.timestamp())


def test_wechat_notification_verifies_and_maps(wechat, platform_key, apiv3_key) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(amount=12345), timestamp=TS)
    result = wechat.verify_notification(headers, body, NOW)
    assert result.provider == "wechatpay"
    assert result.out_trade_no == "Q20250301000001"
    assert result.transaction_id == "4200000985202503011234567890"
    assert result.amount_fen == 12345
    assert result.merchant_id == MCHID
    assert result.paid is True
    assert result.paid_at == datetime(2025, 3, 1, 3, 59, 30, tzinfo=UTC)
    assert result.raw["payer"]["openid"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.mark.parametrize("case", [str.lower, str.upper, lambda k: k])
def test_wechat_headers_are_case_insensitive(wechat, platform_key, apiv3_key, case) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(), timestamp=TS)
    result = wechat.verify_notification({case(k): v for k, v in headers.items()}, body, NOW)
    assert result.paid


def test_wechat_starlette_headers_accepted(wechat, platform_key, apiv3_key) -> None:
    from starlette.datastructures import Headers

    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(), timestamp=TS)
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    assert wechat.verify_notification(Headers(raw=raw), body, NOW).amount_fen == 12345


def test_wechat_signature_type_header_may_be_absent(wechat, platform_key, apiv3_key) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(), timestamp=TS)
    del headers["Wechatpay-Signature-Type"]
    assert wechat.verify_notification(headers, body, NOW).paid


def test_wechat_tampered_body_rejected(wechat, platform_key, apiv3_key) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(), timestamp=TS)
    tampered = body.replace("支付成功".encode(), "支付成攻".encode())
    assert tampered != body
    with pytest.raises(BadSignature):
        wechat.verify_notification(headers, tampered, NOW)


def test_wechat_tampered_ciphertext_rejected(wechat, platform_key, apiv3_key) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(), timestamp=TS)
    envelope = json.loads(body)
    raw = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    raw[5] ^= 1
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(BadSignature):
        wechat.verify_notification(headers, json.dumps(envelope).encode(), NOW)


def test_wechat_signature_by_another_key_rejected(wechat, apiv3_key) -> None:
    forger = new_key()
    headers, body = wx_notification(forger, apiv3_key, wx_transaction(), timestamp=TS)
    with pytest.raises(BadSignature):
        wechat.verify_notification(headers, body, NOW)


def test_wechat_signed_with_the_key_but_other_apiv3_key_rejected(wechat, platform_key) -> None:
    headers, body = wx_notification(platform_key, "x" * 32, wx_transaction(), timestamp=TS)
    with pytest.raises(BadSignature):
        wechat.verify_notification(headers, body, NOW)


def test_wechat_unknown_serial_rejected_without_network(wechat, platform_key, apiv3_key) -> None:
    headers, body = wx_notification(
        platform_key,
        apiv3_key,
        wx_transaction(),
        timestamp=TS,
        serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    )
    with pytest.raises(BadSignature):
        wechat.verify_notification(headers, body, NOW)  # no_network: the library would have fetched certs


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=-1)])
def test_wechat_stale_timestamp_rejected(wechat, platform_key, apiv3_key, offset) -> None:
    headers, body = wx_notification(
        platform_key, apiv3_key, wx_transaction(), timestamp=int((NOW + offset).timestamp())
    )
    with pytest.raises(StaleNotification):
        wechat.verify_notification(headers, body, NOW)


def test_wechat_timestamp_within_five_minutes_accepted(wechat, platform_key, apiv3_key) -> None:
    for offset in (timedelta(minutes=-5), timedelta(minutes=4, seconds=59)):
        headers, body = wx_notification(
            platform_key, apiv3_key, wx_transaction(), timestamp=int((NOW + offset).timestamp())
        )
        assert wechat.verify_notification(headers, body, NOW).paid


@pytest.mark.parametrize(
    "header", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_wechat_missing_header_is_malformed(wechat, platform_key, apiv3_key, header) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(), timestamp=TS)
    del headers[header]
    with pytest.raises(MalformedNotification):
        wechat.verify_notification(headers, body, NOW)


def _signed(platform: rsa.RSAPrivateKey, body: bytes, ts: int = TS) -> dict[str, str]:
    nonce = "abc123"
    return {
        "Wechatpay-Timestamp": str(ts),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": PUBLIC_KEY_ID,
        "Wechatpay-Signature": rsa_sha256(platform, f"{ts}\n{nonce}\n{body.decode()}\n"),
    }


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1,2]",
        b'{"resource_type":"encrypt-resource"}',
        b'{"resource_type":"plain","resource":{}}',
    ],
)
def test_wechat_malformed_body_rejected(wechat, platform_key, body) -> None:
    with pytest.raises(MalformedNotification):
        wechat.verify_notification(_signed(platform_key, body), body, NOW)


def test_wechat_garbage_timestamp_and_signature_type(wechat, platform_key, apiv3_key) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(), timestamp=TS)
    with pytest.raises(MalformedNotification):
        wechat.verify_notification({**headers, "Wechatpay-Timestamp": "soon"}, body, NOW)
    with pytest.raises(MalformedNotification):
        wechat.verify_notification(
            {**headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}, body, NOW
        )


def test_wechat_authentic_but_malformed_transaction(wechat, platform_key, apiv3_key) -> None:
    tx = wx_transaction()
    tx["amount"]["total"] = "12345"  # a string is not fen
    headers, body = wx_notification(platform_key, apiv3_key, tx, timestamp=TS)
    with pytest.raises(MalformedNotification):
        wechat.verify_notification(headers, body, NOW)


def test_wechat_other_merchant_rejected(wechat, platform_key, apiv3_key) -> None:
    headers, body = wx_notification(platform_key, apiv3_key, wx_transaction(mchid="1230000109"), timestamp=TS)
    with pytest.raises(WrongMerchant):
        wechat.verify_notification(headers, body, NOW)


def test_wechat_non_success_state_is_not_paid(wechat, platform_key, apiv3_key) -> None:
    tx = wx_transaction(trade_state="PAYERROR")
    headers, body = wx_notification(platform_key, apiv3_key, tx, timestamp=TS)
    result = wechat.verify_notification(headers, body, NOW)
    assert result.paid is False and result.paid_at is None


def test_wechat_rejects_a_bad_apiv3_key_length(platform_key, merchant_key) -> None:
    with pytest.raises(ValueError):
        WechatPayProvider(wx_config(public_pem(platform_key), "short", merchant_key))


# ------------------------------------------------------------------------------------------ sandbox


@pytest.fixture(scope="module")
def sandbox_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate the sandbox keys once per module (RSA generation is the slow part)."""
    return SandboxProvider(tmp_path_factory.mktemp("sandbox-template")).key_dir / "sandbox-keys.json"


@pytest.fixture
def sandbox(tmp_path: Path, sandbox_key_file: Path) -> SandboxProvider:
    """A fresh sandbox world (its own transaction store) with the module's keys."""
    key_dir = tmp_path / "sandbox-keys"
    key_dir.mkdir()
    (key_dir / "sandbox-keys.json").write_bytes(sandbox_key_file.read_bytes())
    return SandboxProvider(key_dir)


def test_sandbox_notification_verifies_with_a_standalone_wechatpay_provider(sandbox, merchant_key) -> None:
    """The sandbox is WeChat-shaped for real: its notifications pass the plain WeChat Pay adapter."""
    paid = sandbox.mark_paid("Q1000001", 990, now=NOW)
    headers, body = sandbox.build_notification(
        paid.out_trade_no, paid.transaction_id, 990, paid.paid_at, timestamp=NOW
    )
    standalone = WechatPayProvider(
        wx_config(
            sandbox.public_key_pem,
            sandbox.apiv3_key,
            merchant_key,
            mchid="sandbox-mch",
            public_key_id=sandbox.public_key_id,
        )
    )
    result = standalone.verify_notification(headers, body, NOW)
    assert (result.out_trade_no, result.transaction_id, result.amount_fen, result.paid, result.paid_at) == (
        "Q1000001",
        paid.transaction_id,
        990,
        True,
        paid.paid_at,
    )
    assert result.merchant_id == "sandbox-mch"
    # and the sandbox's own verification answers the same, under its own name
    own = sandbox.verify_notification(headers, body, NOW)
    assert own.provider == "sandbox" and own.transaction_id == result.transaction_id
    # a WeChat adapter holding another platform key refuses it: the signature is really checked
    other = WechatPayProvider(
        wx_config(
            public_pem(new_key()),
            sandbox.apiv3_key,
            merchant_key,
            mchid="sandbox-mch",
            public_key_id=sandbox.public_key_id,
        )
    )
    with pytest.raises(BadSignature):
        other.verify_notification(headers, body, NOW)


def test_sandbox_verification_is_the_wechatpay_adapter(sandbox) -> None:
    assert isinstance(sandbox.verifier, WechatPayProvider)
    assert sandbox.verifier.config.public_key == sandbox.public_key_pem
    headers, body = sandbox.build_notification(
        "Q1", "4200000001", 100, NOW, timestamp=NOW - timedelta(minutes=6)
    )
    with pytest.raises(StaleNotification):
        sandbox.verify_notification(headers, body, NOW)
    headers, body = sandbox.build_notification("Q1", "4200000001", 100, NOW, timestamp=NOW)
    with pytest.raises(BadSignature):
        sandbox.verify_notification(headers, body.replace(b'"summary"', b'"Summary"'), NOW)
    headers, body = sandbox.build_notification(
        "Q1", "4200000001", 100, NOW, mchid="someone-else", timestamp=NOW
    )
    with pytest.raises(WrongMerchant):
        sandbox.verify_notification(headers, body, NOW)


def test_sandbox_uses_the_app_clock_by_default(sandbox) -> None:
    from quanzi.kit.clock import clock

    clock.freeze(NOW + timedelta(days=9))
    headers, body = sandbox.build_notification("Q1", "4200000001", 100, NOW)
    assert sandbox.verify_notification(headers, body, clock.now()).paid
    with pytest.raises(StaleNotification):
        sandbox.verify_notification(headers, body, NOW)


def test_sandbox_keys_persist_across_instances(tmp_path: Path) -> None:
    first = SandboxProvider(tmp_path / "keys")
    second = SandboxProvider(tmp_path / "keys")
    assert (first.public_key_id, first.public_key_pem, first.apiv3_key) == (
        second.public_key_id,
        second.public_key_pem,
        second.apiv3_key,
    )
    assert len(first.apiv3_key.encode()) == 32
    headers, body = first.build_notification("Q2", "4200000002", 500, NOW, timestamp=NOW)
    assert second.verify_notification(headers, body, NOW).amount_fen == 500
    elsewhere = SandboxProvider(tmp_path / "other-keys")
    assert elsewhere.public_key_id != first.public_key_id
    with pytest.raises(BadSignature):
        elsewhere.verify_notification({**headers, "Wechatpay-Serial": elsewhere.public_key_id}, body, NOW)
    key_file = tmp_path / "keys" / "sandbox-keys.json"
    assert key_file.stat().st_mode & 0o077 == 0  # private keys are not world-readable


async def test_sandbox_query_reflects_create_and_mark_paid(sandbox) -> None:
    assert await sandbox.query_payment("Q3") is None
    intent = await sandbox.create_payment("Q3", 2500, "两斤橙子")
    assert intent.provider == "sandbox" and intent.client_params["pay_url"] == "/pay/sandbox/Q3"
    unpaid = await sandbox.query_payment("Q3")
    assert unpaid is not None and unpaid.paid is False and unpaid.amount_fen == 2500
    paid = sandbox.mark_paid("Q3", 2500, now=NOW)
    again = sandbox.mark_paid("Q3", 2500, now=NOW + timedelta(minutes=1))
    assert again.transaction_id == paid.transaction_id and again.paid_at == paid.paid_at  # idempotent
    queried = await sandbox.query_payment("Q3")
    assert queried is not None and queried.paid and queried.transaction_id == paid.transaction_id
    assert queried.paid_at == NOW and queried.merchant_id == "sandbox-mch"
    # another instance on the same directory (another worker process) sees the same world
    assert (await SandboxProvider(sandbox.key_dir).query_payment("Q3")).transaction_id == paid.transaction_id


async def test_sandbox_refuses_wrong_amount_and_expired_orders(sandbox) -> None:
    await sandbox.create_payment("Q4", 1000, "x", expires_at=NOW + timedelta(minutes=15))
    with pytest.raises(ProviderError):
        sandbox.mark_paid("Q4", 999, now=NOW)
    with pytest.raises(ProviderError):
        sandbox.mark_paid("Q4", 1000, now=NOW + timedelta(minutes=16))
    assert (await sandbox.query_payment("Q4")).paid is False
    assert sandbox.mark_paid("Q4", 1000, now=NOW + timedelta(minutes=14)).paid
    with pytest.raises(ProviderError):
        await sandbox.create_payment("Q4", 1000, "x")  # already paid
    with pytest.raises(ValueError):
        await sandbox.create_payment("Q5", 0, "x")


async def test_sandbox_refund_is_idempotent_per_out_refund_no(sandbox) -> None:
    paid = sandbox.mark_paid("Q6", 1000, now=NOW)
    first = await sandbox.refund("R6-1", "Q6", paid.transaction_id, 300, 1000, "缺货")
    again = await sandbox.refund("R6-1", "Q6", paid.transaction_id, 300, 1000, "缺货")
    assert first.status == again.status == "succeeded"
    assert first.refund_id == again.refund_id and again.amount_fen == 300
    assert sandbox.refunded_fen("Q6") == 300  # refunded once
    second = await sandbox.refund("R6-2", "Q6", paid.transaction_id, 700, 1000, "")
    assert second.refund_id != first.refund_id and sandbox.refunded_fen("Q6") == 1000
    with pytest.raises(ProviderError):  # nothing left to refund
        await sandbox.refund("R6-3", "Q6", paid.transaction_id, 1, 1000, "")
    assert (await sandbox.query_payment("Q6")).raw["trade_state"] == "REFUND"
    queried = await sandbox.query_refund("R6-1", "Q6")
    assert queried is not None and (queried.refund_id, queried.amount_fen, queried.status) == (
        first.refund_id,
        300,
        "succeeded",
    )
    assert await sandbox.query_refund("R6-3", "Q6") is None  # the refused one left no trace


async def test_sandbox_concurrent_refunds_with_one_key_refund_once(sandbox) -> None:
    paid = sandbox.mark_paid("Q7", 1000, now=NOW)
    other = SandboxProvider(sandbox.key_dir)  # a second "process" on the same directory
    results = await asyncio.gather(
        *[
            (sandbox if i % 2 else other).refund("R7", "Q7", paid.transaction_id, 600, 1000, "")
            for i in range(12)
        ]
    )
    assert len({r.refund_id for r in results}) == 1
    assert sandbox.refunded_fen("Q7") == 600


async def test_sandbox_refund_checks_the_order(sandbox) -> None:
    await sandbox.create_payment("Q8", 1000, "x")
    with pytest.raises(ProviderError):  # not paid
        await sandbox.refund("R8", "Q8", "", 100, 1000, "")
    paid = sandbox.mark_paid("Q8", 1000, now=NOW)
    with pytest.raises(ProviderError):  # total does not match
        await sandbox.refund("R8", "Q8", paid.transaction_id, 100, 999, "")
    with pytest.raises(ProviderError):  # transaction id does not match
        await sandbox.refund("R8", "Q8", "4200000000000000", 100, 1000, "")
    with pytest.raises(ValueError):
        await sandbox.refund("R8", "Q8", paid.transaction_id, 0, 1000, "")
    assert sandbox.refunded_fen("Q8") == 0


async def test_sandbox_simulated_outage_changes_nothing(sandbox) -> None:
    paid = sandbox.mark_paid("Q9", 1000, now=NOW)
    sandbox.fail_next_refunds = 2
    for _ in range(2):
        with pytest.raises(ProviderError) as err:
            await sandbox.refund("R9", "Q9", paid.transaction_id, 1000, 1000, "")
        assert err.value.status == 502 and err.value.detail["simulated"] is True
    assert sandbox.refunded_fen("Q9") == 0
    assert (await sandbox.refund("R9", "Q9", paid.transaction_id, 1000, 1000, "")).status == "succeeded"
    sandbox.fail_next_queries = 1
    with pytest.raises(ProviderError):
        await sandbox.query_payment("Q9")
    assert (await sandbox.query_payment("Q9")).paid


async def test_sandbox_transfer_is_idempotent_per_out_batch_no(sandbox) -> None:
    sandbox.fail_next_transfers = 1
    with pytest.raises(ProviderError):
        await sandbox.transfer("W1", "o-openid", 5000, "佣金提现")
    first = await sandbox.transfer("W1", "o-openid", 5000, "佣金提现")
    again = await sandbox.transfer("W1", "o-openid", 5000, "佣金提现")
    assert first.status == "succeeded" and first.transfer_id == again.transfer_id
    other = await sandbox.transfer("W2", "o-openid", 100, "")
    assert other.transfer_id != first.transfer_id


# ------------------------------------------------------------------------------- Alipay notifications

ALIPAY_APP_ID = "2021000117650000"
SELLER_ID = "2088102177846880"


@pytest.fixture(scope="module")
def alipay_key() -> rsa.RSAPrivateKey:
    """Plays Alipay's key (signs notifications)."""
    return new_key()


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    """Our app's key (signs requests to Alipay)."""
    return new_key()


def alipay_provider(alipay_public: str, app: rsa.RSAPrivateKey, **over: Any) -> AlipayProvider:
    values: dict[str, Any] = {
        "app_id": ALIPAY_APP_ID,
        "app_private_key": private_pem(app),
        "alipay_public_key": alipay_public,
        "notify_url": "https://shop.example/api/payments/notify/alipay",
        "return_url": "https://shop.example/orders",
        "seller_id": SELLER_ID,
    }
    values.update(over)
    return AlipayProvider(AlipayConfig(**values))


@pytest.fixture(scope="module")
def alipay(alipay_key, app_key) -> AlipayProvider:
    return alipay_provider(public_pem(alipay_key), app_key)


def alipay_sign(params: dict[str, str], key: rsa.RSAPrivateKey) -> str:
    """Alipay's RSA2: sorted key=value joined by &, without sign and sign_type, SHA256withRSA, base64."""
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type"))
    return rsa_sha256(key, content)


def alipay_params(
    *,
    total: str = "123.45",
    notify_time: datetime = NOW,
    status: str = "TRADE_SUCCESS",
    app_id: str = ALIPAY_APP_ID,
    seller_id: str = SELLER_ID,
) -> dict[str, str]:
    return {
        "notify_time": notify_time.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S"),
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "app_id": app_id,
        "auth_app_id": app_id,
        "trade_no": "2025030122001405351234567890",
        "out_trade_no": "Q20250301000002",
        "buyer_id": "2088102122524333",
        "seller_id": seller_id,
        "trade_status": status,
        "total_amount": total,
        "receipt_amount": total,
        "buyer_pay_amount": total,
        "subject": "两斤橙子 & 一箱苹果",
        "gmt_create": "2025-03-01 11:58:59",
        "gmt_payment": "2025-03-01 11:59:30",
        "fund_bill_list": json.dumps(
            [{"amount": total, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
    }


def alipay_body(params: dict[str, str], key: rsa.RSAPrivateKey) -> bytes:
    return urlencode({**params, "sign": alipay_sign(params, key)}).encode()


def test_alipay_notification_verifies_and_maps(alipay, alipay_key) -> None:
    result = alipay.verify_notification({}, alipay_body(alipay_params(), alipay_key), NOW)
    assert result.provider == "alipay"
    assert result.out_trade_no == "Q20250301000002"
    assert result.transaction_id == "2025030122001405351234567890"
    assert result.amount_fen == 12345
    assert result.merchant_id == ALIPAY_APP_ID
    assert result.paid is True
    assert result.paid_at == datetime(2025, 3, 1, 3, 59, 30, tzinfo=UTC)
    assert result.raw["subject"] == "两斤橙子 & 一箱苹果"


@pytest.mark.parametrize(
    ("total", "fen"), [("0.01", 1), ("123.45", 12345), ("0.10", 10), ("8", 800), ("99999999.99", 9999999999)]
)
def test_alipay_amount_is_exact_fen(alipay, alipay_key, total, fen) -> None:
    assert (
        alipay.verify_notification({}, alipay_body(alipay_params(total=total), alipay_key), NOW).amount_fen
        == fen
    )


def test_alipay_trade_finished_is_paid_and_closed_is_not(alipay, alipay_key) -> None:
    assert alipay.verify_notification(
        {}, alipay_body(alipay_params(status="TRADE_FINISHED"), alipay_key), NOW
    ).paid
    closed = alipay.verify_notification(
        {}, alipay_body(alipay_params(status="TRADE_CLOSED"), alipay_key), NOW
    )
    assert closed.paid is False


def test_alipay_tampered_amount_rejected(alipay, alipay_key) -> None:
    params = alipay_params(total="0.01")
    signed = {**params, "sign": alipay_sign(params, alipay_key)}
    signed["total_amount"] = "100.00"
    with pytest.raises(BadSignature):
        alipay.verify_notification({}, urlencode(signed).encode(), NOW)


def test_alipay_signature_by_another_key_rejected(alipay) -> None:
    with pytest.raises(BadSignature):
        alipay.verify_notification({}, alipay_body(alipay_params(), new_key()), NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(hours=8)])
def test_alipay_stale_notify_time_rejected(alipay, alipay_key, offset) -> None:
    body = alipay_body(alipay_params(notify_time=NOW + offset), alipay_key)
    with pytest.raises(StaleNotification):
        alipay.verify_notification({}, body, NOW)


def test_alipay_notify_time_is_china_time(alipay, alipay_key) -> None:
    params = alipay_params()
    params["notify_time"] = NOW.strftime("%Y-%m-%d %H:%M:%S")  # UTC wall time written as if local: 8 h off
    with pytest.raises(StaleNotification):
        alipay.verify_notification({}, alipay_body(params, alipay_key), NOW)
    assert alipay.verify_notification(
        {}, alipay_body(alipay_params(notify_time=NOW - timedelta(minutes=4)), alipay_key), NOW
    ).paid


def test_alipay_rsa1_and_unsigned_rejected(alipay, alipay_key) -> None:
    params = alipay_params()
    with pytest.raises(MalformedNotification):
        alipay.verify_notification(
            {},
            urlencode({**params, "sign_type": "RSA", "sign": alipay_sign(params, alipay_key)}).encode(),
            NOW,
        )
    with pytest.raises(MalformedNotification):
        alipay.verify_notification({}, urlencode(params).encode(), NOW)


@pytest.mark.parametrize("total", ["1.234", "-1.00", "1e2", "", " 1.00", "NaN"])
def test_alipay_bad_amount_is_malformed(alipay, alipay_key, total) -> None:
    with pytest.raises(MalformedNotification):
        alipay.verify_notification({}, alipay_body(alipay_params(total=total), alipay_key), NOW)


@pytest.mark.parametrize("body", [b"\xff\xfe", b"a=1&a=2&sign=x", b"no-equals-sign"])
def test_alipay_garbage_is_malformed(alipay, body) -> None:
    with pytest.raises(MalformedNotification):
        alipay.verify_notification({}, body, NOW)


def test_alipay_other_app_or_seller_rejected(alipay, alipay_key) -> None:
    with pytest.raises(WrongMerchant):
        alipay.verify_notification({}, alipay_body(alipay_params(app_id="2021000000000000"), alipay_key), NOW)
    with pytest.raises(WrongMerchant):
        alipay.verify_notification(
            {}, alipay_body(alipay_params(seller_id="2088000000000000"), alipay_key), NOW
        )


def test_alipay_accepts_bare_base64_keys(alipay_key, app_key) -> None:
    def bare(pem: str) -> str:
        return "".join(line for line in pem.splitlines() if not line.startswith("-----"))

    provider = alipay_provider(
        bare(public_pem(alipay_key)), app_key, app_private_key=bare(private_pem(app_key))
    )
    assert provider.verify_notification({}, alipay_body(alipay_params(), alipay_key), NOW).amount_fen == 12345


def test_yuan_fen_conversions_are_exact() -> None:
    assert yuan_to_fen("0.01") == 1
    assert yuan_to_fen("123.45") == 12345
    assert yuan_to_fen("0.1") == 10
    assert yuan_to_fen("1.10") == 110
    # the classic float trap: 0.29 * 100 == 28.999999999999996
    assert yuan_to_fen("0.29") == 29 and yuan_to_fen("1.15") == 115 and yuan_to_fen("4.35") == 435
    for bad in ("1.234", "01.00", "-0.01", "1,00", "１.00", ".5", "5.", "inf"):
        with pytest.raises(ValueError):
            yuan_to_fen(bad)
    assert fen_to_yuan(1) == "0.01" and fen_to_yuan(12345) == "123.45" and fen_to_yuan(100) == "1.00"
    assert all(yuan_to_fen(fen_to_yuan(n)) == n for n in range(0, 100_000, 7))
    with pytest.raises(ValueError):
        fen_to_yuan(True)  # type: ignore[arg-type]


async def test_alipay_create_payment_signs_a_wap_order_string(alipay, app_key) -> None:
    from urllib.parse import parse_qsl, urlsplit

    intent = await alipay.create_payment(
        "Q20250301000003", 1234, "两斤橙子", expires_at=datetime(2025, 3, 1, 4, 15, tzinfo=UTC)
    )
    assert intent.client_params["pay_url"].startswith("https://openapi.alipay.com/gateway.do?")
    params = dict(parse_qsl(urlsplit(intent.client_params["pay_url"]).query, keep_blank_values=True))
    assert params["method"] == "alipay.trade.wap.pay" and params["sign_type"] == "RSA2"
    assert params["app_id"] == ALIPAY_APP_ID
    assert params["notify_url"] == "https://shop.example/api/payments/notify/alipay"
    biz = json.loads(params["biz_content"])
    assert biz["total_amount"] == "12.34" and biz["out_trade_no"] == "Q20250301000003"
    assert biz["product_code"] == "QUICK_WAP_WAY" and biz["time_expire"] == "2025-03-01 12:15:00"
    sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ)
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)  # China time, whatever the server's zone
    # the signature is the app key's RSA2 over the sorted parameters: Alipay would accept it
    signature = base64.b64decode(params.pop("sign"))
    content = "&".join(f"{k}={params[k]}" for k in sorted(params))
    app_key.public_key().verify(signature, content.encode(), padding.PKCS1v15(), hashes.SHA256())


# ------------------------------------------------------------------------------------ signed fixtures

FIXED_WECHAT_APIV3 = "Quanzi-fixture-APIv3-key-32bytes"
FIXED_TS = 1740801600  # 2025-03-01T04:00:00Z


def write_fixtures(directory: Path) -> None:
    """Produce the stored fixtures: fresh key pairs, fixed inputs. Private keys are not kept."""
    directory.mkdir(parents=True, exist_ok=True)
    wx_platform, ali = new_key(), new_key()
    tx = wx_transaction("Q20250301FIXTURE", 4321)
    headers, body = wx_notification(wx_platform, FIXED_WECHAT_APIV3, tx, timestamp=FIXED_TS)
    (directory / "wechatpay_platform_public.pem").write_text(public_pem(wx_platform))
    (directory / "wechatpay_notification.json").write_text(
        json.dumps(
            {
                "apiv3_key": FIXED_WECHAT_APIV3,
                "public_key_id": PUBLIC_KEY_ID,
                "mchid": MCHID,
                "now": FIXED_TS,
                "headers": headers,
                "body": body.decode(),
                "expected": {
                    "out_trade_no": "Q20250301FIXTURE",
                    "transaction_id": tx["transaction_id"],
                    "amount_fen": 4321,
                    "paid_at": "2025-03-01T03:59:30+00:00",
                },
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )
    params = alipay_params(total="43.21", notify_time=datetime.fromtimestamp(FIXED_TS, UTC))
    (directory / "alipay_public.pem").write_text(public_pem(ali))
    (directory / "alipay_notification.json").write_text(
        json.dumps(
            {
                "app_id": ALIPAY_APP_ID,
                "seller_id": SELLER_ID,
                "now": FIXED_TS,
                "body": alipay_body(params, ali).decode(),
                "expected": {
                    "out_trade_no": params["out_trade_no"],
                    "transaction_id": params["trade_no"],
                    "amount_fen": 4321,
                    "paid_at": "2025-03-01T03:59:30+00:00",
                },
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )


def check_wechat_fixture(directory: Path, merchant: rsa.RSAPrivateKey, tamper: bool = False) -> None:
    data = json.loads((directory / "wechatpay_notification.json").read_text())
    provider = WechatPayProvider(
        wx_config(
            (directory / "wechatpay_platform_public.pem").read_text(),
            data["apiv3_key"],
            merchant,
            mchid=data["mchid"],
            public_key_id=data["public_key_id"],
        )
    )
    body = data["body"].encode()
    if tamper:
        body = body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESs")
    result = provider.verify_notification(data["headers"], body, datetime.fromtimestamp(data["now"], UTC))
    expected = data["expected"]
    assert (result.out_trade_no, result.transaction_id, result.amount_fen, result.paid_at.isoformat()) == (
        expected["out_trade_no"],
        expected["transaction_id"],
        expected["amount_fen"],
        expected["paid_at"],
    )


def check_alipay_fixture(directory: Path, app: rsa.RSAPrivateKey, tamper: bool = False) -> None:
    data = json.loads((directory / "alipay_notification.json").read_text())
    provider = alipay_provider(
        (directory / "alipay_public.pem").read_text(), app, app_id=data["app_id"], seller_id=data["seller_id"]
    )
    body = data["body"].encode()
    if tamper:
        body = body.replace(b"total_amount=43.21", b"total_amount=43.22")
    result = provider.verify_notification({}, body, datetime.fromtimestamp(data["now"], UTC))
    expected = data["expected"]
    assert (result.out_trade_no, result.transaction_id, result.amount_fen, result.paid_at.isoformat()) == (
        expected["out_trade_no"],
        expected["transaction_id"],
        expected["amount_fen"],
        expected["paid_at"],
    )


def test_stored_wechat_fixture_still_verifies(merchant_key) -> None:
    check_wechat_fixture(FIXTURES, merchant_key)
    with pytest.raises(BadSignature):
        check_wechat_fixture(FIXTURES, merchant_key, tamper=True)


def test_stored_alipay_fixture_still_verifies(app_key) -> None:
    check_alipay_fixture(FIXTURES, app_key)
    with pytest.raises(BadSignature):
        check_alipay_fixture(FIXTURES, app_key, tamper=True)


def test_fixture_helper_still_produces_verifiable_fixtures(tmp_path, merchant_key, app_key) -> None:
    write_fixtures(tmp_path)
    check_wechat_fixture(tmp_path, merchant_key)
    check_alipay_fixture(tmp_path, app_key)


# ----------------------------------------------------------------------------------------- registry


def test_make_provider_by_name(tmp_path, platform_key, merchant_key, alipay_key, app_key) -> None:
    sandbox = make_provider("sandbox", ProviderConfig(sandbox_key_dir=tmp_path / "sb"))
    assert isinstance(sandbox, SandboxProvider) and sandbox.merchant_id == "sandbox-mch"
    with pytest.raises(ValueError):
        make_provider("paypal", ProviderConfig(sandbox_key_dir=tmp_path / "sb"))
    with pytest.raises(ValueError):
        make_provider("wechatpay", ProviderConfig(sandbox_key_dir=tmp_path / "sb"))

    (tmp_path / "wx-merchant.pem").write_text(private_pem(merchant_key))
    (tmp_path / "wx-platform.pem").write_text(public_pem(platform_key))
    (tmp_path / "ali-app.pem").write_text(private_pem(app_key))
    (tmp_path / "ali-public.pem").write_text(public_pem(alipay_key))
    settings = SimpleNamespace(
        public_url="https://shop.example",
        sandbox_key_dir=str(tmp_path / "sb"),
        wechatpay_mchid=MCHID,
        wechatpay_appid=APPID,
        wechatpay_apiv3_key="k" * 32,
        wechatpay_private_key_path=str(tmp_path / "wx-merchant.pem"),
        wechatpay_cert_serial_no="ABC",
        wechatpay_public_key_path=str(tmp_path / "wx-platform.pem"),
        wechatpay_public_key_id=PUBLIC_KEY_ID,
        alipay_app_id=ALIPAY_APP_ID,
        alipay_app_private_key_path=str(tmp_path / "ali-app.pem"),
        alipay_public_key_path=str(tmp_path / "ali-public.pem"),
        alipay_seller_id=SELLER_ID,
    )
    config = ProviderConfig.from_settings(settings)
    assert config.wechatpay is not None and config.wechatpay.notify_url == (
        "https://shop.example/api/payments/notify/wechatpay"
    )
    wechat = make_provider("wechatpay", config)
    headers, body = wx_notification(platform_key, "k" * 32, wx_transaction(), timestamp=TS)
    assert wechat.verify_notification(headers, body, NOW).amount_fen == 12345
    alipay = make_provider("alipay", config)
    assert alipay.verify_notification({}, alipay_body(alipay_params(), alipay_key), NOW).amount_fen == 12345
    assert make_provider("sandbox", config).public_key_id == sandbox.public_key_id  # same key dir

    with pytest.raises(ValueError):  # half-configured WeChat Pay fails loudly
        ProviderConfig.from_settings(SimpleNamespace(wechatpay_mchid=MCHID))


if __name__ == "__main__":
    write_fixtures(FIXTURES)
    print(f"wrote {sorted(p.name for p in FIXTURES.iterdir())}")
