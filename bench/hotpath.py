"""The hot-path suite: wrk against the real server, every figure beside a bare FastAPI app and our ping
measured with the same server settings in the same run, and a correctness check after every load run.

    .venv/bin/python bench/hotpath.py --db sqlite --workers 1
    .venv/bin/python bench/hotpath.py --db postgresql --workers 2 --redis redis://127.0.0.1:6379/0
    .venv/bin/python bench/hotpath.py --db sqlite --only ping,me      # a subset

Scenarios (wrk, 1 thread, 32 connections unless said): bare (the 5-line app in bench/bare_app.py),
ping (`GET /api/ping`), me (`GET /api/auth/me`, 200 bearer tokens in turn, after a 3 s warm-up of the session cache), orders (`POST /api/orders`,
2 SKUs, a unique Idempotency-Key each), crowd (`--buyers` people grab once each for `--quota` units),
grab (the flash grab refused after the sell-out, rotating buyers), checkout (order → pay → sandbox
notification, one journey per connection, 16 threads × 1 connection). Writes bench/results/*.json and
prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time as walltime
import uuid
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Server, make_db  # noqa: E402
from bench.wrk import WrkResult, run_wrk  # noqa: E402

ALL = ["me", "orders", "crowd", "grab", "checkout"]
STOCK = 10_000_000
ME_TOKENS = 200


@dataclass
class Seed:
    rows_file: str
    me_rows_file: str
    shop: int
    skus: list[int]
    flash_activity: int
    flash_sku: int
    quota: int


async def seed(db_url: str, buyers: int, quota: int) -> Seed:
    """`buyers` people with a bearer session and an address; a shop selling two SKUs; one live flash sale."""
    from quanzi import domains
    from quanzi.accounts import service as accounts
    from quanzi.cart import service as cart
    from quanzi.catalog import service as catalog
    from quanzi.flashsale import service as flash
    from quanzi.kit.clock import clock
    from quanzi.kit.db import Database
    from quanzi.orders.service import CHINA
    from quanzi.shops import service as shops

    domains.load_all()
    db = Database(db_url)
    rows = []
    now = clock.now().astimezone(CHINA)
    async with db.write() as s:
        sup_user, _ = await accounts.get_or_create_user(s, "+8613700009999", "bench supplier")
        sup = await catalog.ensure_supplier(s, sup_user.id, "bench")
        product = await catalog.create_product(s, sup.id, title="压测苹果", publish=True, skus=[
            {"code": "BENCH-1", "label": "1斤", "price_fen": 1990, "cost_fen": 900, "stock": STOCK},
            {"code": "BENCH-2", "label": "5斤", "price_fen": 8990, "cost_fen": 4000, "stock": STOCK},
        ])
        skus = [k.id for k in (await catalog.skus_of(s, [product.id]))[product.id]]
        keeper, _ = await accounts.get_or_create_user(s, "+8613700009998", "bench keeper")
        shop = await shops.open_shop(s, keeper.id, "压测小店")
        await shops.add_to_shelf(s, shop, product.id)
        flash_product = await catalog.create_product(s, sup.id, title="秒杀压测", publish=True, skus=[
            {"code": "FLASH-1", "label": "1件", "price_fen": 9900, "cost_fen": 5000, "stock": quota * 2}])
        flash_sku = (await catalog.skus_of(s, [flash_product.id]))[flash_product.id][0].id
        start = (now - timedelta(minutes=1)).time().replace(microsecond=0)
        slot = await flash.create_slot(s, "bench", start, time(23, 59, 59))
        act = await flash.create_activity(s, slot_id=slot.id, day=now.date(), title="bench", product_id=flash_product.id,
                                          items=[(flash_sku, 100, quota)], per_user_limit=1, pay_minutes=30)
        shop_id, act_id = shop.id, act.id
    for start_i in range(0, buyers, 500):  # commits in batches: one huge SQLite transaction is slow
        async with db.write() as s:
            for i in range(start_i, min(buyers, start_i + 500)):
                user, _ = await accounts.get_or_create_user(s, f"+86139{i:08d}", f"b{i}")
                token = await accounts.start_session(s, user, "bearer", 1)
                addr = await cart.add_address(s, user.id, name="压测", phone="13900000000", region="上海市",
                                              detail="测试路 1 号")
                rows.append(f"{token} {addr.id}")
    await db.dispose()
    fd, path = tempfile.mkstemp(prefix="bench-buyers-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(rows) + "\n")
    fd, me_path = tempfile.mkstemp(prefix="bench-me-", suffix=".txt")
    with os.fdopen(fd, "w") as f:  # `me` rotates ME_TOKENS people: a warm session cache, as for regulars
        f.write("\n".join(rows[:ME_TOKENS]) + "\n")
    return Seed(path, me_path, shop_id, skus, act_id, flash_sku, quota)


class SoldOutWatch:
    """Polls the database from outside during the crowd: seconds from the start until the quota is gone."""

    def __init__(self, books: "Books") -> None:
        import threading

        self.books, self.started, self.at = books, walltime.perf_counter(), None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        engine = create_engine(self.books.engine.url)  # an engine of this thread's own
        sql = text("SELECT remaining FROM flash_items WHERE activity_id = :a")
        try:
            while not self._stop.is_set() and self.at is None:
                with engine.connect() as c:
                    if c.execute(sql, {"a": self.books.seed.flash_activity}).scalar_one() == 0:
                        self.at = round(walltime.perf_counter() - self.started, 2)
                self._stop.wait(0.1)
        except Exception as exc:  # noqa: BLE001 - reported, never hides the run's own result
            print(f"sold-out watch failed: {exc!r}", file=sys.stderr)
        finally:
            engine.dispose()

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        return self.at


class Books:
    """Reads the database from outside the server, for the correctness check after each run."""

    def __init__(self, db_url: str, seed: Seed) -> None:
        from quanzi.kit.db import sync_url

        self.engine = create_engine(sync_url(db_url))
        self.seed = seed

    def snapshot(self) -> dict[str, int]:
        with self.engine.connect() as c:
            one = lambda sql, **kw: int(c.execute(text(sql), kw).scalar_one() or 0)  # noqa: E731
            return {
                "orders": one("SELECT count(*) FROM orders WHERE shop_id = :s", s=self.seed.shop),
                "paid": one("SELECT count(*) FROM orders WHERE shop_id = :s AND status <> 'pending_payment' "
                            "AND status <> 'cancelled'", s=self.seed.shop),
                "keys": one("SELECT count(*) FROM idempotency_keys"),
                "sold_1": one("SELECT sum(quantity) FROM order_lines WHERE sku_id = :k", k=self.seed.skus[0]),
                "sold_2": one("SELECT sum(quantity) FROM order_lines WHERE sku_id = :k", k=self.seed.skus[1]),
                "stock_1": one("SELECT stock FROM skus WHERE id = :k", k=self.seed.skus[0]),
                "stock_2": one("SELECT stock FROM skus WHERE id = :k", k=self.seed.skus[1]),
                "flash_reserved": one("SELECT count(*) FROM flash_reservations WHERE activity_id = :a",
                                      a=self.seed.flash_activity),
                "flash_remaining": one("SELECT remaining FROM flash_items WHERE activity_id = :a",
                                       a=self.seed.flash_activity),
                "flash_stock": one("SELECT stock FROM skus WHERE id = :k", k=self.seed.flash_sku),
            }

    def check(self, scenario: str, before: dict[str, int], r: WrkResult) -> tuple[bool, str]:
        after = self.snapshot()
        d = {k: after[k] - before[k] for k in after}
        problems = []
        if r.server_errors:
            problems.append(f"{r.server_errors} responses 5xx")
        if r.socket_errors:
            problems.append(f"{r.socket_errors} socket errors/timeouts")
        for k in (1, 2):  # stock never drifts from what orders took
            if STOCK - after[f"stock_{k}"] != after[f"sold_{k}"]:
                problems.append(f"sku {k}: stock {after[f'stock_{k}']} but {after[f'sold_{k}']} sold")
        created = r.codes.get("201", 0)
        if scenario in ("orders", "checkout"):
            # requests still in flight when wrk stops are served but not counted by wrk: at most one per
            # connection
            if not created <= d["orders"] <= created + r.extra.get("connections", 32):  # type: ignore[operator]
                problems.append(f"{created} answered 201 but {d['orders']} orders")
            if d["keys"] != d["orders"]:
                problems.append(f"{d['orders']} orders but {d['keys']} idempotency keys")
            if scenario == "checkout" and d["paid"] < r.journeys:
                problems.append(f"{r.journeys} journeys but {d['paid']} paid orders")
        if scenario in ("crowd", "grab"):
            q = self.seed.quota
            if after["flash_reserved"] > q or after["flash_remaining"] < 0:
                problems.append(f"oversold: {after['flash_reserved']} reservations for {q}")
            if after["flash_reserved"] + after["flash_remaining"] != q:
                problems.append(f"quota drift: {after['flash_reserved']} + {after['flash_remaining']} != {q}")
            if scenario == "crowd" and after["flash_reserved"] != q and r.extra.get("sold_out_after_s"):
                problems.append(f"undersold: {after['flash_reserved']} of {q}")
            if after["flash_stock"] != self.seed.quota:  # seeded 2 × quota, the quota set aside: wins take from it
                problems.append(f"flash SKU stock {after['flash_stock']} != {self.seed.quota}")
            if scenario == "grab" and set(r.codes) - {"409"}:
                problems.append(f"a grab after sell-out was not refused: {r.codes}")
        if scenario in ("bare", "ping", "me") and set(r.codes) - {"200"}:
            problems.append(f"not all 200: {r.codes}")
        return (not problems, "; ".join(problems) or "ok")


def median_run(runs: list[WrkResult]) -> WrkResult:
    """The run with the median rate, annotated with the spread of all of them."""
    ordered = sorted(runs, key=lambda r: r.rps)
    mid = ordered[len(ordered) // 2]
    mid.extra["runs"] = [r.rps for r in runs]
    mid.load_before = min(r.load_before for r in runs)
    mid.load_after = max(r.load_after for r in runs)
    mid.void = any(r.void for r in runs)
    return mid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--redis", default=None)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--buyers", type=int, default=2000)
    ap.add_argument("--quota", type=int, default=100)
    ap.add_argument("--only", default=",".join(ALL), help="scenarios besides bare and ping; '' for none")
    ap.add_argument("--rounds", type=int, default=3, help="bare/ping alternations before and after the scenarios")
    ap.add_argument("--serve-args", default="", help="extra `quanzi serve` options, e.g. '--loop asyncio'")
    args = ap.parse_args()
    only = [s for s in ALL if s in args.only.split(",")]  # bare and ping always run

    from quanzi.cli import migrate_to_head

    env = {"QUANZI_FLASH_LIMIT_PER_USER": "1000/second", "QUANZI_FLASH_LIMIT_PER_IP": "1000000/second"}
    if args.redis:
        run = f"bench-{uuid.uuid4().hex[:6]}"  # keys of their own: no stale counter from an earlier run
        env.update({"REDIS_URL": args.redis, "QUANZI_RATELIMIT_PREFIX": f"{run}-rl",
                    "QUANZI_FLASH_GATE_PREFIX": f"{run}-flash", "QUANZI_AUTH_CACHE_PREFIX": f"{run}-auth"})
    serve_args = args.serve_args.split()
    bdb = make_db(args.db)
    results: list[WrkResult] = []
    checks: dict[str, str] = {}
    try:
        migrate_to_head(bdb.url)
        t0 = walltime.perf_counter()
        sd = asyncio.run(seed(bdb.url, args.buyers, args.quota))
        print(f"seeded {args.buyers} buyers in {walltime.perf_counter() - t0:.0f} s", file=sys.stderr)
        books = Books(bdb.url, sd)
        common = {"BENCH_DATA": sd.rows_file, "BENCH_SKUS": ",".join(map(str, sd.skus)), "BENCH_SHOP": str(sd.shop)}
        me = {**common, "BENCH_DATA": sd.me_rows_file}
        flash = {"BENCH_DATA": sd.rows_file, "BENCH_SKUS": str(sd.flash_sku), "BENCH_ACTIVITY": str(sd.flash_activity)}
        c, secs = args.connections, args.seconds
        bare_server = Server(bdb.url, workers=args.workers, extra_env=env, serve_args=serve_args,
                             target="bench.bare_app:app")
        server = Server(bdb.url, workers=args.workers, extra_env=env, serve_args=serve_args)
        try:
            run_wrk(bare_server.base, "warm-up", "get", seconds=1, connections=c)
            run_wrk(server.base, "warm-up", "get", seconds=1, connections=c)

            def ceilings(rounds: int) -> None:
                """bare and ping in turn (the machine is shared: its load drifts from minute to minute)."""
                for _ in range(rounds):
                    for label, srv in (("bare", bare_server), ("ping", server)):
                        before = books.snapshot()
                        r = run_wrk(srv.base, label, "get", seconds=secs / 2, connections=c, server_cpu=srv.cpu_seconds)
                        r.extra["check"] = books.check(label, before, r)[1]
                        ceiling_runs.setdefault(label, []).append(r)
                        print(f"{label}: {r.rps} /s p50 {r.p50_ms} ms p99 {r.p99_ms} ms wrk cpu {r.wrk_cpu} "
                              f"load {r.load_after} server cpu/req {r.server_cpu_us} us", file=sys.stderr)

            ceiling_runs: dict[str, list[WrkResult]] = {}
            ceilings(args.rounds)
            plan = [
                ("me", "me", me, {}),
                ("orders", "orders", common, {}),
                ("crowd", "grab", flash, {}),
                ("grab", "grab", flash, {}),
                ("checkout", "checkout", common, {"threads": 16, "connections": 16, "per_journey": True}),
            ]
            if "me" in only:  # steady state: every token's principal cached in every worker (authcache.py)
                run_wrk(server.base, "warm-up", "me", seconds=3, connections=c, env=me)
            for label, scenario, extra, kw in plan:
                if label not in only:
                    continue
                if label == "crowd":  # the crowd opened the app before the sale: their sessions are cached
                    run_wrk(server.base, "warm-up", "me", seconds=max(3, args.buyers // 500), connections=c,
                            env=common)
                before = books.snapshot()
                opts = {"seconds": secs, "connections": c, **kw}
                watch = SoldOutWatch(books) if label == "crowd" else None
                r = run_wrk(server.base, label, scenario, env=extra, server_cpu=server.cpu_seconds,
                            **opts)  # type: ignore[arg-type]
                if watch is not None:
                    r.extra["sold_out_after_s"] = watch.stop()
                ok, note = books.check(label, before, r)
                r.extra["check"] = note
                results.append(r)
                checks[label] = note
                print(f"{label}: {r.rps} /s p50 {r.p50_ms} ms p99 {r.p99_ms} ms codes {r.codes} "
                      f"wrk cpu {r.wrk_cpu} load {r.load_after} check: {note}", file=sys.stderr)
            if len(results) > 1:
                ceilings(args.rounds)  # again after the scenarios: the ceiling is the median of both
            results[:0] = [median_run(ceiling_runs["bare"]), median_run(ceiling_runs["ping"])]
            for label, runs in ceiling_runs.items():
                checks[label] = "; ".join(sorted({str(r.extra["check"]) for r in runs}))
        finally:
            server.stop()
            bare_server.stop()
        books.engine.dispose()
        os.unlink(sd.rows_file)
        os.unlink(sd.me_rows_file)
    finally:
        bdb.close()
    table = markdown(results, args)
    print(table)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    name = f"hotpath-{args.db}-w{args.workers}{'-redis' if args.redis else ''}"
    (out / f"{name}.json").write_text(json.dumps({
        "db": args.db, "workers": args.workers, "redis": bool(args.redis), "serve_args": args.serve_args,
        "connections": args.connections, "seconds": args.seconds, "at": walltime.strftime("%Y-%m-%d %H:%M UTC", walltime.gmtime()),
        "results": [r.to_json() for r in results], "checks": checks}, indent=2, ensure_ascii=False))
    (out / f"{name}.md").write_text(table)


def markdown(results: list[WrkResult], args: argparse.Namespace) -> str:
    by = {r.label: r for r in results}
    bare, ping = by.get("bare"), by.get("ping")
    head = (f"{args.db}, {args.workers} worker(s){', Redis' if args.redis else ''}, wrk -c{args.connections}, "
            f"{args.seconds:g} s, at {walltime.strftime('%H:%M UTC', walltime.gmtime())}\n\n"
            "| request | req/s | p50 ms | p99 ms | ÷ bare | ÷ our ping | server CPU µs/req | load avg | wrk CPU | check |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in results:
        rb = f"{r.rps / bare.rps:.3f}" if bare and bare.rps else "–"
        rp = f"{r.rps / ping.rps:.3f}" if ping and ping.rps else "–"
        rate = f"{r.rps:,.0f}" if r.rps >= 100 else f"{r.rps:,.1f}"
        if "runs" in r.extra:
            rate += " (median of " + " / ".join(f"{x:,.0f}" for x in r.extra["runs"]) + ")"  # type: ignore[attr-defined]
        if r.void:
            rate += " (void: client-bound)"
        unit = " journeys/s" if r.label == "checkout" else ""
        if r.label == "crowd":
            unit = f" (quota {args.quota} sold out after {r.extra.get('sold_out_after_s')} s)"
        lines.append(f"| {r.label}{unit} | {rate} | {r.p50_ms:g} | {r.p99_ms:g} | {rb} | {rp} | {r.server_cpu_us:,.0f} | "
                     f"{r.load_before:.1f}→{r.load_after:.1f} | {r.wrk_cpu:.2f} | {r.extra.get('check', 'ok')} |")
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
