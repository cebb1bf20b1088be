"""The back office speaks Chinese by default and English on request, with labels, China time and yuan."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from quanzi.backoffice import admin
from quanzi.backoffice.i18n import LABELS
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.i18n import translations
from tests.backoffice.test_admin import OPERATOR, cookie_login
from tests.console.helpers import place
from tests.factories import make_world

VIEWS = [admin.UserAdmin, admin.UserRoleAdmin, admin.SessionAdmin, admin.OutboxAdmin, admin.AuditAdmin,
         admin.OrderAdmin, admin.RefundAdmin]


def test_every_column_has_a_label_with_a_chinese_translation() -> None:
    zh = translations("zh_CN")
    for view in VIEWS:
        for column in view.model.__table__.columns:
            if column.key in ("address",):
                continue
            assert column.key in LABELS, (view.__name__, column.key)
            if column.key != "id":  # "ID" is the same in both languages
                assert re.search(r"[\u4e00-\u9fff]", zh.ugettext(LABELS[column.key])), column.key
    for msgid in ("Users", "Orders", "Refunds", "Audit log", "Search", "Showing %(start)s to %(end)s of %(count)s items"):
        assert re.search(r"[\u4e00-\u9fff]", zh.ugettext(msgid)), msgid


async def test_order_list_in_chinese_china_time_and_yuan(client: httpx.AsyncClient, db: Database, app) -> None:  # noqa: ANN001
    # 23:30 UTC on 17 June is 07:30 on 18 June in Shanghai.
    clock.freeze(datetime(2025, 6, 17, 23, 30, 5, tzinfo=UTC))  # frozen: a loaded machine must not tick past :05
    w = await make_world(db)
    order = await place(client, w, [(w.sku_ids[0], 2)])  # 59.80 + 8.00
    await cookie_login(client, db, OPERATOR, "operator")

    r = await client.get("/admin/order/list")
    assert r.status_code == 200, r.text[:500]
    assert "订单" in r.text and "实付金额" in r.text and "创建时间" in r.text
    assert "2025-06-18 07:30:05" in r.text and "2025-06-17 23:30" not in r.text
    assert re.search(r'data-fen="6780">¥67\.80<', r.text)
    assert "Orders" not in r.text and "Total paid" not in r.text
    assert "搜索" in r.text  # sqladmin's own words too

    detail = await client.get(f"/admin/order/details/{order['id']}")
    assert detail.status_code == 200
    assert "订单号" in detail.text and order["order_no"] in detail.text
    assert re.search(r'data-fen="5980">¥59\.80<', detail.text) and "2025-06-18 07:30:05" in detail.text
    assert "世纪大道" not in detail.text  # the buyer's address is not shown here

    en = await client.get("/admin/order/list?lang=en")
    assert en.status_code == 200
    assert "Orders" in en.text and "Total paid" in en.text and "实付金额" not in en.text
    assert re.search(r'data-fen="6780">(CN)?¥67\.80<', en.text)
    assert "2025-06-18 07:30:05" in en.text

    users = await client.get("/admin/user/list?lang=zh_CN")
    assert "用户" in users.text and "手机号" in users.text and "创建时间" in users.text


async def test_details_never_show_secrets(client: httpx.AsyncClient, db: Database) -> None:
    op_id = await cookie_login(client, db, OPERATOR, "operator")
    r = await client.get(f"/admin/user/details/{op_id}")
    assert r.status_code == 200 and "手机号" in r.text
    assert "密码摘要" not in r.text and "argon2" not in r.text
    r = await client.get("/admin/auth-session/details/1")
    assert r.status_code == 200 and "令牌摘要" not in r.text
