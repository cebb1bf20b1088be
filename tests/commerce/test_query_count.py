"""Hot endpoints issue a bounded number of SQL statements (goal for checkout: at most 25)."""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

from sqlalchemy import event

from quanzi.kit.db import Database
from tests.factories import make_world

CHECKOUT_BUDGET = 25


@contextmanager
def count_statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ARG001
        seen.append(" ".join(statement.split())[:90])

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)


async def test_checkout_statement_budget(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    body = {"address_id": w.address_id, "items": [
        {"sku_id": w.sku_ids[0], "quantity": 1, "shop_id": w.shop_id},
        {"sku_id": w.sku_ids[1], "quantity": 2, "shop_id": w.shop_id},
    ]}
    with count_statements(db) as seen:
        r = await client.post("/api/orders", json=body, headers={**w.fan_headers, "Idempotency-Key": "q1"})
    assert r.status_code == 201, r.text
    data_statements = [s for s in seen if s.split()[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"}]
    print(f"checkout: {len(data_statements)} statements:", *data_statements, sep="\n  ")
    assert len(data_statements) <= CHECKOUT_BUDGET, data_statements
