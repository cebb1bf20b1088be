"""The flash-sale server is SIGKILLed in the middle of a crowd, restarted on the same database (and the same
Redis); the restarted server makes the Redis gate agree with the database on start-up (and `quanzi flashsale
reconcile`, run by hand afterwards, finds nothing more to change); the rest of the crowd grabs until sold out.

Whatever the kill interrupted (a Redis reservation without its database commit, a half-done transaction),
the end state is exact: `quota` reservations from distinct buyers, remaining 0, stock down by exactly the
quota, the per-person totals agree, and (with Redis) the gate's counter equals the database's remaining (0).
Nothing has been released (no deadline passed): reserved + paid + released adds up to the quota.
Without QUANZI_TEST_REDIS_URL the same test runs on the database alone (reconcile is then a no-op).
"""

from __future__ import annotations

import asyncio
import subprocess
import time as walltime
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.concurrency.test_flashsale_crowd import (
    QUANZI,
    ROOT,
    Server,
    _outcome,
    _query,
    _redis_remaining,
    _seed,
    _server_database,
    _server_env,
)
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.concurrency

BUYERS = 600
QUOTA = 100
FIRST_WAVE = 300
KILL_AFTER = 40
POOL = 50


async def _wave(server: Server, w, buyers, kill_after: int | None = None) -> Counter:  # noqa: ANN001
    """One grab per buyer through a bounded pool; with kill_after, SIGKILL the server after that many wins."""
    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
    sem = asyncio.Semaphore(POOL)
    out: Counter = Counter()
    killed = False
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=30) as c:
        async def one(headers: dict[str, str], addr: int) -> None:
            nonlocal killed
            async with sem:
                if killed:
                    out["not_sent"] += 1
                    return
                try:
                    r = await c.post(f"/api/flashsale/{w.activity_id}/grab", headers=headers,
                                     json={"sku_id": w.sku_id, "quantity": 1, "address_id": addr})
                except httpx.HTTPError:
                    out["cut_off"] += 1  # the server died under this request: it may or may not have won
                    return
                out[_outcome(r)] += 1
                if kill_after is not None and not killed and out["won"] >= kill_after:
                    killed = True
                    server.kill()

        await asyncio.gather(*(one(h, a) for _, h, a in buyers))
    return out


async def test_sigkill_mid_crowd_then_restart_reconcile_and_sell_out_exactly(tmp_path: Path) -> None:
    with _server_database() as url:
        t0 = walltime.perf_counter()
        w = await _seed(url, BUYERS, QUOTA)
        env = _server_env(url, f"t-crash-{uuid.uuid4().hex[:8]}")

        server = Server(env, tmp_path / "server-1.log")
        try:
            first = await _wave(server, w, w.buyers[:FIRST_WAVE], kill_after=KILL_AFTER)
        finally:
            server.stop()
        assert server.proc.returncode is not None
        assert KILL_AFTER <= first["won"] < QUOTA, first
        assert not [k for k in first if k not in ("won", "sold_out", "cut_off", "not_sent")], first
        [(mid_remaining,)] = _query(url, "SELECT remaining FROM flash_items WHERE id = :i", i=w.item_id)
        [(mid_res,)] = _query(url, "SELECT count(*) FROM flash_reservations WHERE activity_id = :a", a=w.activity_id)
        assert mid_res == QUOTA - mid_remaining and mid_res >= first["won"]  # committed grabs survived the kill

        before = _redis_remaining(env, w) if REDIS_URL else None  # may be below the database's: killed grabs
        server = Server(env, tmp_path / "server-2.log")
        try:
            if REDIS_URL:  # the start-up reconcile already ran: Redis holds what the database has left
                assert _redis_remaining(env, w) == mid_remaining, server.log_path.read_text(errors="replace")[-2000:]
            rec = subprocess.run([str(QUANZI), "flashsale", "reconcile"], env=env, cwd=ROOT, capture_output=True,
                                 text=True, timeout=60)
            assert rec.returncode == 0, rec.stdout + rec.stderr
            if REDIS_URL:
                assert f"#{w.item_id}={mid_remaining}" in rec.stdout, rec.stdout
                assert _redis_remaining(env, w) == mid_remaining
            second = await _wave(server, w, w.buyers[FIRST_WAVE:])
            assert set(second) <= {"won", "sold_out"}, (second, server.log_path.read_text(errors="replace")[-3000:])
            assert second["won"] == mid_remaining  # sold out exactly: no undersell after the crash
        finally:
            server.stop()

        [(remaining, quota)] = _query(url, "SELECT remaining, quota FROM flash_items WHERE id = :i", i=w.item_id)
        assert (remaining, quota) == (0, QUOTA)
        rows = _query(url, "SELECT user_id, order_id, status, quantity FROM flash_reservations "
                           "WHERE activity_id = :a", a=w.activity_id)
        assert len(rows) == QUOTA and len({r.user_id for r in rows}) == QUOTA  # no oversell, one per buyer
        [(stock,)] = _query(url, "SELECT stock FROM skus WHERE id = :k", k=w.sku_id)
        assert stock == w.stock_before - QUOTA
        [(totals,)] = _query(url, "SELECT coalesce(sum(quantity), 0) FROM flash_user_totals WHERE activity_id = :a",
                             a=w.activity_id)
        assert totals == QUOTA
        orders = _query(url, "SELECT o.status FROM orders o JOIN flash_reservations r ON r.order_id = o.id "
                             "WHERE r.activity_id = :a", a=w.activity_id)
        [(flash_orders,)] = _query(url, "SELECT count(*) FROM orders WHERE kind = 'flashsale'")
        assert flash_orders == QUOTA  # a killed grab left no order without its reservation
        # Release bookkeeping (no deadline has passed, nothing moved): all still reserved, none released,
        # and reserved + paid + released == quota - remaining + released.
        by_status = Counter(r.status for r in rows)
        assert by_status == Counter({"reserved": QUOTA}), by_status
        assert len({o.status for o in orders}) == 1 and orders[0].status not in ("paid", "cancelled"), orders[:3]
        if REDIS_URL:
            assert _redis_remaining(env, w) == remaining == 0
        print(f"\ncrash: first wave {dict(first)}, redis before reconcile {before}, reconciled at {mid_remaining}, second wave {dict(second)}, "
              f"{walltime.perf_counter() - t0:.1f}s")
