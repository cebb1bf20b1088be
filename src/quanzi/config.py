"""Settings read from the environment (prefix QUANZI_, or plain DATABASE_URL / REDIS_URL)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]


def default_sqlite_url() -> str:
    return f"sqlite:///{ROOT / 'var' / 'quanzi.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default_factory=default_sqlite_url, validation_alias=AliasChoices("DATABASE_URL", "QUANZI_DATABASE_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "QUANZI_REDIS_URL"))
    secret_key: str = "dev-insecure-change-me"
    # Base URL used in share links and QR codes.
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Run the outbox/sweep worker inside the web process (embedded mode).
    embedded_worker: bool = True
    # Freeze or shift the clock for demos: an ISO timestamp the clock starts at.
    clock_start: datetime | None = None
    # Allow POST /api/dev/clock to move time (tests and demos only; never in production).
    dev_clock_api: bool = False
    # Show demo logins and, with the log SMS provider, the one-time code on the login page.
    demo_hints: bool = True
    sms_provider: str = "log"
    # Payment providers enabled in this process (comma-separated): sandbox, wechatpay, alipay.
    payment_providers: str = "sandbox"
    # Uploaded and generated images (product pictures, posters), served under /media.
    media_dir: Path = ROOT / "var" / "media"
    sandbox_key_dir: Path = ROOT / "var" / "sandbox-keys"
    login_code_ttl_seconds: int = 600
    # Rate limits (limits library syntax).
    otp_limit_per_phone: str = "1/minute;5/hour"
    otp_limit_per_ip: str = "30/hour"
    login_limit_per_ip: str = "60/hour"
    flash_limit_per_user: str = "10/second;60/minute"
    flash_limit_per_ip: str = "50/second"
    group_join_limit_per_user: str = "5/second;30/minute"
    bargain_help_limit_per_user: str = "10/minute;100/day"
    bargain_help_limit_per_ip: str = "30/minute"
    ratelimit_prefix: str = "quanzi-rl"
    # Redis keys of the flash-sale gate; two platforms sharing one Redis need different prefixes.
    flash_gate_prefix: str = "quanzi-flash"
    # Redis keys of the session cache's versions (accounts/authcache.py); one prefix per platform.
    auth_cache_prefix: str = "quanzi-auth"
    # Make the Redis gate agree with the database when a server starts (after a crash, a Redis flush…).
    flash_reconcile_on_start: bool = True
    session_days: int = 30
    cookie_secure: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    outbox_max_attempts: int = 8
    worker_poll_seconds: float = 1.0

    @field_validator("database_url")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("DATABASE_URL must not be empty")
        return v

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
