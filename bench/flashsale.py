"""A flash-sale crowd over HTTP: `--buyers` people (default 2,000) each press "grab" once, `--concurrency`
at a time, for `--quota` units (default 100). Reported: grabs served per second and p50/p99 latency, as a
ratio to the same number of requests to a bare JSON endpoint on the same server in the same run; how long
the quota took to sell out; and a check that nothing was oversold (reservations, remaining, stock).
Each of `--rounds` rounds (default 3) measures the ceiling and then a fresh sale; the median is reported,
because on these shared 2-core machines the load of other work changes from one minute to the next.

    .venv/bin/python bench/flashsale.py --db sqlite                      # database gate only
    .venv/bin/python bench/flashsale.py --db postgresql --redis redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time as walltime
import uuid
from datetime import datetime, time, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Server, make_db, run_count  # noqa: E402


async def seed(db_url: str, buyers: int, quota: int, rounds: int) -> tuple[list[dict[str, str]], list[int], list[int], int]:
    """`buyers` people with a session and an address, and one flash sale of `quota` units per round."""
    from quanzi import domains
    from quanzi.accounts import service as accounts
    from quanzi.cart import service as cart
    from quanzi.catalog import service as catalog
    from quanzi.flashsale import service as flash
    from quanzi.kit.clock import clock
    from quanzi.kit.db import Database
    from quanzi.orders.service import CHINA

    domains.load_all()
    db = Database(db_url)
    headers, addresses = [], []
    now = clock.now().astimezone(CHINA)
    async with db.write() as s:
        sup_user, _ = await accounts.get_or_create_user(s, "+8613700009999", "bench supplier")
        sup = await catalog.ensure_supplier(s, sup_user.id, "bench")
        product = await catalog.create_product(s, sup.id, title="秒杀压测", publish=True, skus=[
            {"code": "FLASH-1", "label": "1件", "price_fen": 9900, "cost_fen": 5000, "stock": quota * rounds * 2}])
        sku = (await catalog.skus_of(s, [product.id]))[product.id][0].id
        start = (now - timedelta(minutes=1)).time().replace(microsecond=0)
        slot = await flash.create_slot(s, "bench", start, time(23, 59, 59))
        acts = [(await flash.create_activity(s, slot_id=slot.id, day=now.date(), title=f"bench {r}",
                                             product_id=product.id, items=[(sku, 100, quota)], per_user_limit=1,
                                             pay_minutes=30)).id for r in range(rounds)]
        for i in range(buyers):
            user, _ = await accounts.get_or_create_user(s, f"+86139{i:08d}", f"b{i}")
            token = await accounts.start_session(s, user, "bearer", 1)
            addr = await cart.add_address(s, user.id, name="抢", phone="13900000000", region="上海", detail="路 1 号")
            headers.append({"authorization": f"Bearer {token}"})
            addresses.append(addr.id)
    await db.dispose()
    return headers, addresses, acts, sku


async def one_round(base: str, concurrency: int, act: int, sku: int, headers: list[dict[str, str]],
                    addresses: list[int], quota: int) -> dict[str, object]:
    """The ceiling (as many bare requests as there are buyers), then the crowd on this round's sale."""
    codes: dict[int, int] = {}
    wins: list[float] = []
    started = walltime.perf_counter()

    async def bare(client: httpx.AsyncClient, n: int) -> bool:
        return (await client.get("/api/ping")).status_code == 200

    async def grab(client: httpx.AsyncClient, n: int) -> bool:
        r = await client.post(f"/api/flashsale/{act}/grab", json={"sku_id": sku, "quantity": 1,
                                                                  "address_id": addresses[n]}, headers=headers[n])
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
        if r.status_code == 201:
            wins.append(walltime.perf_counter() - started)
        return r.status_code in (201, 409)

    ceiling = await run_count(base, concurrency, len(headers), bare)
    started = walltime.perf_counter()
    real = await run_count(base, concurrency, len(headers), grab)
    return {
        "bare_rps": round(ceiling.per_second, 1), "grab_rps": round(real.per_second, 1),
        "ratio": round(real.per_second / ceiling.per_second, 4) if ceiling.per_second else 0.0,
        "p99_ms": round(real.percentile(99) * 1000, 1), "p50_ms": round(real.percentile(50) * 1000, 1),
        "bare_p99_ms": round(ceiling.percentile(99) * 1000, 1),
        "sold_out_after_s": round(max(wins), 2) if len(wins) >= quota else None, "errors": real.errors,
        "status_codes": codes,
    }


async def bench(kind: str, redis_url: str | None, concurrency: int, buyers: int, quota: int,
                workers: int, rounds: int) -> dict[str, object]:
    from quanzi.cli import migrate_to_head

    bdb = make_db(kind)
    try:
        migrate_to_head(bdb.url)
        headers, addresses, acts, sku = await seed(bdb.url, buyers, quota, rounds)
        env = {"QUANZI_FLASH_LIMIT_PER_USER": "1000/second", "QUANZI_FLASH_LIMIT_PER_IP": "1000000/second"}
        if redis_url:
            env["REDIS_URL"] = redis_url
            run = f"bench-{uuid.uuid4().hex[:6]}"  # keys of their own: no stale counter from an earlier run
            env["QUANZI_RATELIMIT_PREFIX"] = f"{run}-rl"
            env["QUANZI_FLASH_GATE_PREFIX"] = f"{run}-flash"
        server = Server(bdb.url, workers=workers, extra_env=env)
        try:
            await run_count(server.base, concurrency, 200, lambda c, n: _ping(c))  # warm-up
            results = [await one_round(server.base, concurrency, act, sku, headers, addresses, quota) for act in acts]
        finally:
            server.stop()
        from sqlalchemy import create_engine, text

        from quanzi.kit.db import sync_url

        eng = create_engine(sync_url(bdb.url))
        with eng.connect() as c:
            sold = dict(c.execute(text("SELECT activity_id, count(*) FROM flash_reservations GROUP BY activity_id")).all())
            remaining = dict(c.execute(text("SELECT activity_id, remaining FROM flash_items")).all())
            stock = c.execute(text("SELECT stock FROM skus WHERE code = 'FLASH-1'")).scalar_one()
        eng.dispose()
    finally:
        bdb.close()
    ratios = sorted(float(r["ratio"]) for r in results)  # type: ignore[arg-type]
    return {
        "database": kind, "redis": bool(redis_url), "workers": workers, "concurrency": concurrency,
        "buyers": buyers, "quota": quota, "rounds": results, "median_ratio": statistics.median(ratios),
        "median_p99_ms": statistics.median(float(r["p99_ms"]) for r in results),  # type: ignore[arg-type]
        "reservations": [sold.get(a, 0) for a in acts], "remaining": [remaining.get(a) for a in acts],
        "oversold": any(sold.get(a, 0) > quota or (remaining.get(a) or 0) < 0 for a in acts),
        "all_sold": all(sold.get(a, 0) == quota and remaining.get(a) == 0 for a in acts),
        "stock_left": stock,
    }


async def _ping(client: httpx.AsyncClient) -> bool:
    return (await client.get("/api/ping")).status_code == 200


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--redis", default=None)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--buyers", type=int, default=2000)
    ap.add_argument("--quota", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="one sale per round; the median ratio is reported")
    args = ap.parse_args()
    result = asyncio.run(bench(args.db, args.redis, args.concurrency, args.buyers, args.quota,
                               args.workers, args.rounds))
    print(json.dumps(result, ensure_ascii=False))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"flashsale-{args.db}-{'redis' if args.redis else 'db'}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
