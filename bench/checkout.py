"""Order placement + payment per second over HTTP, as a ratio to a bare JSON endpoint (same server, same run),
and the number of SQL statements one checkout issues.

    .venv/bin/python bench/checkout.py --db sqlite --seconds 10 --concurrency 16
    .venv/bin/python bench/checkout.py --db postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Server, make_db, run_load  # noqa: E402


async def seed(db_url: str, fans: int) -> tuple[list[dict[str, str]], list[int], int, list[int]]:
    from quanzi import domains
    from quanzi.accounts import service as accounts
    from quanzi.cart import service as cart
    from quanzi.catalog import service as catalog
    from quanzi.kit.db import Database
    from quanzi.shops import service as shops

    domains.load_all()
    db = Database(db_url)
    headers, addresses = [], []
    async with db.write() as s:
        sup_user, _ = await accounts.get_or_create_user(s, "+8613700009999", "bench supplier")
        sup = await catalog.ensure_supplier(s, sup_user.id, "bench")
        product = await catalog.create_product(s, sup.id, title="压测苹果", publish=True, skus=[
            {"code": "BENCH-1", "label": "1斤", "price_fen": 1990, "cost_fen": 900, "stock": 10_000_000},
            {"code": "BENCH-2", "label": "5斤", "price_fen": 8990, "cost_fen": 4000, "stock": 10_000_000},
        ])
        skus = [k.id for k in (await catalog.skus_of(s, [product.id]))[product.id]]
        keeper, _ = await accounts.get_or_create_user(s, "+8613700009998", "bench keeper")
        shop = await shops.open_shop(s, keeper.id, "压测小店")
        await shops.add_to_shelf(s, shop, product.id)
        for i in range(fans):
            user, _ = await accounts.get_or_create_user(s, f"+86139{i:08d}", f"fan{i}")
            token = await accounts.start_session(s, user, "bearer", 1)
            addr = await cart.add_address(s, user.id, name="压测", phone="13900000000", region="上海市", detail="测试路 1 号")
            headers.append({"authorization": f"Bearer {token}"})
            addresses.append(addr.id)
        shop_id = shop.id
    await db.dispose()
    return headers, addresses, shop_id, skus


async def bench(kind: str, seconds: float, concurrency: int, workers: int) -> dict[str, object]:
    from quanzi.cli import migrate_to_head

    bdb = make_db(kind)
    try:
        migrate_to_head(bdb.url)
        headers, addresses, shop_id, skus = await seed(bdb.url, concurrency)
        server = Server(bdb.url, workers=workers)
        try:
            async def bare(client: httpx.AsyncClient, i: int) -> bool:
                return (await client.get("/api/ping")).status_code == 200

            async def checkout_and_pay(client: httpx.AsyncClient, i: int) -> bool:
                h = headers[i]
                body = {"address_id": addresses[i], "items": [
                    {"sku_id": skus[0], "quantity": 1, "shop_id": shop_id},
                    {"sku_id": skus[1], "quantity": 1, "shop_id": shop_id}]}
                r = await client.post("/api/orders", json=body, headers={**h, "Idempotency-Key": uuid.uuid4().hex})
                if r.status_code != 201:
                    return False
                order_id = r.json()["orders"][0]["id"]
                r = await client.post(f"/api/orders/{order_id}/pay", json={"provider": "sandbox"}, headers=h)
                if r.status_code != 200:
                    return False
                r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=h)
                return r.status_code == 200 and r.json().get("outcome") == "paid"

            await run_load(server.base, concurrency, 1.0, bare)  # warm-up
            ceiling = await run_load(server.base, concurrency, seconds, bare)
            real = await run_load(server.base, concurrency, seconds, checkout_and_pay)
        finally:
            server.stop()
    finally:
        bdb.close()
    return {
        "database": kind, "workers": workers, "concurrency": concurrency, "seconds": seconds,
        "bare_rps": round(ceiling.per_second, 1),
        "checkout_and_pay_per_s": round(real.per_second, 1),
        "ratio": round(real.per_second / ceiling.per_second, 4) if ceiling.per_second else None,
        "errors": real.errors, "p50_ms": round(real.percentile(50) * 1000, 1),
        "p99_ms": round(real.percentile(99) * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    result = asyncio.run(bench(args.db, args.seconds, args.concurrency, args.workers))
    print(json.dumps(result, ensure_ascii=False))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"checkout-{args.db}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
