"""Ledger posting: balanced, once per (kind, ref), guarded bounds — on the row-by-row and the bulk path."""

from __future__ import annotations

import pytest

from quanzi.ledger import service as ledger
from quanzi.ledger.errors import InsufficientBalance, Unbalanced
from quanzi.ledger.service import platform, user


async def test_unbalanced_refused(db) -> None:  # noqa: ANN001
    async with db.write() as s:
        with pytest.raises(Unbalanced):
            await ledger.post(s, "t", "1", [user(1, "available", 5), platform("commission_expense", -4)])


async def test_posted_once_per_kind_and_ref(db) -> None:  # noqa: ANN001
    async with db.write() as s:
        assert await ledger.post(s, "t", "1", [user(1, "pending", 5), platform("commission_expense", -5)])
        assert await ledger.post(s, "t", "1", [user(1, "pending", 5), platform("commission_expense", -5)]) is None
        assert (await ledger.balances(s, 1))["pending"] == 5
        assert await ledger.check(s) == []


@pytest.mark.parametrize("accounts", [2, 40])  # row-by-row guarded updates, and the bulk path
async def test_available_never_negative(db, accounts: int) -> None:  # noqa: ANN001
    async with db.write() as s:
        legs = [user(u, "available", 10) for u in range(1, accounts)] + [platform("commission_expense",
                                                                              -10 * (accounts - 1))]
        await ledger.post(s, "fund", "1", legs)
    with pytest.raises(InsufficientBalance):
        async with db.write() as s:
            legs = [user(u, "available", -10 - (u == accounts - 1)) for u in range(1, accounts)]
            await ledger.post(s, "take", "1", [*legs, platform("commission_expense", 10 * (accounts - 1) + 1)])
    async with db.read() as s:
        values = [(await ledger.balances(s, u))["available"] for u in range(1, accounts)]
        assert values == [10] * (accounts - 1)
        assert await ledger.check(s) == []
