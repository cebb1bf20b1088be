"""Steps shared by the community tests (and the engagement tests above them): a shop's community on
make_world's shop, fans who join it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from quanzi.accounts import service as accounts
from quanzi.community import service
from quanzi.kit.db import Database
from tests.conftest import make_user
from tests.factories import World, make_world

_phones = itertools.count(1)
SHOPKEEPER_ID_PHONE = "13700000002"  # make_world's shopkeeper


@dataclass
class Circle:
    world: World
    community_id: int
    owner_id: int


async def make_community(db: Database, world: World | None = None, **settings: object) -> Circle:
    """make_world (unless given) plus a community of its shop, owned by its shopkeeper."""
    w = world or await make_world(db)
    values: dict[str, object] = {"name": "小美的水果圈", "rules": "友善交流，不发广告。", "welcome": "欢迎加入！",
                                 **settings}
    async with db.write() as s:
        owner = await accounts.get_or_create_user(s, accounts.normalize_phone(SHOPKEEPER_ID_PHONE))
        c = await service.create_community(s, owner[0].id, service.Settings(**values))  # type: ignore[arg-type]
        return Circle(w, c.id, owner[0].id)


async def new_fan(db: Database, nickname: str | None = None) -> tuple[int, dict[str, str]]:
    n = next(_phones)
    return await make_user(db, f"1391{n:07d}", nickname=nickname or f"圈友{n}")


async def join(db: Database, community_id: int, user_id: int, **kw: object) -> None:
    async with db.write() as s:
        c = await service.get_community(s, community_id)
        await service.join(s, community_id, user_id, accepted_rules_version=c.rules_version, **kw)  # type: ignore[arg-type]


async def member(db: Database, community_id: int, nickname: str | None = None, *, role: str = "member",
                 ) -> tuple[int, dict[str, str]]:
    """A new fan who joined the community (and got `role` from the owner)."""
    uid, headers = await new_fan(db, nickname)
    async with db.write() as s:
        c = await service.get_community(s, community_id)
        m = await service.join(s, community_id, uid, accepted_rules_version=c.rules_version)
        if role != "member":
            owner = (await service.list_members(s, community_id, role="owner"))[0]
            await service.set_role(s, community_id, owner.user_id, m.id, role)
    return uid, headers
