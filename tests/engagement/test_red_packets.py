"""Red packets of points: exact plans, one grab per member, first come, expiry returns the rest."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from quanzi.engagement import service
from quanzi.engagement.errors import BadPacket, NotEnoughPoints, PacketEmpty, PacketExpired, PacketGrabbed
from quanzi.kit import sweeps
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.ledger import service as ledger
from tests.engagement._support import balance, grant, make_community, member


async def _grab(db: Database, packet_id: int, uid: int) -> service.GrabResult:
    async with db.write() as s:
        return await service.grab(s, packet_id, uid)


async def test_member_packet_is_grabbed_once_each_until_empty(db: Database) -> None:
    c = await make_community(db)
    shop = c.world.shop_id
    sender, _ = await member(db, c.community_id)
    fans = [(await member(db, c.community_id))[0] for _ in range(4)]
    await grant(db, shop, sender, 100)
    async with db.write() as s:
        p = await service.send_packet(s, c.community_id, sender, total_points=100, parts=3, split="lucky",
                                      rng=random.Random(3))
    assert await balance(db, shop, sender) == 0
    got = [(await _grab(db, p.id, f)).points for f in fans[:3]]
    assert sum(got) == 100 and min(got) >= 1
    with pytest.raises(PacketGrabbed):
        await _grab(db, p.id, fans[0])
    with pytest.raises(PacketEmpty):
        await _grab(db, p.id, fans[3])
    async with db.read() as s:
        assert (await service.get_packet(s, p.id)).status == "finished"
        assert await ledger.check(s) == []
    assert [await balance(db, shop, f) for f in fans] == [*got, 0]


async def test_not_enough_points_and_bad_packets_are_refused(db: Database) -> None:
    c = await make_community(db)
    sender, _ = await member(db, c.community_id)
    await grant(db, c.world.shop_id, sender, 5)
    with pytest.raises(NotEnoughPoints):
        async with db.write() as s:
            await service.send_packet(s, c.community_id, sender, total_points=6, parts=2, split="fixed")
    with pytest.raises(BadPacket):
        async with db.write() as s:
            await service.send_packet(s, c.community_id, sender, total_points=3, parts=4, split="fixed")
    assert await balance(db, c.world.shop_id, sender) == 5
    async with db.read() as s:
        assert await service.packets_of(s, c.community_id) == []


async def test_expiry_sweep_returns_the_rest_to_the_sender(db: Database, app: object) -> None:
    c = await make_community(db)
    shop = c.world.shop_id
    sender, _ = await member(db, c.community_id)
    fan, _ = await member(db, c.community_id)
    await grant(db, shop, sender, 50)
    async with db.write() as s:
        p = await service.send_packet(s, c.community_id, sender, total_points=50, parts=5, split="fixed")
    assert (await _grab(db, p.id, fan)).points == 10
    clock.advance(timedelta(hours=25))
    with pytest.raises(PacketExpired):
        await _grab(db, p.id, sender)
    await sweeps.run_due(db, force=True)
    async with db.read() as s:
        packet = await service.get_packet(s, p.id)
        assert (packet.status, packet.returned_points) == ("expired", 40)
        assert await ledger.check(s) == []
    assert await balance(db, shop, sender) == 40
    await sweeps.run_due(db, force=True)  # a second sweep returns nothing twice
    assert await balance(db, shop, sender) == 40


async def test_shop_packet_needs_the_permission_and_returns_to_the_shop(db: Database) -> None:
    from quanzi.community.errors import NoPermission

    c = await make_community(db)
    fan, _ = await member(db, c.community_id)
    with pytest.raises(NoPermission):
        async with db.write() as s:
            await service.send_packet(s, c.community_id, fan, total_points=10, parts=2, split="fixed", from_shop=True)
    async with db.write() as s:
        p = await service.send_packet(s, c.community_id, c.owner_id, total_points=10, parts=2, split="fixed",
                                      from_shop=True)
    assert (await _grab(db, p.id, fan)).points == 5
    clock.advance(timedelta(days=2))
    async with db.write() as s:
        assert await service.expire_packet(s, p.id) == 5
        assert await ledger.balance(s, c.world.shop_id, "pts_issued", owner_type="shop") == -5
        assert await ledger.check(s) == []
