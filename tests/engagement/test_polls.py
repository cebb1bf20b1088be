"""Polls: answered once, closed polls refuse answers, anonymous answers keep no choice, results visibility."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from quanzi.engagement import service
from quanzi.engagement.errors import BadChoice, PollAnswered, PollClosed, ResultsHidden
from quanzi.engagement.models import PollAnswer
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from tests.engagement._support import later, make_community, member


async def _poll(db: Database, cid: int, owner: int, **kw: object) -> tuple[int, list[int]]:
    async with db.write() as s:
        p = await service.create_poll(s, cid, owner, question="下次进什么水果？", options=["芒果", "荔枝", "榴莲"],
                                      multiple=bool(kw.get("multiple", False)),
                                      anonymous=bool(kw.get("anonymous", False)), closes_at=later(1))
        return p.id, [o.id for o in await service.options_of(s, p.id)]


async def test_answer_once_and_not_after_closing(db: Database) -> None:
    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    late, _ = await member(db, c.community_id)
    pid, opts = await _poll(db, c.community_id, c.owner_id)
    with pytest.raises(BadChoice):
        async with db.write() as s:
            await service.answer_poll(s, pid, uid, opts[:2])  # single choice
    async with db.write() as s:
        await service.answer_poll(s, pid, uid, [opts[1]])
    with pytest.raises(PollAnswered):
        async with db.write() as s:
            await service.answer_poll(s, pid, uid, [opts[0]])
    clock.advance(timedelta(days=2))
    with pytest.raises(PollClosed):
        async with db.write() as s:
            await service.answer_poll(s, pid, late, [opts[0]])
    async with db.read() as s:
        r = await service.poll_results(s, pid, c.owner_id)
    assert [o.votes for o in r.options] == [0, 1, 0] and r.poll.answers == 1


async def test_anonymous_multiple_choice_keeps_counts_only(db: Database) -> None:
    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    pid, opts = await _poll(db, c.community_id, c.owner_id, multiple=True, anonymous=True)
    async with db.write() as s:
        await service.answer_poll(s, pid, uid, [opts[0], opts[2]])
    async with db.read() as s:
        assert (await s.execute(select(PollAnswer.option_ids))).scalar_one() is None
        r = await service.poll_results(s, pid, c.owner_id)
    assert [o.votes for o in r.options] == [1, 0, 1]


async def test_members_see_results_only_if_the_owner_allows(db: Database) -> None:
    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    pid, _ = await _poll(db, c.community_id, c.owner_id)
    with pytest.raises(ResultsHidden):
        async with db.read() as s:
            await service.poll_results(s, pid, uid)
    async with db.write() as s:
        await service.save_settings(s, c.community_id, c.owner_id, {"poll_results_for_members": True})
    async with db.read() as s:
        assert (await service.poll_results(s, pid, uid)).poll.id == pid
