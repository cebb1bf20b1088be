"""A local payment provider that behaves like WeChat Pay v3, for development, demos and tests.

It plays WeChat's side with its own keys: an RSA-2048 "platform" key pair (public key id
`PUB_KEY_ID_SANDBOX…`), a 32-character APIv3 key and a merchant key pair, generated once and kept in
`key_dir` (default `var/sandbox-keys/`). Notifications it builds are encrypted and signed exactly like
WeChat's, and `verify_notification` delegates to a `WechatPayProvider` configured with the sandbox's
public key — the sandbox exercises the real verification path, it does not bypass it.

What WeChat would remember (orders, payments, refunds, transfers) is kept in `key_dir/sandbox.sqlite3`
so that several app processes and restarts agree; refunds are idempotent per `out_refund_no`,
transfers per `out_batch_no`. `fail_next_refunds` / `fail_next_transfers` / `fail_next_queries`
simulate an outage (the call raises `ProviderError` and changes nothing).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import string
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quanzi.kit.clock import as_utc, clock

from ._common import china_time, require_fen
from .base import PaymentIntent, PaymentResult, ProviderError, RefundResult, SubOrder, TransferResult
from .wechatpay import (
    SIGNATURE_TYPE,
    WechatPayConfig,
    WechatPayProvider,
    combine_to_result,
    transaction_to_result,
)

KEY_FILE = "sandbox-keys.json"
DB_FILE = "sandbox.sqlite3"
_ALNUM = string.ascii_letters + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    out_trade_no TEXT PRIMARY KEY,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    description TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,                -- NOTPAY | SUCCESS | REFUND
    transaction_id TEXT UNIQUE,
    paid_at TEXT,
    expires_at TEXT,
    refunded_fen INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    out_refund_no TEXT PRIMARY KEY,
    refund_id TEXT NOT NULL UNIQUE,
    out_trade_no TEXT NOT NULL REFERENCES transactions(out_trade_no),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS combines (  -- 合单: one payment; its sub-orders are rows of `transactions`
    combine_out_trade_no TEXT PRIMARY KEY,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    state TEXT NOT NULL,                -- NOTPAY | SUCCESS
    expires_at TEXT,
    paid_at TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS combine_subs (
    out_trade_no TEXT PRIMARY KEY REFERENCES transactions(out_trade_no),
    combine_out_trade_no TEXT NOT NULL REFERENCES combines(combine_out_trade_no),
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
    out_batch_no TEXT PRIMARY KEY,
    transfer_id TEXT NOT NULL UNIQUE,
    payee_ref TEXT NOT NULL,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    remark TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


def _random(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _digits_id(prefix: str, now: datetime, length: int = 28) -> str:
    """WeChat-looking numeric ids: prefix + yyyymmdd (China time) + random digits, `length` in all."""
    head = prefix + china_time(now).strftime("%Y%m%d")
    return head + _random(length - len(head), string.digits)


@dataclass(frozen=True)
class SandboxKeys:
    platform_private_key: str  # PEM PKCS#8 — plays WeChat's platform key
    platform_public_key: str  # PEM SubjectPublicKeyInfo
    public_key_id: str
    apiv3_key: str  # 32 ASCII characters
    merchant_private_key: str  # only because the library's constructor needs one
    merchant_serial_no: str

    @staticmethod
    def generate() -> SandboxKeys:
        platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pkcs8 = (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        public_pem = (
            platform.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return SandboxKeys(
            platform_private_key=platform.private_bytes(*pkcs8).decode(),
            platform_public_key=public_pem,
            public_key_id="PUB_KEY_ID_SANDBOX" + hashlib.sha256(public_pem.encode()).hexdigest()[:24].upper(),
            apiv3_key=_random(32),
            merchant_private_key=merchant.private_bytes(*pkcs8).decode(),
            merchant_serial_no=secrets.token_hex(20).upper(),
        )

    @staticmethod
    def load_or_create(key_dir: Path) -> SandboxKeys:
        """Keys live in one file created atomically, so concurrent first starts agree on one set."""
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = key_dir / KEY_FILE
        if not path.exists():
            keys = SandboxKeys.generate()
            tmp = key_dir / f".{KEY_FILE}.{uuid.uuid4().hex}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(keys.__dict__, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # fails if another process won the race: then use its keys
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        data = json.loads(path.read_text())
        return SandboxKeys(**data)


class SandboxProvider:
    """`PaymentProvider` named "sandbox"; see the module docstring. Combined payments behave like WeChat's
    合单支付: each sub-order is a transaction of its own (own transaction id, refunded on its own)."""

    refunds_per_sub_order = True

    def __init__(
        self,
        key_dir: Path | str,
        *,
        merchant_id: str = "sandbox-mch",
        appid: str = "sandbox-app",
        pay_url: str = "/pay/sandbox/{out_trade_no}",
        notify_url: str = "http://127.0.0.1:8000/api/payments/notify/sandbox",
        name: str = "sandbox",
    ) -> None:
        self.name = name
        self.merchant_id = merchant_id
        self.appid = appid
        self.pay_url = pay_url
        self.key_dir = Path(key_dir)
        self.keys = SandboxKeys.load_or_create(self.key_dir)
        self._platform_key = serialization.load_pem_private_key(self.keys.platform_private_key.encode(), None)
        self.db_path = self.key_dir / DB_FILE
        self._lock = threading.Lock()
        self.fail_next_refunds = 0
        self.fail_next_transfers = 0
        self.fail_next_queries = 0
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()
        self.wechatpay_config = WechatPayConfig(
            mchid=merchant_id,
            appid=appid,
            apiv3_key=self.keys.apiv3_key,
            private_key=self.keys.merchant_private_key,
            cert_serial_no=self.keys.merchant_serial_no,
            public_key=self.keys.platform_public_key,
            public_key_id=self.keys.public_key_id,
            notify_url=notify_url,
            api_base_url="http://127.0.0.1:9",  # discard port: the sandbox never talks to WeChat
        )
        # The one verification path: the same adapter a real WeChat merchant uses.
        self.verifier = WechatPayProvider(self.wechatpay_config, name=name)

    # ------------------------------------------------------------------ keys and signing

    @property
    def public_key_pem(self) -> str:
        return self.keys.platform_public_key

    @property
    def public_key_id(self) -> str:
        return self.keys.public_key_id

    @property
    def apiv3_key(self) -> str:
        return self.keys.apiv3_key

    def sign(self, timestamp: str, nonce: str, body: str | bytes) -> str:
        """WeChat's platform signature: base64(RSA-SHA256-PKCS1v15("timestamp\\nnonce\\nbody\\n"))."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        message = f"{timestamp}\n{nonce}\n{text}\n".encode()
        return base64.b64encode(
            self._platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()

    def signed_headers(self, body: bytes, timestamp: datetime | int | None = None) -> dict[str, str]:
        if timestamp is None:
            timestamp = clock.now()
        ts = (
            str(int(as_utc(timestamp).timestamp()))
            if isinstance(timestamp, datetime)
            else str(int(timestamp))
        )
        nonce = _random(32)
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": self.sign(ts, nonce, body),
            "Wechatpay-Serial": self.keys.public_key_id,
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }

    def encrypt_resource(
        self,
        plaintext: dict[str, Any],
        associated_data: str = "transaction",
        original_type: str = "transaction",
    ) -> dict[str, str]:
        nonce = _random(12)
        data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode()
        ciphertext = AESGCM(self.keys.apiv3_key.encode()).encrypt(
            nonce.encode(), data, associated_data.encode()
        )
        return {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated_data,
            "nonce": nonce,
        }

    def transaction_object(
        self,
        out_trade_no: str,
        transaction_id: str,
        amount_fen: int,
        paid_at: datetime | None,
        *,
        mchid: str | None = None,
        trade_state: str = "SUCCESS",
    ) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "appid": self.appid,
            "mchid": mchid or self.merchant_id,
            "out_trade_no": out_trade_no,
            "transaction_id": transaction_id,
            "trade_type": "JSAPI",
            "trade_state": trade_state,
            "trade_state_desc": {"SUCCESS": "支付成功", "REFUND": "转入退款", "NOTPAY": "未支付"}.get(
                trade_state, trade_state
            ),
            "bank_type": "OTHERS",
            "attach": "",
            "payer": {"openid": "sandbox-payer"},
            "amount": {
                "total": amount_fen,
                "payer_total": amount_fen,
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        if paid_at is not None:
            tx["success_time"] = china_time(paid_at).isoformat(timespec="seconds")
        if trade_state == "NOTPAY":
            tx.pop("transaction_id")
            tx.pop("payer")
            tx.pop("bank_type")
        return tx

    def build_notification(
        self,
        out_trade_no: str,
        transaction_id: str,
        amount_fen: int,
        paid_at: datetime,
        mchid: str | None = None,
        timestamp: datetime | int | None = None,
        *,
        trade_state: str = "SUCCESS",
    ) -> tuple[dict[str, str], bytes]:
        """A TRANSACTION.SUCCESS notification exactly as WeChat Pay v3 sends it: (headers, body).

        `timestamp` (default: the app clock) is what goes into Wechatpay-Timestamp; `mchid` lets a test
        address it to another merchant."""
        tx = self.transaction_object(
            out_trade_no, transaction_id, amount_fen, paid_at, mchid=mchid, trade_state=trade_state
        )
        if timestamp is None:
            sent_at = clock.now()
        elif isinstance(timestamp, datetime):
            sent_at = as_utc(timestamp)
        else:
            sent_at = datetime.fromtimestamp(int(timestamp), UTC)
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": china_time(sent_at).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": self.encrypt_resource(tx),
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return self.signed_headers(body, sent_at), body

    def verify_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentResult:
        return self.verifier.verify_notification(headers, body, now)

    def notification_of(
        self, resource: dict[str, Any], timestamp: datetime | int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Encrypt and sign any transaction resource (plain or combined) as a TRANSACTION.SUCCESS event."""
        if timestamp is None:
            sent_at = clock.now()
        elif isinstance(timestamp, datetime):
            sent_at = as_utc(timestamp)
        else:
            sent_at = datetime.fromtimestamp(int(timestamp), UTC)
        envelope = {
            "id": str(uuid.uuid4()),
            "create_time": china_time(sent_at).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": self.encrypt_resource(resource),
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        return self.signed_headers(body, sent_at), body

    # ------------------------------------------------------------------ combined payments (合单)

    def _create_combined(
        self, out_trade_no: str, amount_fen: int, subs: list[SubOrder], expires_at: datetime | None, now: datetime
    ) -> None:
        with self._db() as db:
            row = db.execute("SELECT * FROM combines WHERE combine_out_trade_no = ?", (out_trade_no,)).fetchone()
            if row is not None:
                if row["amount_fen"] != amount_fen:
                    raise self._refuse("create_combined_payment", "INVALID_REQUEST", reason="number reused")
                if row["state"] != "NOTPAY":
                    raise self._refuse("create_combined_payment", "ORDERPAID")
                return
            expires = as_utc(expires_at).isoformat() if expires_at else None
            db.execute(
                "INSERT INTO combines (combine_out_trade_no, amount_fen, state, expires_at, created_at)"
                " VALUES (?, ?, 'NOTPAY', ?, ?)",
                (out_trade_no, amount_fen, expires, now.isoformat()),
            )
            for position, sub in enumerate(subs):
                db.execute(
                    "INSERT INTO transactions (out_trade_no, amount_fen, description, state, expires_at, created_at)"
                    " VALUES (?, ?, ?, 'NOTPAY', ?, ?)",
                    (sub.out_trade_no, sub.amount_fen, sub.description, expires, now.isoformat()),
                )
                db.execute(
                    "INSERT INTO combine_subs (out_trade_no, combine_out_trade_no, position) VALUES (?, ?, ?)",
                    (sub.out_trade_no, out_trade_no, position),
                )

    async def create_combined_payment(
        self,
        out_trade_no: str,
        amount_fen: int,
        sub_orders: Sequence[SubOrder],
        description: str,
        payer_ref: str | None = None,
        *,
        client_ip: str | None = None,
        expires_at: datetime | None = None,
    ) -> PaymentIntent:
        require_fen(amount_fen)
        subs = list(sub_orders)
        if not 2 <= len(subs) <= 50 or sum(x.amount_fen for x in subs) != amount_fen:
            raise ValueError("a combined payment has 2–50 sub-orders summing to its amount")
        for sub in subs:
            require_fen(sub.amount_fen)
        await asyncio.to_thread(self._create_combined, out_trade_no, amount_fen, subs, expires_at, clock.now())
        return PaymentIntent(
            provider=self.name,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            client_params={
                "pay_url": self.pay_url.format(out_trade_no=quote(out_trade_no, safe="")),
                "sandbox": True,
                "combined": True,
            },
        )

    def combined_resource(self, out_trade_no: str) -> dict[str, Any] | None:
        """The combined transaction as WeChat describes it (notification resource / query answer)."""
        with self._db() as db:
            head = db.execute("SELECT * FROM combines WHERE combine_out_trade_no = ?", (out_trade_no,)).fetchone()
            if head is None:
                return None
            subs = db.execute(
                "SELECT t.* FROM combine_subs c JOIN transactions t ON t.out_trade_no = c.out_trade_no"
                " WHERE c.combine_out_trade_no = ? ORDER BY c.position",
                (out_trade_no,),
            ).fetchall()
        sub_orders = []
        for row in subs:
            sub: dict[str, Any] = {
                "mchid": self.merchant_id,
                "trade_type": "JSAPI",
                "trade_state": row["state"],
                "attach": "",
                "out_trade_no": row["out_trade_no"],
                "amount": {"total_amount": row["amount_fen"], "currency": "CNY",
                           "payer_amount": row["amount_fen"], "payer_currency": "CNY"},
            }
            if row["transaction_id"]:
                sub.update(bank_type="OTHERS", transaction_id=row["transaction_id"],
                           success_time=china_time(datetime.fromisoformat(row["paid_at"])).isoformat(
                               timespec="seconds"))
            sub_orders.append(sub)
        return {
            "combine_appid": self.appid,
            "combine_mchid": self.merchant_id,
            "combine_out_trade_no": out_trade_no,
            "scene_info": {"device_id": "sandbox"},
            "sub_orders": sub_orders,
            "combine_payer_info": {"openid": "sandbox-payer"},
        }

    def mark_combined_paid(self, out_trade_no: str, amount_fen: int, *, now: datetime | None = None) -> dict[str, Any]:
        """The buyer pressed "pay" once for the whole combined payment: every sub-order is paid, each under
        its own transaction id. Idempotent. Returns the combined resource (for `notification_of`)."""
        require_fen(amount_fen)
        now = as_utc(now) if now is not None else clock.now()
        with self._db() as db:
            head = db.execute("SELECT * FROM combines WHERE combine_out_trade_no = ?", (out_trade_no,)).fetchone()
            if head is None:
                raise self._refuse("mark_paid", "ORDER_NOT_EXIST")
            if head["amount_fen"] != amount_fen:
                raise self._refuse("mark_paid", "INVALID_REQUEST", reason="amount differs from the order")
            if head["state"] == "NOTPAY":
                if head["expires_at"] and now > datetime.fromisoformat(head["expires_at"]):
                    raise self._refuse("mark_paid", "ORDER_CLOSED", reason="payment window has passed")
                paid_at = now.isoformat(timespec="seconds")
                subs = db.execute("SELECT out_trade_no FROM combine_subs WHERE combine_out_trade_no = ?"
                                  " ORDER BY position", (out_trade_no,)).fetchall()
                for sub in subs:
                    db.execute(
                        "UPDATE transactions SET state = 'SUCCESS', transaction_id = ?, paid_at = ?"
                        " WHERE out_trade_no = ? AND state = 'NOTPAY'",
                        (_digits_id("4200", now), paid_at, sub["out_trade_no"]),
                    )
                db.execute("UPDATE combines SET state = 'SUCCESS', paid_at = ? WHERE combine_out_trade_no = ?",
                           (paid_at, out_trade_no))
        resource = self.combined_resource(out_trade_no)
        assert resource is not None
        return resource

    async def query_combined_payment(self, out_trade_no: str) -> PaymentResult | None:
        if self._take_failure("fail_next_queries"):
            raise self._refuse("query_combined_payment", "SYSTEM_ERROR", simulated=True)
        resource = await asyncio.to_thread(self.combined_resource, out_trade_no)
        return None if resource is None else combine_to_result(self.name, resource)

    # ------------------------------------------------------------------ the remembered world

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (BEGIN IMMEDIATE): safe across threads and processes."""
        with self._lock:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()

    def _refuse(self, operation: str, provider_code: str, **detail: Any) -> ProviderError:
        return ProviderError(provider=self.name, operation=operation, provider_code=provider_code, **detail)

    def _take_failure(self, counter: str) -> bool:
        with self._lock:
            n = getattr(self, counter)
            if n > 0:
                setattr(self, counter, n - 1)
                return True
            return False

    def _result(self, row: sqlite3.Row) -> PaymentResult:
        paid_at = datetime.fromisoformat(row["paid_at"]) if row["paid_at"] else None
        tx = self.transaction_object(
            row["out_trade_no"],
            row["transaction_id"] or "",
            row["amount_fen"],
            paid_at,
            trade_state=row["state"],
        )
        return transaction_to_result(self.name, tx)  # the same mapping as a real WeChat query answer

    def _create(
        self, out_trade_no: str, amount_fen: int, description: str, expires_at: datetime | None, now: datetime
    ) -> None:
        with self._db() as db:
            row = db.execute("SELECT * FROM transactions WHERE out_trade_no = ?", (out_trade_no,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO transactions"
                    " (out_trade_no, amount_fen, description, state, expires_at, created_at)"
                    " VALUES (?, ?, ?, 'NOTPAY', ?, ?)",
                    (
                        out_trade_no,
                        amount_fen,
                        description,
                        as_utc(expires_at).isoformat() if expires_at else None,
                        now.isoformat(),
                    ),
                )
            elif row["amount_fen"] != amount_fen:
                raise self._refuse("create_payment", "INVALID_REQUEST", reason="out_trade_no reused")
            elif row["state"] != "NOTPAY":
                raise self._refuse("create_payment", "ORDERPAID")

    async def create_payment(
        self,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        payer_ref: str | None = None,
        *,
        client_ip: str | None = None,
        expires_at: datetime | None = None,
    ) -> PaymentIntent:
        require_fen(amount_fen)
        await asyncio.to_thread(self._create, out_trade_no, amount_fen, description, expires_at, clock.now())
        return PaymentIntent(
            provider=self.name,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            client_params={
                "pay_url": self.pay_url.format(out_trade_no=quote(out_trade_no, safe="")),
                "sandbox": True,
            },
        )

    def mark_paid(self, out_trade_no: str, amount_fen: int, *, now: datetime | None = None) -> PaymentResult:
        """The buyer pressed "pay" on the sandbox page: money arrives. Idempotent (a second press
        returns the first payment). The caller then builds and delivers the notification:
        `build_notification(r.out_trade_no, r.transaction_id, r.amount_fen, r.paid_at)`."""
        require_fen(amount_fen)
        now = as_utc(now) if now is not None else clock.now()
        with self._db() as db:
            row = db.execute("SELECT * FROM transactions WHERE out_trade_no = ?", (out_trade_no,)).fetchone()
            if row is None:  # paying an order the sandbox was never told about: open it on the fly
                db.execute(
                    "INSERT INTO transactions (out_trade_no, amount_fen, state, created_at)"
                    " VALUES (?, ?, 'NOTPAY', ?)",
                    (out_trade_no, amount_fen, now.isoformat()),
                )
                row = db.execute(
                    "SELECT * FROM transactions WHERE out_trade_no = ?", (out_trade_no,)
                ).fetchone()
            if row["amount_fen"] != amount_fen:
                raise self._refuse("mark_paid", "INVALID_REQUEST", reason="amount differs from the order")
            if row["state"] == "NOTPAY":
                if row["expires_at"] and now > datetime.fromisoformat(row["expires_at"]):
                    raise self._refuse("mark_paid", "ORDER_CLOSED", reason="payment window has passed")
                db.execute(
                    "UPDATE transactions SET state = 'SUCCESS', transaction_id = ?, paid_at = ?"
                    " WHERE out_trade_no = ? AND state = 'NOTPAY'",
                    (_digits_id("4200", now), now.isoformat(timespec="seconds"), out_trade_no),
                )
                row = db.execute(
                    "SELECT * FROM transactions WHERE out_trade_no = ?", (out_trade_no,)
                ).fetchone()
            return self._result(row)

    def _query(self, out_trade_no: str) -> PaymentResult | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM transactions WHERE out_trade_no = ?", (out_trade_no,)).fetchone()
        return None if row is None else self._result(row)

    async def query_payment(self, out_trade_no: str) -> PaymentResult | None:
        if self._take_failure("fail_next_queries"):
            raise self._refuse("query_payment", "SYSTEM_ERROR", simulated=True)
        return await asyncio.to_thread(self._query, out_trade_no)

    def _refund(
        self,
        out_refund_no: str,
        out_trade_no: str,
        transaction_id: str,
        refund_fen: int,
        total_fen: int,
        now: datetime,
    ) -> RefundResult:
        with self._db() as db:
            done = db.execute("SELECT * FROM refunds WHERE out_refund_no = ?", (out_refund_no,)).fetchone()
            if done is not None:  # the same out_refund_no never refunds twice
                return RefundResult(
                    provider=self.name,
                    out_refund_no=out_refund_no,
                    refund_id=done["refund_id"],
                    amount_fen=done["amount_fen"],
                    status=done["status"],
                    raw={"out_trade_no": done["out_trade_no"], "replayed": True},
                )
            tx = db.execute("SELECT * FROM transactions WHERE out_trade_no = ?", (out_trade_no,)).fetchone()
            if tx is None or tx["state"] == "NOTPAY":
                raise self._refuse("refund", "RESOURCE_NOT_EXISTS", reason="order not paid")
            if transaction_id and transaction_id != tx["transaction_id"]:
                raise self._refuse("refund", "INVALID_REQUEST", reason="transaction_id does not match")
            if total_fen != tx["amount_fen"]:
                raise self._refuse("refund", "INVALID_REQUEST", reason="total does not match the order")
            if tx["refunded_fen"] + refund_fen > tx["amount_fen"]:
                raise self._refuse("refund", "NOT_ENOUGH", reason="refund exceeds the refundable amount")
            refund_id = _digits_id("50", now, 29)
            db.execute(
                "INSERT INTO refunds (out_refund_no, refund_id, out_trade_no, amount_fen, status, created_at)"
                " VALUES (?, ?, ?, ?, 'succeeded', ?)",
                (out_refund_no, refund_id, out_trade_no, refund_fen, now.isoformat()),
            )
            db.execute(
                "UPDATE transactions SET refunded_fen = refunded_fen + ?, state = 'REFUND'"
                " WHERE out_trade_no = ?",
                (refund_fen, out_trade_no),
            )
        return RefundResult(
            provider=self.name,
            out_refund_no=out_refund_no,
            refund_id=refund_id,
            amount_fen=refund_fen,
            status="succeeded",
            raw={"out_trade_no": out_trade_no},
        )

    async def refund(
        self,
        out_refund_no: str,
        out_trade_no: str,
        transaction_id: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundResult:
        require_fen(refund_fen, "refund_fen")
        require_fen(total_fen, "total_fen")
        if self._take_failure("fail_next_refunds"):
            raise self._refuse("refund", "SYSTEM_ERROR", simulated=True)
        return await asyncio.to_thread(
            self._refund, out_refund_no, out_trade_no, transaction_id, refund_fen, total_fen, clock.now()
        )

    def _query_refund(self, out_refund_no: str) -> RefundResult | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM refunds WHERE out_refund_no = ?", (out_refund_no,)).fetchone()
        if row is None:
            return None
        return RefundResult(
            provider=self.name,
            out_refund_no=out_refund_no,
            refund_id=row["refund_id"],
            amount_fen=row["amount_fen"],
            status=row["status"],
            raw={"out_trade_no": row["out_trade_no"]},
        )

    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        if self._take_failure("fail_next_queries"):
            raise self._refuse("query_refund", "SYSTEM_ERROR", simulated=True)
        return await asyncio.to_thread(self._query_refund, out_refund_no)

    def refunded_fen(self, out_trade_no: str) -> int:
        with self._db() as db:
            row = db.execute(
                "SELECT refunded_fen FROM transactions WHERE out_trade_no = ?", (out_trade_no,)
            ).fetchone()
        return 0 if row is None else int(row["refunded_fen"])

    def _transfer(
        self, out_batch_no: str, payee_ref: str, amount_fen: int, remark: str, now: datetime
    ) -> TransferResult:
        with self._db() as db:
            done = db.execute("SELECT * FROM transfers WHERE out_batch_no = ?", (out_batch_no,)).fetchone()
            if done is not None:
                return TransferResult(
                    provider=self.name,
                    out_batch_no=out_batch_no,
                    transfer_id=done["transfer_id"],
                    amount_fen=done["amount_fen"],
                    status=done["status"],
                    raw={"replayed": True},
                )
            transfer_id = _digits_id("1330", now, 40)
            db.execute(
                "INSERT INTO transfers (out_batch_no, transfer_id, payee_ref, amount_fen, remark, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, 'succeeded', ?)",
                (out_batch_no, transfer_id, payee_ref, amount_fen, remark, now.isoformat()),
            )
        return TransferResult(
            provider=self.name,
            out_batch_no=out_batch_no,
            transfer_id=transfer_id,
            amount_fen=amount_fen,
            status="succeeded",
        )

    async def transfer(
        self, out_batch_no: str, payee_ref: str, amount_fen: int, remark: str
    ) -> TransferResult:
        require_fen(amount_fen)
        if self._take_failure("fail_next_transfers"):
            raise self._refuse("transfer", "SYSTEM_ERROR", simulated=True)
        return await asyncio.to_thread(
            self._transfer, out_batch_no, payee_ref, amount_fen, remark, clock.now()
        )
