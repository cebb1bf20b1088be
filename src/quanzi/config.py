"""Settings read from the environment (prefix QUANZI_, or plain DATABASE_URL / REDIS_URL)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal


from pydantic import AliasChoices, Field, SecretStr, field_validator
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
    # "development" or "production" (QUANZI_ENVIRONMENT). A production process refuses to start on development
    # stand-ins: the console SMS provider (notifications/channels.py check_production) and sandbox payouts
    # (withdrawals/payouts.py).
    environment: Literal["development", "production"] = "development"
    # SMS: "console" (or "log": development, the text goes to the log), "aliyun" or "tencent".
    sms_provider: str = "log"
    sms_sign_name: str = "圈子"
    # Event kind -> the provider's approved template (Aliyun "SMS_123…", Tencent a numeric id), JSON.
    sms_templates: dict[str, str] = {}
    sms_aliyun_access_key_id: str = ""
    sms_aliyun_access_key_secret: str = ""
    sms_aliyun_endpoint: str = "dysmsapi.aliyuncs.com"
    sms_aliyun_protocol: str = "https"
    sms_tencent_secret_id: str = ""
    sms_tencent_secret_key: str = ""
    sms_tencent_app_id: str = ""
    sms_tencent_region: str = "ap-guangzhou"
    sms_tencent_endpoint: str = "sms.tencentcloudapi.com"
    sms_tencent_scheme: str = "https"
    # WeChat subscription messages (订阅消息) of the mini-program; empty app id = channel off.
    wechat_subscribe_app_id: str = ""
    wechat_subscribe_app_secret: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    # Event kind -> {"id": template id, "data": {template key: event parameter}}, JSON.
    wechat_subscribe_templates: dict[str, dict[str, object]] = {}
    wechat_miniprogram_state: str = "formal"
    # Where a shipped order's tracking link points ({carrier} and {tracking_no} are filled in).
    tracking_url_template: str = "https://m.kuaidi100.com/result.jsp?nu={tracking_no}"
    # Payment providers enabled in this process (comma-separated): sandbox, wechatpay, alipay.
    payment_providers: str = "sandbox"
    # Uploaded and generated images (product pictures, posters), served under /media.
    media_dir: Path = ROOT / "var" / "media"
    # A node_modules folder holding package.json's packages, for an installed copy whose wheel carries no
    # page assets (kit/assets.py); unset: the wheel's own copy, else the checkout's node_modules.
    assets_dir: Path | None = None
    # A TTF/TTC/OTF font covering Simplified Chinese for posters; unset: fonts-wqy-microhei, else fontconfig.
    cjk_font: Path | None = None
    # `quanzi serve` refuses to start without a CJK font (posters would show boxes); false: a loud warning.
    require_cjk_font: bool = True

    # Where uploads are stored: "local" (media_dir, served under /media) or "s3" (any S3-compatible object
    # storage through boto3; see docs/OPERATIONS.md).
    media_storage: str = "local"
    media_max_bytes: int = 10 * 1024 * 1024  # one uploaded file
    media_upload_limit_per_user: str = "200/hour"
    media_max_pixels: int = 40_000_000  # width × height; larger is refused before decoding (decompression bombs)
    media_s3_bucket: str = ""
    media_s3_endpoint_url: str | None = None  # e.g. https://cos.ap-shanghai.myqcloud.com, https://oss-cn-hangzhou.aliyuncs.com
    media_s3_region: str | None = None
    media_s3_access_key: str | None = None
    media_s3_secret_key: str | None = None
    media_s3_prefix: str = "media/"
    # Public base URL of the stored objects (a CDN or the bucket's public URL); the key is appended.
    media_public_url: str | None = None
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
    # Redis keys of the data caches' versions (kit/cache.py: policy, catalog, shops, attribution facts).
    cache_prefix: str = "quanzi-cache"
    # Make the Redis gate agree with the database when a server starts (after a crash, a Redis flush…).
    flash_reconcile_on_start: bool = True
    session_days: int = 30
    cookie_secure: bool = False
    log_level: str = "INFO"
    log_json: bool = True
    outbox_max_attempts: int = 8
    worker_poll_seconds: float = 1.0

    # Pay WeChat/Alipay withdrawals with the sandbox instead of a real transfer (development and demos only;
    # refused at start in production). Off: such a withdrawal needs the real provider configured.
    payout_sandbox: bool = False
    # Merchant settings read by payments.providers.ProviderConfig.from_settings (payments and payouts).
    # WeChat Pay v3, platform public-key mode; configured once wechatpay_mchid is set.
    wechatpay_mchid: str | None = None
    wechatpay_appid: str | None = None  # the app whose openids are paid (official account or mini program)
    wechatpay_apiv3_key: SecretStr | None = None
    wechatpay_private_key_path: str | None = None  # merchant API private key (PEM)
    wechatpay_cert_serial_no: str | None = None
    wechatpay_public_key_path: str | None = None  # WeChat Pay platform public key (PEM)
    wechatpay_public_key_id: str | None = None  # PUB_KEY_ID_…
    wechatpay_notify_url: str | None = None
    wechatpay_refund_notify_url: str | None = None
    wechatpay_transfer_notify_url: str | None = None
    wechatpay_transfer_scene_id: str | None = None  # 商家转账 scene, default 1005 (佣金报酬)
    wechatpay_api_base_url: str | None = None
    # Alipay open platform (RSA2); configured once alipay_app_id is set.
    alipay_app_id: str | None = None
    alipay_app_private_key_path: str | None = None
    alipay_public_key_path: str | None = None
    alipay_notify_url: str | None = None
    alipay_return_url: str | None = None
    alipay_seller_id: str | None = None
    alipay_sandbox: bool = False
    alipay_gateway_url: str | None = None
    # WeChat official account (公众号): H5 OAuth login and JS-SDK share cards. Empty app id: WeChat is off.
    wechat_app_id: str = ""
    wechat_app_secret: SecretStr = SecretStr("")
    # snsapi_base (silent, openid only) or snsapi_userinfo (asks the person; nickname and avatar too).
    wechat_oauth_scope: Literal["snsapi_base", "snsapi_userinfo"] = "snsapi_base"
    # WeChat mini program (小程序): code2session login.
    wechat_mini_app_id: str = ""
    wechat_mini_app_secret: SecretStr = SecretStr("")
    # Redis key prefix of the cached access token and jsapi_ticket (two platforms on one Redis: differ).
    wechat_cache_prefix: str = "quanzi-wechat"
    # WeChat's API and authorize origins (tests and egress proxies point them elsewhere).
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_open_base_url: str = "https://open.weixin.qq.com"
    # The JS-SDK script, loaded only inside WeChat and only when wechat_app_id is set (also added to the CSP).
    wechat_jssdk_url: str = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"

    @field_validator("database_url")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("DATABASE_URL must not be empty")
        return v

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
