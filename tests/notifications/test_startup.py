"""A production configuration without a real SMS provider refuses to start, saying what to set; a development
configuration starts on the console provider; a complete production SMS configuration starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from quanzi.app import create_app
from quanzi.notifications.channels import AliyunSms, TencentSms, sms
from quanzi.notifications.errors import ProductionConfigError
from tests.conftest import make_settings

ALIYUN = {"sms_provider": "aliyun", "sms_aliyun_access_key_id": "LTAI5t", "sms_aliyun_access_key_secret": "s3cret",
          "sms_templates": {"login_code": "SMS_1"}}


@pytest.mark.parametrize(("overrides", "says"), [
    ({}, "QUANZI_SMS_PROVIDER='log' only writes texts to the log"),
    ({"sms_provider": "console"}, "QUANZI_SMS_PROVIDER='console'"),
    ({**ALIYUN, "sms_aliyun_access_key_secret": ""}, "QUANZI_SMS_ALIYUN_ACCESS_KEY_SECRET are required"),
    ({"sms_provider": "tencent", "sms_tencent_secret_id": "AKID", "sms_tencent_secret_key": "k",
      "sms_templates": {"login_code": "1"}}, "QUANZI_SMS_TENCENT_APP_ID"),
    ({**ALIYUN, "sms_templates": {}}, "no 'login_code' template"),
])
def test_production_without_a_real_sms_provider_refuses_to_start(db_url: str, overrides: dict, says: str) -> None:
    settings = make_settings(db_url, environment="production", payout_sandbox=False, **overrides)
    with pytest.raises(ProductionConfigError, match="Refusing to start with QUANZI_ENVIRONMENT=production") as exc:
        create_app(settings, start_worker=False)
    assert says in str(exc.value)


def test_production_with_aliyun_or_tencent_starts(db_url: str, db) -> None:  # noqa: ANN001
    create_app(make_settings(db_url, environment="production", payout_sandbox=False, **ALIYUN), db, start_worker=False)
    assert isinstance(sms(), AliyunSms)
    create_app(make_settings(db_url, environment="production", payout_sandbox=False, sms_provider="tencent", sms_tencent_secret_id="AKID",
                             sms_tencent_secret_key="k", sms_tencent_app_id="1400000000",
                             sms_templates={"login_code": "1"}), db, start_worker=False)
    assert isinstance(sms(), TencentSms)


def test_unknown_environment_is_refused(db_url: str) -> None:
    with pytest.raises(ValidationError):
        make_settings(db_url, environment="prod")


def test_the_server_process_refuses_to_start_with_a_clear_message(db_url: str, tmp_path) -> None:  # noqa: ANN001
    """As an operator sees it: `quanzi worker` (which configures the channels like the web app) exits with the
    reason instead of running on the console provider."""
    env = {**os.environ, "QUANZI_ENVIRONMENT": "production", "DATABASE_URL": db_url, "QUANZI_SMS_PROVIDER": "log",
           "QUANZI_MEDIA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "quanzi.cli", "worker"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert "Refusing to start with QUANZI_ENVIRONMENT=production" in proc.stderr
