"""Double-entry bookkeeping for commission, wallets and payouts (DESIGN rule 5).

Sign convention: an account's balance is the sum of its entries. For a user's accounts a positive
balance is money the platform owes them (pending, available, withdrawing, paid_out); `debt` is never
positive: a negative debt is money the user owes the platform. Platform accounts (owner 0) take the
other side: `commission_expense` goes negative as commission is earned, `fee_income` positive as fees
are charged, `payouts` negative as money leaves.

Every transaction's entries sum to zero, entries are never edited (a reversal is a new transaction),
`(kind, ref)` is unique so the same business event is never posted twice, and cached balances change
with one guarded UPDATE each, so `available` can never go below zero, even under concurrency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.kit.clock import clock
from quanzi.kit.db import guarded_update, insert_ignore
from quanzi.ledger.errors import InsufficientBalance, Unbalanced
from quanzi.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction

PLATFORM = ("platform", 0)
USER_KINDS = ("pending", "available", "withdrawing", "paid_out", "debt")
NON_NEGATIVE = {"pending", "available", "withdrawing", "paid_out"}
NON_POSITIVE = {"debt"}
# Points (engagement): every account of these owner types is a balance that must never go below zero —
# ("points", fan id, "shop:<shop id>") a fan's points in one shop, ("pts_held", shop id, "held") points
# set aside in a shop's red packets. The shop's own ("shop", id, "pts_issued"/"pts_redeemed") go free.
NON_NEGATIVE_OWNERS = {"points", "pts_held"}
BULK_FROM = 16  # postings touching more accounts than this use the set-based path


@dataclass(frozen=True)
class Leg:
    owner_type: str
    owner_id: int
    kind: str
    amount_fen: int


def non_negative(owner_type: str, kind: str) -> bool:
    return kind in NON_NEGATIVE or owner_type in NON_NEGATIVE_OWNERS


def user(owner_id: int, kind: str, amount_fen: int) -> Leg:
    return Leg("user", owner_id, kind, amount_fen)


def platform(kind: str, amount_fen: int) -> Leg:
    return Leg("platform", 0, kind, amount_fen)


async def _account_ids(s: AsyncSession, keys: set[tuple[str, int, str]]) -> dict[tuple[str, int, str], int]:
    cols = (LedgerAccount.owner_type, LedgerAccount.owner_id, LedgerAccount.kind)
    found = {(a, b, c): i for i, a, b, c in (await s.execute(
        select(LedgerAccount.id, *cols).where(tuple_(*cols).in_(list(keys)))
    )).all()}
    missing = keys - found.keys()
    for ot, oid, kind in sorted(missing):
        await insert_ignore(s, LedgerAccount, {"owner_type": ot, "owner_id": oid, "kind": kind, "balance_fen": 0},
                            ["owner_type", "owner_id", "kind"])
    if missing:
        found.update({(a, b, c): i for i, a, b, c in (await s.execute(
            select(LedgerAccount.id, *cols).where(tuple_(*cols).in_(list(missing)))
        )).all()})
    return found


async def post(s: AsyncSession, kind: str, ref: str, legs: Sequence[Leg], reason: str = "") -> int | None:
    """Post one balanced transaction. Returns its id, or None if (kind, ref) was already posted."""
    net: dict[tuple[str, int, str], int] = defaultdict(int)
    for leg in legs:
        net[(leg.owner_type, leg.owner_id, leg.kind)] += leg.amount_fen
    net = {k: v for k, v in net.items() if v != 0}
    if sum(net.values()) != 0:
        raise Unbalanced(kind=kind, ref=ref)
    if not net:
        return None  # nothing moves: no transaction (every transaction has entries)
    now = clock.now()
    if not await insert_ignore(s, LedgerTransaction, {"kind": kind, "ref": ref, "reason": reason, "created_at": now},
                               ["kind", "ref"]):
        return None
    txn_id = (await s.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.kind == kind, LedgerTransaction.ref == ref))).scalar_one()
    ids = await _account_ids(s, set(net))
    if len(net) <= BULK_FROM:
        # Change balances in account-id order so concurrent postings cannot deadlock on PostgreSQL.
        for key in sorted(net, key=lambda k: ids[k]):
            amount = net[key]
            stmt = update(LedgerAccount).where(LedgerAccount.id == ids[key])
            if non_negative(key[0], key[2]) and amount < 0:
                stmt = stmt.where(LedgerAccount.balance_fen + amount >= 0)
            if key[2] in NON_POSITIVE and amount > 0:
                stmt = stmt.where(LedgerAccount.balance_fen + amount <= 0)
            if await guarded_update(s, stmt.values(balance_fen=LedgerAccount.balance_fen + amount)) != 1:
                raise InsufficientBalance(account=key[2], amount_fen=-amount)
    else:
        # Many accounts at once (a batch of unlocked commissions): one executemany in id order, then one
        # check of the bounds inside the same transaction; any violation rolls the whole batch back.
        rows = sorted(((ids[k], v) for k, v in net.items()), key=lambda r: r[0])
        table = LedgerAccount.__table__
        await (await s.connection()).execute(
            table.update().where(table.c.id == bindparam("acc"))
            .values(balance_fen=table.c.balance_fen + bindparam("delta")),
            [{"acc": a, "delta": d} for a, d in rows],
        )
        bad = (await s.execute(select(LedgerAccount.kind, LedgerAccount.balance_fen).where(
            LedgerAccount.id.in_([a for a, _ in rows]),
            ((LedgerAccount.kind.in_(NON_NEGATIVE) | LedgerAccount.owner_type.in_(NON_NEGATIVE_OWNERS))
             & (LedgerAccount.balance_fen < 0))
            | ((LedgerAccount.kind.in_(NON_POSITIVE)) & (LedgerAccount.balance_fen > 0)),
        ).limit(1))).first()
        if bad is not None:
            raise InsufficientBalance(account=bad[0], amount_fen=-int(bad[1]))
    await s.execute(insert(LedgerEntry), [
        {"txn_id": txn_id, "account_id": ids[k], "amount_fen": v, "created_at": now} for k, v in net.items()
    ])
    return txn_id


async def balances(s: AsyncSession, owner_id: int, owner_type: str = "user") -> dict[str, int]:
    rows = await s.execute(select(LedgerAccount.kind, LedgerAccount.balance_fen).where(
        LedgerAccount.owner_type == owner_type, LedgerAccount.owner_id == owner_id))
    out = dict.fromkeys(USER_KINDS if owner_type == "user" else (), 0)
    out.update({k: v for k, v in rows.all()})
    return out


async def balance(s: AsyncSession, owner_id: int, kind: str, owner_type: str = "user") -> int:
    return (await balances(s, owner_id, owner_type)).get(kind, 0)


async def history(s: AsyncSession, owner_type: str, owner_id: int, kind: str, *, before: int | None = None,
                  limit: int = 20) -> list[tuple[int, int, str, str, str, datetime]]:
    """One account's entries, newest first: (entry id, amount, transaction kind, ref, reason, at).
    Keyset pages: pass the last entry id seen as `before`."""
    acc = (await s.execute(select(LedgerAccount.id).where(
        LedgerAccount.owner_type == owner_type, LedgerAccount.owner_id == owner_id, LedgerAccount.kind == kind,
    ))).scalar_one_or_none()
    if acc is None:
        return []
    stmt = (select(LedgerEntry.id, LedgerEntry.amount_fen, LedgerTransaction.kind, LedgerTransaction.ref,
                   LedgerTransaction.reason, LedgerEntry.created_at)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.txn_id)
            .where(LedgerEntry.account_id == acc).order_by(LedgerEntry.id.desc()).limit(limit))
    if before is not None:
        stmt = stmt.where(LedgerEntry.id < before)
    return [tuple(r) for r in (await s.execute(stmt)).all()]  # type: ignore[misc]


async def check(s: AsyncSession) -> list[str]:
    """Every invariant of the ledger, on a live database. Returns the problems found (empty = healthy)."""
    problems: list[str] = []
    for txn_id, total in (await s.execute(
        select(LedgerEntry.txn_id, func.sum(LedgerEntry.amount_fen)).group_by(LedgerEntry.txn_id)
        .having(func.sum(LedgerEntry.amount_fen) != 0)
    )).all():
        problems.append(f"transaction {txn_id} sums to {total}, not 0")
    sums = dict((await s.execute(
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_fen)).group_by(LedgerEntry.account_id)
    )).all())
    for acc in (await s.execute(select(LedgerAccount))).scalars():
        derived = int(sums.get(acc.id, 0) or 0)
        if derived != acc.balance_fen:
            problems.append(f"account {acc.id} ({acc.owner_type}:{acc.owner_id}:{acc.kind}) cached "
                            f"{acc.balance_fen} != entries {derived}")
        if non_negative(acc.owner_type, acc.kind) and acc.balance_fen < 0:
            problems.append(f"account {acc.id} ({acc.kind}) is negative: {acc.balance_fen}")
        if acc.kind in NON_POSITIVE and acc.balance_fen > 0:
            problems.append(f"account {acc.id} (debt) is positive: {acc.balance_fen}")
    orphan = (await s.execute(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.id.notin_(select(LedgerEntry.txn_id)),
    ))).scalar_one()
    if orphan:
        problems.append(f"{orphan} transactions have no entries")
    return problems
