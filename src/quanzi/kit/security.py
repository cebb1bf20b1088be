"""Secrets, hashing and signing helpers (no business rules)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from pwdlib import PasswordHash

_passwords = PasswordHash.recommended()  # argon2id


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        _passwords.hash(password)  # spend the same time whether or not the account has a password
        return False
    return _passwords.verify(password, hashed)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, message: str, *, purpose: str) -> str:
    mac = hmac.new(f"{purpose}:{secret}".encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def verify_signature(secret: str, message: str, signature: str, *, purpose: str, prefix: bool = False) -> bool:
    """Constant-time check. With prefix=True a truncated signature (≥ 22 chars, 132 bits) is accepted."""
    expected = sign(secret, message, purpose=purpose)
    if prefix:
        if len(signature) < 22:
            return False
        expected = expected[: len(signature)]
    return hmac.compare_digest(expected, signature)


def numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"
