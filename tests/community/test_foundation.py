"""The community foundation: a shop's community with its owner, joining, the permission table, who is a member."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quanzi.community import service
from quanzi.community.errors import (
    AlreadyMember,
    Banned,
    CapacityInvalid,
    CommunityFull,
    Muted,
    NoPermission,
    NotMember,
    RulesNotAccepted,
)
from quanzi.community.models import Post
from quanzi.community.permissions import PERMISSIONS, can
from quanzi.kit.db import Database
from tests.community._support import make_community, member, new_fan


def test_permission_table_is_data() -> None:
    assert set(PERMISSIONS) == {"owner", "staff", "expert", "teacher", "member"}
    assert can("owner", "edit_settings") and not can("staff", "edit_settings")
    assert can("staff", "run_draw") and can("staff", "ban") and not can("member", "ban")
    assert can("expert", "post_announcement") and can("teacher", "post_announcement")
    assert not can("member", "post_announcement") and not can("member", "pin")
    assert not can("nobody", "read")
    for role, actions in PERMISSIONS.items():
        assert PERMISSIONS["member"] <= actions, role  # every role may do what a member may


async def test_owner_is_the_first_member_and_fans_join(db: Database) -> None:
    circle = await make_community(db)
    fan, _ = await member(db, circle.community_id, "小红")
    async with db.read() as s:
        c = await service.get_community(s, circle.community_id)
        assert c.member_count == 2 and c.capacity == 500 and c.rules_version == 1
        owner = await service.require_member(s, c.id, circle.owner_id)
        assert owner.role == "owner"
        m = await service.require_member(s, c.id, fan)
        assert m.role == "member" and m.accepted_rules_version == 1 and m.name == "小红"
        assert [x.id for x in await service.communities_of_shop(s, circle.world.shop_id)] == [c.id]
        assert [(x.id, y.user_id) for x, y in await service.my_communities(s, fan)] == [(c.id, fan)]
        welcome = (await s.execute(select(Post).where(Post.community_id == c.id))).scalars().all()
        assert [(p.kind, p.subject_id, p.body) for p in welcome] == [("system", fan, "欢迎加入！")]
        assert (await service.require_permission(s, c.id, circle.owner_id, "edit_settings")).role == "owner"
        with pytest.raises(NoPermission):
            await service.require_permission(s, c.id, fan, "pin")


async def test_strangers_rules_full_and_banned(db: Database) -> None:
    circle = await make_community(db, capacity=3)
    stranger, _ = await new_fan(db)
    async with db.write() as s:
        with pytest.raises(NotMember):
            await service.require_member(s, circle.community_id, stranger)
        with pytest.raises(RulesNotAccepted):
            await service.join(s, circle.community_id, stranger, accepted_rules_version=None)
    a, _ = await member(db, circle.community_id)
    async with db.write() as s:
        with pytest.raises(AlreadyMember):
            await service.join(s, circle.community_id, a, accepted_rules_version=1)
    await member(db, circle.community_id)
    async with db.write() as s:
        with pytest.raises(CommunityFull) as full:
            await service.join(s, circle.community_id, stranger, accepted_rules_version=1)
        assert full.value.status == 409 and full.value.code == "community.full"
    async with db.write() as s:
        m = await service.membership(s, circle.community_id, a)
        assert m is not None
        await service.remove(s, circle.community_id, circle.owner_id, m.id, "发广告", ban=True)
    async with db.write() as s:
        assert (await service.get_community(s, circle.community_id)).member_count == 2
        with pytest.raises(Banned):
            await service.join(s, circle.community_id, a, accepted_rules_version=1)
        with pytest.raises(Banned):
            await service.require_member(s, circle.community_id, a)
        with pytest.raises(CapacityInvalid):
            await service.update_community(s, circle.community_id, circle.owner_id,
                                           service.Settings(name="x", capacity=20_001))


async def test_muted_member_cannot_speak(db: Database) -> None:
    circle = await make_community(db)
    fan, _ = await member(db, circle.community_id)
    async with db.write() as s:
        m = await service.membership(s, circle.community_id, fan)
        assert m is not None
        await service.mute(s, circle.community_id, circle.owner_id, m.id, 60, "刷屏")
    async with db.read() as s:
        with pytest.raises(Muted):
            await service.require_permission(s, circle.community_id, fan, "post")
        assert (await service.require_permission(s, circle.community_id, fan, "like")).user_id == fan
