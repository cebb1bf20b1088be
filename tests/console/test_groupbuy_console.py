"""Operator group-buy console: an activity created through the form with every term (yuan, percent, China
time), bad terms refused (group size 1 by the form, per-order above per-person by the service) with nothing
written, fans refused; and the numbers after one group succeeded and one failed with its refunds, the same on
the console page, the overview and the service."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from quanzi.audit.models import AuditLog
from quanzi.groupbuy import service
from quanzi.groupbuy.models import GroupActivity, GroupSku
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.kit.console import CHINA
from quanzi.kit.money import yuan
from tests.console.helpers import browser
from tests.factories import make_world
from tests.groupbuy._support import GROUP_PRICE, SHIPPING, fans, join_paid, open_paid, order_row, setup

OPERATOR = "13800009999"


def _cell(html: str, row: str, testid: str) -> str:
    part = html[html.index(f'data-testid="{row}"'):]
    m = re.search(r'data-testid="' + testid + r'">([^<]*)<', part)
    assert m, (row, testid)
    return m.group(1).strip()


def _form(w, **over: object) -> dict[str, object]:  # noqa: ANN001
    start = clock.now().astimezone(CHINA).replace(second=0, microsecond=0)
    values: dict[str, object] = {
        "product": w.product_id, "title": "苹果 3 人团", "sku": [str(k) for k in w.sku_ids],
        "price": ["19.90", "39.90"], "group_size": "3", "time_limit_minutes": "120", "per_order_limit": "2",
        "per_user_limit": "4", "pay_minutes": "10", "leader_discount": "2", "leader_commission": "5",
        "commission_enabled": "1", "complete_ratio": "66.67",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
    }
    values.update(over)
    return values


async def _count(db, model) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_operator_creates_a_group_buy_with_every_term(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get("/console/groupbuy/new?q=苹果")
    assert r.status_code == 200 and f'data-testid="pick-{w.product_id}"' in r.text
    r = await op.get(f"/console/groupbuy/new?product={w.product_id}")
    assert r.status_code == 200 and 'data-testid="gb-form"' in r.text

    r = await op.submit("/console/groupbuy/new", _form(w))
    assert 'data-testid="flash"' in r.text and "苹果 3 人团" in r.text
    async with db.read() as s:
        a = (await s.execute(select(GroupActivity))).scalar_one()
        rows = (await s.execute(select(GroupSku).order_by(GroupSku.id))).scalars()
        skus = [(k.sku_id, k.group_price_fen) for k in rows]
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "groupbuy.create"))).scalar_one()
    assert (a.group_size, a.time_limit_minutes, a.per_order_limit, a.per_user_limit, a.pay_minutes,
            a.leader_discount_fen, a.leader_commission_bp, a.commission_enabled, a.complete_ratio_bp) == \
        (3, 120, 2, 4, 10, 200, 500, True, 6667)
    assert skus == [(w.sku_ids[0], 1990), (w.sku_ids[1], 3990)]
    assert a.ends_at - a.starts_at == timedelta(days=5) and audit.actor_id == op.user_id
    row = f"gb-row-{a.id}"
    assert [_cell(r.text, row, f"gb-{k}") for k in ("open", "succeeded", "failed", "units-sold", "refunds")] == \
        ["0", "0", "0", "0", "0"]

    # Only one SKU in the group buy, no honest completion: an empty price leaves the SKU out.
    r = await op.submit("/console/groupbuy/new", _form(w, title="单规格团", price=["", "45"], complete_ratio=""))
    async with db.read() as s:
        b = (await s.execute(select(GroupActivity).where(GroupActivity.title == "单规格团"))).scalar_one()
        assert [(k.sku_id, k.group_price_fen) for k in (await service.skus_of(s, [b.id]))[b.id]] == \
            [(w.sku_ids[1], 4500)]
    assert b.complete_ratio_bp is None
    await op.close()


async def test_bad_group_buy_terms_are_refused_and_nothing_is_written(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    op = await browser(app, db, OPERATOR, "operator")
    await op.get(f"/console/groupbuy/new?product={w.product_id}")

    r = await op.post("/console/groupbuy/new", _form(w, group_size="1"))
    assert r.status_code == 422 and 'data-testid="form-errors"' in r.text
    assert 'data-testid="error-group_size"' in r.text and "2 到 100" in r.text
    assert 'value="1"' in r.text and 'value="苹果 3 人团"' in r.text and 'value="19.90"' in r.text

    # The per-order limit above the per-person limit: the service's rule, its code and words.
    r = await op.post("/console/groupbuy/new", _form(w, per_order_limit="5", per_user_limit="2"))
    assert r.status_code == 422
    assert 'data-testid="form-refused" data-code="groupbuy.bad_terms"' in r.text
    assert "每单限购不能大于每人限购" in r.text
    r = await op.post("/console/groupbuy/new?lang=en", _form(w, per_order_limit="5", per_user_limit="2"))
    assert "The per-order limit cannot exceed the per-person limit" in r.text

    # The leader's discount would make a price zero; the activity ending before it starts.
    r = await op.post("/console/groupbuy/new", _form(w, leader_discount="19.90"))
    assert r.status_code == 422 and f'data-testid="error-sku-{w.sku_ids[0]}-price"' in r.text
    start = _form(w)["starts_at"]
    r = await op.post("/console/groupbuy/new", _form(w, ends_at=start))
    assert r.status_code == 422 and "结束时间必须晚于开始时间" in r.text

    r = await op.post("/console/groupbuy/new", _form(w, price=["-1", ""], leader_commission="50",
                                                     complete_ratio="abc", time_limit_minutes="1"))
    assert r.status_code == 422
    for key in (f"sku-{w.sku_ids[0]}-price", "leader_commission", "complete_ratio", "time_limit_minutes"):
        assert f'data-testid="error-{key}"' in r.text, key
    r = await op.post("/console/groupbuy/new", _form(w, price=["", ""]))
    assert r.status_code == 422 and 'data-testid="error-skus"' in r.text
    async with db.read() as s:
        audits = (await s.execute(select(func.count()).where(AuditLog.action == "groupbuy.create"))).scalar_one()
    assert (await _count(db, GroupActivity), await _count(db, GroupSku), audits) == (0, 0, 0)

    fan = await browser(app, db, "13900000001")
    for url in ("/console/groupbuy", "/console/groupbuy/new"):
        assert (await fan.get(url)).status_code == 403, url
    assert (await fan.post("/console/groupbuy/new", _form(w))).status_code == 403
    assert await _count(db, GroupActivity) == 0
    await fan.close()
    await op.close()


async def test_one_group_succeeds_one_fails_and_the_numbers_agree(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=2)
    sku = w.sku_ids[0]
    f2, f3 = await fans(db, 2)
    won = await open_paid(client, db, w, act, sku, qty=2)
    await join_paid(client, db, f2, won["group_id"], sku)  # the second seat: the group succeeds
    lost = await open_paid(client, db, f3, act, sku)  # nobody joins this one
    clock.advance(timedelta(minutes=61))
    assert await sweeps.run_one(db, "groupbuy.expire") == 1
    await outbox.drain(db)
    refunded = (await order_row(db, lost["order_id"])).total_fen
    assert refunded == GROUP_PRICE + SHIPPING

    async with db.read() as s:
        st = await service.stats(s, act)
    assert (st["groups_open"], st["groups_succeeded"], st["groups_failed"], st["members_paid_seated"],
            st["units_sold"], st["refunds"], st["refunds_pending"], st["refunded_fen"]) == \
        (0, 1, 1, 2, 3, 1, 0, refunded)

    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get("/console/groupbuy")
    row = f"gb-row-{act}"
    assert [_cell(r.text, row, f"gb-{k}") for k in ("open", "succeeded", "by-platform", "failed", "members-paid",
                                                      "units-sold", "refunds")] == ["0", "1", "0", "1", "2", "3", "1"]
    assert _cell(r.text, row, "gb-refunded-amount") == yuan(refunded)
    r = await op.get("/console/campaigns")
    assert 'data-testid="campaigns-groupbuy"' in r.text and 'href="/console/groupbuy"' in r.text
    assert 'data-testid="flash"' not in r.text  # the lists are not mistaken for a one-time message
    row = f"groupbuy-row-{act}"
    assert [_cell(r.text, row, f"groupbuy-{k}") for k in ("open", "succeeded", "failed", "units-sold", "refunds")] \
        == ["0", "1", "1", "3", "1"]
    assert _cell(r.text, row, "groupbuy-refunded-amount") == yuan(refunded)
    api = (await client.get(f"/api/groupbuy/activities/{act}/stats", headers=w.fan_headers))
    assert api.status_code == 403
    await op.close()


async def test_an_open_group_counts_as_open(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=3)
    await open_paid(client, db, w, act, w.sku_ids[0])
    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get("/console/campaigns")
    row = f"groupbuy-row-{act}"
    assert [_cell(r.text, row, f"groupbuy-{k}") for k in ("open", "succeeded", "failed", "refunds")] == \
        ["1", "0", "0", "0"]
    r = await op.get("/console/groupbuy")
    assert _cell(r.text, f"gb-row-{act}", "gb-units-sold") == "0" and 'data-testid="gb-units-forming"' in r.text
    await op.close()


def test_china_time_is_what_the_form_shows() -> None:
    from quanzi.kit.console import datetime_input, parse_local_datetime

    at = datetime(2025, 6, 18, 2, 30, tzinfo=CHINA)
    assert datetime_input(at) == "2025-06-18T02:30"
    assert parse_local_datetime("2025-06-18T02:30") == at == parse_local_datetime("2025-06-18 02:30")
