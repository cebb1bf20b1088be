"""Invite-new rewards: never for a sign-up, only the invitee's first paid order in the shop, paid only after
its return window, reversed on refund, capped per day, refused for a number that had an account before."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from quanzi.accounts import service as accounts
from quanzi.community import service as community
from quanzi.engagement import service
from quanzi.engagement.models import Invitation
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.ledger import service as ledger
from tests.engagement._support import Circle, balance, make_community, member
from tests.factories import SHARE_SECRET, Fan, ask_refund, buy, lines_of, new_buyer, ship_and_receive


async def _setup(db: Database, *, reward: int = 100, cap: int = 5) -> tuple[Circle, int]:
    c = await make_community(db)
    inviter, _ = await member(db, c.community_id, "邀请人")
    async with db.write() as s:
        await service.save_settings(s, c.community_id, c.owner_id, {"invite_enabled": True,
                                                                    "invite_reward_points": reward,
                                                                    "invite_daily_cap": cap})
    return c, inviter


async def _invited(db: Database, c: Circle, inviter: int, buyer: Fan | None = None) -> Fan:
    fan = buyer or await new_buyer(db)
    async with db.write() as s:
        raw = await community.issue_invite(s, SHARE_SECRET, c.community_id, inviter)
        tok = await community.verify_invite(s, SHARE_SECRET, c.community_id, raw)
        comm = await community.get_community(s, c.community_id)
        await community.join(s, c.community_id, fan.user_id, accepted_rules_version=comm.rules_version, invite=tok)
    await outbox.drain(db)
    return fan


async def _status(db: Database, invitee: int) -> tuple[str, str | None]:
    async with db.read() as s:
        inv = (await s.execute(select(Invitation).where(Invitation.invitee_id == invitee))).scalar_one()
        return inv.status, inv.refusal


async def _complete(db: Database, order_id: int) -> None:
    await ship_and_receive(db, order_id)
    await outbox.drain(db)
    clock.advance(timedelta(days=8))  # past the 7-day return window
    await sweeps.run_due(db, force=True)
    await outbox.drain(db)


async def test_signup_alone_pays_nothing_first_order_pays_after_the_return_window(db: Database, app: object) -> None:
    c, inviter = await _setup(db)
    fan = await _invited(db, c, inviter)
    assert await _status(db, fan.user_id) == ("joined", None)
    assert await balance(db, c.world.shop_id, inviter) == 0
    order_id = await buy(db, fan, [(c.world.sku_ids[0], 1)], c.world.shop_id)
    assert (await _status(db, fan.user_id))[0] == "pending"
    await ship_and_receive(db, order_id)
    await outbox.drain(db)
    await sweeps.run_due(db, force=True)
    assert (await _status(db, fan.user_id))[0] == "pending"  # received, the window still open
    assert await balance(db, c.world.shop_id, inviter) == 0
    clock.advance(timedelta(days=8))
    await sweeps.run_due(db, force=True)
    await outbox.drain(db)
    assert (await _status(db, fan.user_id))[0] == "paid"
    assert await balance(db, c.world.shop_id, inviter) == 100
    second = await buy(db, fan, [(c.world.sku_ids[0], 1)], c.world.shop_id)  # later orders pay nothing more
    await _complete(db, second)
    assert await balance(db, c.world.shop_id, inviter) == 100
    async with db.read() as s:
        assert await ledger.check(s) == []


async def test_refunded_first_order_is_reversed_and_never_paid(db: Database, app: object) -> None:
    c, inviter = await _setup(db)
    fan = await _invited(db, c, inviter)
    order_id = await buy(db, fan, [(c.world.sku_ids[0], 1)], c.world.shop_id)
    await ship_and_receive(db, order_id)
    line = (await lines_of(db, order_id))[0]
    await ask_refund(db, fan.user_id, order_id, line.id, 1)  # approved, refunded, outbox drained
    assert await _status(db, fan.user_id) == ("reversed", "refunded")
    clock.advance(timedelta(days=8))
    await sweeps.run_due(db, force=True)
    await outbox.drain(db)
    assert await balance(db, c.world.shop_id, inviter) == 0


async def test_a_reused_phone_number_is_refused(db: Database) -> None:
    c, inviter = await _setup(db)
    fan = await new_buyer(db)
    async with db.write() as s:  # the number's earlier account was deleted (the account-deletion flow calls this)
        phone = await accounts.phone_of(s, fan.user_id)
        assert phone is not None
        await service.retire_phone(s, phone)
    await _invited(db, c, inviter, fan)
    assert await _status(db, fan.user_id) == ("refused", "phone_reused")


async def test_someone_who_already_bought_in_the_shop_is_not_new(db: Database, app: object) -> None:
    c, inviter = await _setup(db)
    fan = await new_buyer(db)
    await buy(db, fan, [(c.world.sku_ids[0], 1)], c.world.shop_id)
    await _invited(db, c, inviter, fan)
    assert await _status(db, fan.user_id) == ("refused", "not_new")


async def test_daily_cap_defers_the_rest_to_another_day(db: Database, app: object) -> None:
    c, inviter = await _setup(db, reward=10, cap=1)
    fans = [await _invited(db, c, inviter) for _ in range(2)]
    orders = [await buy(db, f, [(c.world.sku_ids[0], 1)], c.world.shop_id) for f in fans]
    for o in orders:
        await ship_and_receive(db, o)
    await outbox.drain(db)
    clock.advance(timedelta(days=8))
    await sweeps.run_due(db, force=True)
    await outbox.drain(db)
    assert sorted([(await _status(db, f.user_id))[0] for f in fans]) == ["paid", "pending"]
    assert await balance(db, c.world.shop_id, inviter) == 10
    clock.advance(timedelta(days=1))
    await sweeps.run_due(db, force=True)
    assert [(await _status(db, f.user_id))[0] for f in fans] == ["paid", "paid"]
    assert await balance(db, c.world.shop_id, inviter) == 20


async def test_a_paid_reward_is_taken_back_on_a_later_refund(db: Database, app: object) -> None:
    c, inviter = await _setup(db, reward=30)
    fan = await _invited(db, c, inviter)
    order_id = await buy(db, fan, [(c.world.sku_ids[0], 1)], c.world.shop_id)
    await _complete(db, order_id)
    assert await balance(db, c.world.shop_id, inviter) == 30
    async with db.write() as s:  # a refund arriving after completion (a goodwill refund): the reward goes back
        await service.on_refund(s, order_id)
    assert await _status(db, fan.user_id) == ("reversed", "refunded")
    assert await balance(db, c.world.shop_id, inviter) == 0
    async with db.read() as s:
        assert await ledger.check(s) == []


async def test_operator_policy_api_validates_the_legal_cap(client, db: Database) -> None:  # noqa: ANN001
    from quanzi.accounts.models import Role
    from tests.conftest import make_user

    _, op = await make_user(db, "13800000099", Role.OPERATOR)
    r = await client.put("/api/engagement/policy", json={"max_prize_value_fen": 5_000_001}, headers=op)
    assert r.status_code == 422
    r = await client.put("/api/engagement/policy", json={"repurchase_days": {"1": 7}, "draws_enabled": False},
                         headers=op)
    assert r.status_code == 200 and r.json()["repurchase_days"] == {"1": 7} and not r.json()["draws_enabled"]
