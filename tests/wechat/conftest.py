from __future__ import annotations

import uuid

import httpx
import pytest

from quanzi.app import create_app
from quanzi.wechat.client import WechatClient
from tests.conftest import make_settings

from .double import MINI_APP_ID, MINI_SECRET, MP_APP_ID, MP_SECRET, WechatDouble

PUBLIC = "https://shop.example.com"


@pytest.fixture
def double() -> WechatDouble:
    return WechatDouble()


@pytest.fixture
def settings(db_url: str):  # noqa: ANN201 - WeChat configured, its API at a base URL the double answers
    return make_settings(db_url, public_url=PUBLIC, wechat_app_id=MP_APP_ID, wechat_app_secret=MP_SECRET,
                         wechat_mini_app_id=MINI_APP_ID, wechat_mini_app_secret=MINI_SECRET,
                         wechat_api_base_url="http://wechat-double.test",
                         wechat_open_base_url="https://open.weixin.qq.com",
                         wechat_cache_prefix=f"t-wechat-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def app(settings, db, double):  # noqa: ANN001, ANN201
    app = create_app(settings, db, start_worker=False)
    app.state.wechat = WechatClient(settings, transport=httpx.ASGITransport(app=double.asgi()))
    return app
