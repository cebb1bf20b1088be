"""The engagement pages (Chinese by default, English on request): check-in, a public draw with its winners,
red packets, polls with the result chart, the calendar; the shopkeeper's console with the health chart."""

from __future__ import annotations

from datetime import timedelta

from quanzi.engagement import service
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from tests.engagement._support import grant, make_community, member, open_draw, prize


async def _follow(client, r, headers):  # noqa: ANN001, ANN202
    assert r.status_code == 303, r.text
    return await client.get(r.headers["location"], headers=headers, cookies=r.cookies)


async def test_fan_pages_check_in_draw_packet_poll(client, db: Database) -> None:  # noqa: ANN001
    c = await make_community(db)
    cid = c.community_id
    fan, h = await member(db, cid, "小红")
    r = await client.get(f"/circles/{cid}/checkin", headers=h)
    assert r.status_code == 200 and "每日签到" in r.text and 'data-testid="eg-checkin-button"' in r.text
    page = await _follow(client, await client.post(f"/circles/{cid}/checkin", headers=h), h)
    assert 'data-testid="eg-notice"' in page.text and 'data-testid="eg-checked"' in page.text
    page = await _follow(client, await client.post(f"/circles/{cid}/checkin", headers=h), h)
    assert 'data-testid="eg-error"' in page.text and "今天已经签到过了" in page.text
    en = await client.get(f"/circles/{cid}/checkin?lang=en", headers=h)
    assert "Daily check-in" in en.text

    did = await open_draw(db, c, [prize("芒果一箱", 10_000, 1)], cost=5, limit=1)
    r = await client.get(f"/circles/{cid}/draws", headers=h)
    assert f'data-testid="eg-draw-{did}"' in r.text
    page = await _follow(client, await client.post(f"/draws/{did}/enter", headers=h), h)
    assert "芒果一箱" in page.text and 'data-testid="eg-winner"' in page.text
    public = await client.get(f"/draws/{did}")  # anyone may check the winners
    assert public.status_code == 200 and "小**" in public.text and 'data-testid="eg-digest"' in public.text
    page = await _follow(client, await client.post(f"/draws/{did}/enter", headers=h), h)
    assert "次数已用完" in page.text

    await grant(db, c.world.shop_id, fan, 20)
    page = await _follow(client, await client.post(f"/circles/{cid}/red-packets", headers=h,
                                                   data={"total_points": "20", "parts": "2", "split": "fixed"}), h)
    assert 'data-testid="eg-notice"' in page.text
    _, h2 = await member(db, cid, "小明")
    async with db.read() as s:
        pid = (await service.packets_of(s, cid))[0].id
    page = await _follow(client, await client.post(f"/red-packets/{pid}/grab", headers=h2), h2)
    assert 'data-testid="eg-packet-mine"' in page.text
    page = await _follow(client, await client.post(f"/red-packets/{pid}/grab", headers=h2), h2)
    assert "你已经抢过这个红包了" in page.text

    async with db.write() as s:
        p = await service.create_poll(s, cid, c.owner_id, question="下周上什么？", options=["荔枝", "杨梅"],
                                      multiple=False, anonymous=False, closes_at=clock.now() + timedelta(hours=1))
        opt = (await service.options_of(s, p.id))[0].id
        await service.save_settings(s, cid, c.owner_id, {"poll_results_for_members": True})
    page = await _follow(client, await client.post(f"/polls/{p.id}/answer", headers=h, data={"option": str(opt)}), h)
    assert 'data-testid="eg-answered"' in page.text and f'data-testid="eg-poll-chart-{p.id}"' in page.text
    clock.advance(timedelta(hours=2))
    page = await _follow(client, await client.post(f"/polls/{p.id}/answer", headers=h2, data={"option": str(opt)}), h2)
    assert "投票已截止" in page.text

    r = await client.get(f"/circles/{cid}/calendar", headers=h)
    assert r.status_code == 200 and "活动日历" in r.text


async def test_outsiders_get_404_and_console_is_for_staff(client, db: Database) -> None:  # noqa: ANN001
    c = await make_community(db)
    cid = c.community_id
    _, h = await member(db, cid)
    from tests.community._support import new_fan

    _, outsider = await new_fan(db)
    assert (await client.get(f"/circles/{cid}/checkin", headers=outsider)).status_code == 404
    assert (await client.get(f"/console/circles/{cid}/engagement", headers=h)).status_code == 404
    owner = c.world.shopkeeper_headers
    r = await client.get(f"/console/circles/{cid}/engagement", headers=owner)
    assert r.status_code == 200 and 'data-testid="ec-health-chart"' in r.text
    ends = (clock.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    r = await client.post(f"/console/circles/{cid}/draws", headers=owner, data={
        "title": "周年抽奖", "rules": "每人一次", "cost_points": "0", "per_person_limit": "1", "ends_at": ends,
        "prize_name": ["大奖", ""], "prize_kind": ["goods", "goods"], "prize_chance": ["10", ""],
        "prize_stock": ["1", ""], "prize_value": ["50000.01", ""], "prize_points": ["", ""], "publish": "1"})
    page = await _follow(client, r, owner)
    assert "50000" in page.text  # refused: over the legal cap, said on the page
    r = await client.post(f"/console/circles/{cid}/draws", headers=owner, data={
        "title": "周年抽奖", "rules": "每人一次", "cost_points": "0", "per_person_limit": "1", "ends_at": ends,
        "prize_name": ["大奖"], "prize_kind": ["goods"], "prize_chance": ["10"], "prize_stock": ["1"],
        "prize_value": ["99"], "prize_points": [""], "publish": "1"})
    page = await _follow(client, r, owner)
    assert "周年抽奖" in page.text
    r = await client.post(f"/console/circles/{cid}/calendar", headers=owner, data={
        "kind": "drop", "title": "周五上新", "starts_at": ends, "repeat": "2"})
    page = await _follow(client, r, owner)
    assert page.text.count("周五上新") >= 2


async def test_operator_sets_repurchase_cycles_on_the_policy_page(client, db: Database) -> None:  # noqa: ANN001
    from quanzi.accounts.models import Role
    from quanzi.catalog import service as catalog
    from tests.conftest import make_user

    _, op = await make_user(db, "13800000098", Role.OPERATOR)
    async with db.write() as s:
        fruit = (await catalog.ensure_category(s, "水果", "Fruit")).id
    r = await client.get("/console/engagement-policy", headers=op)
    assert r.status_code == 200 and f'name="cat_{fruit}"' in r.text and "签到单日最高积分" in r.text
    form = {"checkin_enabled": "1", "draws_enabled": "1", "max_prize_value": "50000", "max_checkin_points": "100",
            "max_draw_cost_points": "10000", "max_packet_points": "100000", "max_packet_parts": "200",
            "packet_hours": "24", "max_invite_points": "1000", "max_invite_daily_cap": "20",
            "default_cadence_days": "14", f"cat_{fruit}": "7"}
    page = await _follow(client, await client.post("/console/engagement-policy", headers=op, data=form), op)
    assert f'value="7" data-testid="cat-{fruit}"' in page.text
    over = await _follow(client, await client.post("/console/engagement-policy", headers=op,
                                                   data={**form, "max_prize_value": "50000.01"}), op)
    assert f'value="7" data-testid="cat-{fruit}"' in over.text and 'data-testid="flash"' in over.text
    async with db.read() as s:
        pol = await service.operator_policy(s)
    assert pol.repurchase_days == {str(fruit): 7} and not pol.polls_enabled and pol.max_prize_value_fen == 5_000_000
