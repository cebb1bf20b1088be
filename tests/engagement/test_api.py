"""The engagement JSON API end to end, in both languages, and every refusal with its stable code."""

from __future__ import annotations

from datetime import timedelta

from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from tests.engagement._support import grant, make_community, member


def _err(r) -> str:  # noqa: ANN001
    return r.json()["error"]["code"]


async def test_checkin_draw_packet_poll_through_the_api(client, db: Database) -> None:  # noqa: ANN001
    c = await make_community(db)
    cid, owner = c.community_id, c.world.shopkeeper_headers
    fan, h = await member(db, cid, "小红")
    _other, h2 = await member(db, cid, "小明")

    r = await client.post(f"/api/circles/{cid}/checkin", headers=h)
    assert r.status_code == 201 and r.json()["streak"] == 1 and r.json()["points"] == 5, r.text
    r = await client.post(f"/api/circles/{cid}/checkin", headers={**h, "Accept-Language": "en"})
    assert r.status_code == 409 and _err(r) == "engagement.already_checked_in"
    r = await client.post(f"/api/circles/{cid}/checkin?lang=en", headers=h)
    assert r.json()["error"]["message"] == "You have already checked in today"
    r = await client.get(f"/api/circles/{cid}/checkin", headers=h)
    assert r.json()["checked_today"] and r.json()["points"] == 5

    ends = (clock.now() + timedelta(days=3)).isoformat()
    draw = {"title": "周末抽奖", "rules": "每人 1 次，每次 5 积分", "cost_points": 5, "per_person_limit": 1,
            "ends_at": ends, "prizes": [{"name": "芒果一箱", "kind": "goods", "chance_bp": 10_000, "stock": 1,
                                         "value_fen": 9900}]}
    r = await client.post(f"/api/circles/{cid}/draws", json=draw, headers=h)
    assert r.status_code == 404  # a member without run_draw: the console does not exist for them
    too_big = {**draw, "prizes": [{**draw["prizes"][0], "value_fen": 5_000_001}]}
    r = await client.post(f"/api/circles/{cid}/draws", json=too_big, headers=owner)
    assert r.status_code == 422 and _err(r) == "engagement.prize_too_valuable"
    r = await client.post(f"/api/circles/{cid}/draws", json=draw, headers=owner)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    assert (await client.get(f"/api/draws/{did}")).status_code == 404  # a draft is not public
    r = await client.post(f"/api/draws/{did}/open", headers=owner)
    assert r.json()["status"] == "open" and len(r.json()["rules_digest"]) == 64
    r = await client.post(f"/api/draws/{did}/enter", headers=h2)
    assert r.status_code == 409 and _err(r) == "engagement.not_enough_points"
    r = await client.post(f"/api/draws/{did}/enter", headers=h)
    assert r.status_code == 201 and r.json()["prize_name"] == "芒果一箱" and r.json()["balance"] == 0
    r = await client.post(f"/api/draws/{did}/enter", headers=h)
    assert r.status_code == 409 and _err(r) == "engagement.draw_limit_reached"
    r = await client.get(f"/api/draws/{did}")  # public: anyone sees the winners
    assert [(w["nickname"], w["prize_name"]) for w in r.json()["winners"]] == [("小**", "芒果一箱")]
    assert r.json()["prizes"][0]["remaining"] == 0

    await grant(db, c.world.shop_id, fan, 10)
    r = await client.post(f"/api/circles/{cid}/red-packets", json={"total_points": 10, "parts": 2, "split": "fixed"},
                          headers=h)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await client.post(f"/api/red-packets/{pid}/grab", headers=h2)
    assert r.status_code == 201 and r.json()["points"] == 5
    r = await client.post(f"/api/red-packets/{pid}/grab", headers=h2)
    assert r.status_code == 409 and _err(r) == "engagement.packet_already_grabbed"

    closes = (clock.now() + timedelta(hours=1)).isoformat()
    r = await client.post(f"/api/circles/{cid}/polls", json={"question": "下周上什么？", "options": ["荔枝", "杨梅"],
                                                            "closes_at": closes}, headers=owner)
    assert r.status_code == 201, r.text
    poll = r.json()
    r = await client.post(f"/api/polls/{poll['id']}/answer", json={"option_ids": [poll["options"][0]["id"]]}, headers=h)
    assert r.status_code == 201 and r.json()["results_visible"] is False and r.json()["options"][0]["votes"] is None
    r = await client.get(f"/api/polls/{poll['id']}", headers=owner)
    assert [o["votes"] for o in r.json()["options"]] == [1, 0]
    clock.advance(timedelta(hours=2))
    r = await client.post(f"/api/polls/{poll['id']}/answer", json={"option_ids": [poll["options"][1]["id"]]},
                          headers=h2)
    assert r.status_code == 409 and _err(r) == "engagement.poll_closed"

    r = await client.get(f"/api/circles/{cid}/points", headers=h)
    assert r.json()["balance"] == 0 and [x["kind"] for x in r.json()["history"]] == [
        "packet_fund", "test_grant", "draw_cost", "checkin"]


async def test_health_chart_is_the_shopkeepers_only(client, db: Database) -> None:  # noqa: ANN001
    c = await make_community(db)
    cid = c.community_id
    _fan, h = await member(db, cid)
    await client.post(f"/api/circles/{cid}/checkin", headers=h)
    r = await client.get(f"/api/circles/{cid}/health", headers=h)
    assert r.status_code == 404
    r = await client.get(f"/api/circles/{cid}/health", headers=c.world.shopkeeper_headers)
    assert r.status_code == 200, r.text
    days = r.json()["days"]
    assert len(days) == 30 and days[-1]["checkins"] == 1 and days[-1]["active_members"] >= 1


async def test_settings_only_for_the_owner_and_validated(client, db: Database) -> None:  # noqa: ANN001
    c = await make_community(db)
    cid = c.community_id
    _, h = await member(db, cid)
    r = await client.put(f"/api/circles/{cid}/engagement", json={"checkin_cycle": "month"}, headers=h)
    assert r.status_code == 404
    owner = c.world.shopkeeper_headers
    r = await client.put(f"/api/circles/{cid}/engagement", json={"checkin_rewards": [1, 2, 500]}, headers=owner)
    assert r.status_code == 422 and _err(r) == "engagement.bad_settings"
    r = await client.put(f"/api/circles/{cid}/engagement", json={"checkin_cycle": "month", "checkin_rewards": [1, 2]},
                         headers=owner)
    assert r.status_code == 200 and r.json()["checkin_rewards"] == [1, 2]
