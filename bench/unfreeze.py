"""Unfreezing due commissions: our sweep (status change + double-entry postings + debt repayment, in
batches) against one bare SQL UPDATE over the same rows, in the same run, on SQLite or PostgreSQL.

    .venv/bin/python bench/unfreeze.py --db sqlite --rows 1000000
    .venv/bin/python bench/unfreeze.py --db postgresql --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import make_db  # noqa: E402

NUMBERS = "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < :count) "


async def build(db, rows: int, users: int, now) -> None:  # noqa: ANN001
    """Synthetic but valid data: users, one product, orders of 10 lines, two commission levels per line,
    and an opening ledger transaction so every pending balance equals its commissions."""
    past = now - timedelta(days=30)
    lines = rows // 2
    orders = max(lines // 10, 1)
    async with db.write() as s:
        async def run(sql: str, **params: object) -> None:
            await s.execute(text(sql), params)

        await run(NUMBERS + "INSERT INTO users (id, phone, nickname, is_active, created_at) "
                  "SELECT g, '+86137' || (10000000 + g), 'u' || g, true, :t FROM n",
                  count=users, t=past)
        await run("INSERT INTO suppliers (id, owner_id, name, created_at) VALUES (1, 1, 'bench', :t)", t=past)
        await run("INSERT INTO products (id, supplier_id, title, subtitle, description, non_returnable, "
                  "non_returnable_reason, status, search_text, sales_count, created_at, updated_at) VALUES "
                  "(1, 1, 'bench', '', '', false, '', 'published', '', 0, :t, :t)", t=past)
        await run("INSERT INTO skus (id, product_id, code, attrs, label, price_fen, cost_fen, stock, weight_g, is_active)"
                  " VALUES (1, 1, 'B1', '{}', 'x', 1000, 500, 0, 0, true)")
        await run(NUMBERS + "INSERT INTO orders (id, order_no, checkout_id, buyer_id, supplier_id, status, kind, "
                  "goods_fen, shipping_fen, discount_fen, total_fen, refunded_fen, address, note, open_aftersales, "
                  "created_at, pay_deadline, commission_eligible) SELECT g, 'B' || g, 'c', 1 + g % :users, 1, "
                  "'completed', 'normal', 10000, 0, 0, 10000, 0, '{}', '', 0, :t, :t, true FROM n",
                  count=orders, users=users, t=past)
        await run(NUMBERS + "INSERT INTO order_lines (id, order_id, sku_id, product_id, title, sku_label, "
                  "unit_price_fen, unit_cost_fen, quantity, paid_fen, non_returnable, non_returnable_reason, "
                  "refunded_qty, refunded_fen) SELECT g, 1 + (g - 1) % :orders, 1, 1, 'bench', 'x', 1000, 500, 1, "
                  "1000, false, '', 0, 0 FROM n", count=lines, orders=orders)
        await run("INSERT INTO commissions (order_id, line_id, beneficiary_id, buyer_id, level, base_fen, rule, "
                  "amount_fen, reversed_fen, status, open_aftersales, unlock_at, created_at) "
                  "SELECT l.order_id, l.id, 1 + (l.id * 7 + v.level) % :users, 1, v.level, 1000, 'rate', "
                  "CASE WHEN v.level = 1 THEN 100 ELSE 30 END, 0, 'pending', 0, :t, :t "
                  "FROM order_lines l CROSS JOIN (SELECT 1 AS level UNION ALL SELECT 2) v", users=users, t=past)
        await run("INSERT INTO ledger_transactions (id, kind, ref, reason, created_at) "
                  "VALUES (1, 'bench.opening', '1', 'opening balances', :t)", t=past)
        await run("INSERT INTO ledger_accounts (owner_type, owner_id, kind, balance_fen) "
                  "SELECT 'user', beneficiary_id, 'pending', SUM(amount_fen) FROM commissions GROUP BY beneficiary_id")
        await run("INSERT INTO ledger_accounts (owner_type, owner_id, kind, balance_fen) "
                  "SELECT 'platform', 0, 'commission_expense', -SUM(amount_fen) FROM commissions")
        await run("INSERT INTO ledger_entries (txn_id, account_id, amount_fen, created_at) "
                  "SELECT 1, id, balance_fen, :t FROM ledger_accounts", t=past)
        if db.dialect == "postgresql":  # rows were inserted with explicit ids: move the sequences past them
            for table in ("users", "suppliers", "products", "skus", "orders", "order_lines", "ledger_transactions"):
                await run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


async def bench(kind: str, rows: int, users: int, batch: int) -> dict[str, object]:
    from quanzi import domains
    from quanzi.cli import migrate_to_head
    from quanzi.distribution import service as distribution
    from quanzi.kit.clock import clock
    from quanzi.kit.db import Database
    from quanzi.ledger import service as ledger

    domains.load_all()
    bdb = make_db(kind)
    try:
        migrate_to_head(bdb.url)
        db = Database(bdb.url)
        now = clock.now()
        t0 = time.perf_counter()
        await build(db, rows, users, now)
        built = time.perf_counter() - t0
        n = (await _count(db))
        # Ceiling: one bare UPDATE over the same rows.
        t0 = time.perf_counter()
        async with db.write() as s:
            await s.execute(text("UPDATE commissions SET status = 'available', available_at = :now "
                                 "WHERE status = 'pending' AND unlock_at <= :now"), {"now": now})
        bare = time.perf_counter() - t0
        async with db.write() as s:
            await s.execute(text("UPDATE commissions SET status = 'pending', available_at = NULL"))
        # Ours: the real sweep.
        t0 = time.perf_counter()
        done = await distribution.unlock_due(db, now, batch=batch)
        ours = time.perf_counter() - t0
        async with db.read() as s:
            problems = await ledger.check(s)
        await db.dispose()
    finally:
        bdb.close()
    return {"database": kind, "rows": n, "users": users, "batch": batch, "build_s": round(built, 1),
            "bare_update_s": round(bare, 2), "sweep_s": round(ours, 2), "unlocked": done,
            "ratio": round(bare / ours, 4), "ledger_check": "ok" if not problems else problems[:3]}


async def _count(db) -> int:  # noqa: ANN001
    async with db.read() as s:
        return int((await s.execute(text("SELECT count(*) FROM commissions"))).scalar_one())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=20_000)
    args = ap.parse_args()
    result = asyncio.run(bench(args.db, args.rows, args.users, args.batch))
    print(json.dumps(result, ensure_ascii=False))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"unfreeze-{args.db}.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
