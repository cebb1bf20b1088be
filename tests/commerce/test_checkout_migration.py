"""Migration 0007_checkout on a database with orders: the old random checkout tokens become checkout rows with
the sums of their orders, orders point at them, and payments that paid their order are marked so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import JSON, Boolean, DateTime, Integer, MetaData, create_engine, select, text
from sqlalchemy.types import TypeDecorator

from quanzi.cli import alembic_config


def _filler(column: Any) -> Any:
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, DateTime):
        return datetime(2026, 11, 1, tzinfo=UTC)
    if isinstance(kind, JSON):
        return {}
    return "x"


def _row(table: Any, **values: Any) -> dict[str, Any]:
    """Every NOT NULL column filled (SQLite without foreign keys: the referenced rows need not exist)."""
    row = {c.name: _filler(c) for c in table.columns if not c.nullable and not c.primary_key}
    row.update(values)
    return row


def test_old_orders_are_grouped_into_checkouts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0006")
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    orders = meta.tables["orders"]
    inbox = meta.tables["payment_notifications"]
    payments = meta.tables["payments"]
    with engine.begin() as conn:
        for oid, token, status, goods, ship in ((1, "a1b2", "paid", 1000, 800), (2, "a1b2", "paid", 500, 800),
                                                 (3, "c3d4", "cancelled", 2000, 0)):
            conn.execute(orders.insert().values(_row(
                orders, id=oid, order_no=f"QZ{oid}", checkout_id=token, status=status, buyer_id=7, goods_fen=goods,
                shipping_fen=ship, total_fen=goods + ship, discount_fen=0)))
        conn.execute(payments.insert().values(_row(payments, id=1, order_id=1, provider="sandbox", out_trade_no="QZ1P1",
                                                   amount_fen=1800, status="succeeded", transaction_id="T1")))
        conn.execute(payments.insert().values(_row(payments, id=2, order_id=1, provider="sandbox", out_trade_no="QZ1P2",
                                                   amount_fen=1800, status="succeeded", transaction_id="T2")))
        conn.execute(inbox.insert().values(_row(inbox, provider="sandbox", transaction_id="T1", out_trade_no="QZ1P1",
                                                outcome="paid", raw={})))
        conn.execute(inbox.insert().values(_row(inbox, provider="sandbox", transaction_id="T2", out_trade_no="QZ1P2",
                                                outcome="refund_not_payable", raw={})))
    engine.dispose()

    command.upgrade(cfg, "head")
    engine = create_engine(url)
    with engine.connect() as conn:
        checkouts = conn.execute(text("SELECT id, buyer_id, status, goods_fen, shipping_fen, total_fen FROM checkouts"
                                      " ORDER BY total_fen")).all()
        assert [tuple(r)[1:] for r in checkouts] == [(7, "cancelled", 2000, 0, 2000), (7, "paid", 1500, 1600, 3100)]
        by_order = dict(conn.execute(text("SELECT id, checkout_id FROM orders")).all())
        assert by_order == {1: checkouts[1][0], 2: checkouts[1][0], 3: checkouts[0][0]}
        settled = dict(conn.execute(text("SELECT id, settled_order FROM payments")).all())
        assert settled == {1: 1, 2: 0}
    engine.dispose()

    command.downgrade(cfg, "0006")
    engine = create_engine(url)
    with engine.connect() as conn:
        tokens = dict(conn.execute(select(text("id"), text("checkout_id")).select_from(text("orders"))).all())
    engine.dispose()
    assert tokens[1] == tokens[2] != tokens[3]
