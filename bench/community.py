"""Circles under load: a community of 20,000 members, wrk against the real server, each figure beside a bare
FastAPI app and our ping in the same run, and a correctness check after every run.

    .venv/bin/python bench/community.py --db sqlite --workers 1
    .venv/bin/python bench/community.py --db postgresql --workers 2 --seconds 10

Scenarios (wrk, 1 thread, 32 connections unless said; members rotate through 200 bearer tokens):
  feed_api      GET /api/circles/{id}/feed                    a member reads the feed (JSON)
  feed_page     GET /circles/{id}                             the feed page (HTML, composer, visit once a day)
  members_api   GET /api/circles/{id}/members?…               the owner: search, role and status filters, keyset
                                                              pages deep into the 20,000 (one path a request, in turn)
  members_page  GET /console/circles/{id}/members?…           the same through the console page
  join          200 fans at once (-c 200) for the last 10 places: exactly 10 join, the rest 409

Writes bench/results/community-*.json and prints a markdown table of ratios (÷ bare, ÷ our ping).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time as walltime
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Server, make_db  # noqa: E402
from bench.hotpath import markdown as hot_markdown  # noqa: E402
from bench.wrk import WrkResult, run_wrk  # noqa: E402

MEMBERS = 20_000
READERS = 200  # members whose tokens the readers rotate
JOINERS = 200
LAST_PLACES = 10
POSTS = 600
ALL = ["feed_api", "feed_page", "members_api", "members_page", "join"]


@dataclass
class Seed:
    community: int
    capacity: int
    readers_file: str
    owner_paths_file: str
    owner_pages_file: str
    joiners_file: str


def _write(rows: list[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="bench-community-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(rows) + "\n")
    return path


async def seed(db_url: str, members: int) -> Seed:
    """A shop with a community of capacity `members`, all but the last 10 places taken (the owner included),
    posts with likes, 200 member tokens, the owner's token, and 200 outsiders with tokens who will race for the
    last 10 places."""
    from sqlalchemy import insert, update

    from quanzi import domains
    from quanzi.accounts import service as accounts
    from quanzi.accounts.models import User
    from quanzi.community import feed, service
    from quanzi.community.models import Community, Member, Post
    from quanzi.kit.clock import clock
    from quanzi.kit.db import Database
    from quanzi.shops import service as shops

    domains.load_all()
    db = Database(db_url)
    now = clock.now()
    async with db.write() as s:
        keeper, _ = await accounts.get_or_create_user(s, "+8613700008888", "压测店主")
        await shops.open_shop(s, keeper.id, "压测社群小店")
        c = await service.create_community(s, keeper.id, service.Settings(
            name="两万人的水果圈", rules="友善交流", welcome="欢迎！", capacity=members))
        cid, owner_id = c.id, keeper.id
        owner_token = await accounts.start_session(s, keeper, "bearer", 1)
    # Members in bulk (users and member rows straight in: the services would take minutes for 20,000).
    batch, seated = 2000, members - LAST_PLACES
    for start in range(0, seated - 1, batch):
        n = min(batch, seated - 1 - start)
        async with db.write() as s:
            users = [{"phone": f"+86135{start + i:08d}", "nickname": f"果友{start + i:05d}", "is_active": True,
                      "show_phone_to_shops": True, "created_at": now} for i in range(n)]
            ids = (await s.execute(insert(User).returning(User.id), users)).scalars().all()
            roles = ["staff" if (start + i) % 997 == 0 else "expert" if (start + i) % 499 == 0 else "member"
                     for i in range(n)]
            await s.execute(insert(Member), [
                {"community_id": cid, "user_id": uid, "role": roles[i], "status": "active",
                 "name": f"果友{start + i:05d}", "phone_tail": f"{(start + i) % 10000:04d}", "accepted_rules_version": 1,
                 "joined_at": now, "created_at": now, "updated_at": now} for i, uid in enumerate(ids)])
    async with db.write() as s:
        await s.execute(update(Community).where(Community.id == cid).values(member_count=seated))
        readers = (await s.execute(text("SELECT user_id FROM community_members WHERE community_id = :c "
                                        "AND role = 'member' ORDER BY id LIMIT :n"), {"c": cid, "n": READERS}))
        reader_ids = [r[0] for r in readers.all()]
        await s.execute(insert(Post), [
            {"community_id": cid, "author_id": reader_ids[i % len(reader_ids)], "kind": "post",
             "body": f"第{i}条：今天的苹果很甜，推荐给大家 " * 3, "members_only": True, "image_count": 0,
             "like_count": 0, "comment_count": 0, "pinned": i == 5, "status": "visible", "verified_purchase": False,
             "created_at": now} for i in range(POSTS)])
    rows = []
    async with db.write() as s:
        for uid in reader_ids:
            user = await s.get(User, uid)
            assert user is not None
            rows.append(f"{await accounts.start_session(s, user, 'bearer', 1)} /api/circles/{cid}/feed")
        posts = (await s.execute(text("SELECT id FROM community_posts WHERE community_id = :c ORDER BY id DESC "
                                      "LIMIT 20"), {"c": cid})).scalars().all()
        for i, uid in enumerate(reader_ids[:50]):
            await feed.like(s, posts[i % len(posts)], uid)
        mid = (await s.execute(text("SELECT id FROM community_members WHERE community_id = :c ORDER BY id "
                                    "LIMIT 1 OFFSET :o"), {"c": cid, "o": members // 2})).scalar_one()
    queries = ["", "?q=果友123", "?q=0420", "?role=staff", "?role=expert", f"?before={mid}",
               f"?q=果友1&before={mid}", "?status=banned", "?status=pending", f"?role=member&before={mid}"]
    joiners = []
    async with db.write() as s:
        for i in range(JOINERS):
            user, _ = await accounts.get_or_create_user(s, f"+86136{i:08d}", f"抢位{i}")
            joiners.append(f"{await accounts.start_session(s, user, 'bearer', 1)} -")
    await db.dispose()
    _ = owner_id
    return Seed(
        community=cid, capacity=members,
        readers_file=_write(rows),
        owner_paths_file=_write([f"{owner_token} /api/circles/{cid}/members{q}" for q in queries]),
        owner_pages_file=_write([f"{owner_token} /console/circles/{cid}/members{q}" for q in queries]),
        joiners_file=_write(joiners),
    )


class Books:
    """The community's numbers, read from outside the server."""

    def __init__(self, db_url: str, seed: Seed) -> None:
        from quanzi.kit.db import sync_url

        self.engine = create_engine(sync_url(db_url))
        self.seed = seed

    def snapshot(self) -> dict[str, int]:
        with self.engine.connect() as c:
            def one(sql: str) -> int:
                return int(c.execute(text(sql), {"c": self.seed.community}).scalar_one() or 0)

            return {
                "member_count": one("SELECT member_count FROM communities WHERE id = :c"),
                "capacity": one("SELECT capacity FROM communities WHERE id = :c"),
                "active": one("SELECT count(*) FROM community_members WHERE community_id = :c AND status = 'active'"),
                "rows": one("SELECT count(*) FROM community_members WHERE community_id = :c"),
                "posts": one("SELECT count(*) FROM community_posts WHERE community_id = :c"),
            }

    def check(self, label: str, before: dict[str, int], r: WrkResult) -> str:
        after = self.snapshot()
        problems = []
        if r.server_errors:
            problems.append(f"{r.server_errors} responses 5xx")
        if r.socket_errors:
            problems.append(f"{r.socket_errors} socket errors/timeouts")
        if after["member_count"] != after["active"]:
            problems.append(f"member_count {after['member_count']} but {after['active']} active rows")
        if after["member_count"] > after["capacity"]:
            problems.append(f"over capacity: {after['member_count']} > {after['capacity']}")
        if label == "join":
            joined = after["active"] - before["active"]
            if joined != LAST_PLACES or r.codes.get("200", 0) != LAST_PLACES:
                problems.append(f"{joined} joined ({r.codes.get('200', 0)} answered 200) for {LAST_PLACES} places")
            if set(r.codes) - {"200", "409"}:
                problems.append(f"unexpected answers {r.codes}")
            welcomes = after["posts"] - before["posts"]
            if welcomes != joined:
                problems.append(f"{welcomes} welcome posts for {joined} newcomers")
        elif set(r.codes) - {"200"}:
            problems.append(f"not all 200: {r.codes}")
        elif after["posts"] != before["posts"] or after["active"] != before["active"]:
            problems.append("a read changed the community")
        return "; ".join(problems) or "ok"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--members", type=int, default=MEMBERS)
    ap.add_argument("--only", default=",".join(ALL))
    args = ap.parse_args()
    only = [s for s in ALL if s in args.only.split(",")]

    from quanzi.cli import migrate_to_head

    env = {"QUANZI_RATELIMIT_PREFIX": f"bench-{os.getpid()}"}
    bdb = make_db(args.db)
    results: list[WrkResult] = []
    checks: dict[str, str] = {}
    try:
        migrate_to_head(bdb.url)
        t0 = walltime.perf_counter()
        sd = asyncio.run(seed(bdb.url, args.members))
        print(f"seeded a community of {args.members} in {walltime.perf_counter() - t0:.0f} s", file=sys.stderr)
        books = Books(bdb.url, sd)
        c, secs = args.connections, args.seconds
        bare_server = Server(bdb.url, workers=args.workers, extra_env=env, target="bench.bare_app:app")
        server = Server(bdb.url, workers=args.workers, extra_env=env)
        try:
            run_wrk(bare_server.base, "warm-up", "get", seconds=1, connections=c)
            run_wrk(server.base, "warm-up", "get", seconds=1, connections=c)
            for label, srv in (("bare", bare_server), ("ping", server)):
                before = books.snapshot()
                r = run_wrk(srv.base, label, "get", seconds=secs, connections=c, server_cpu=srv.cpu_seconds)
                checks[label] = r.extra["check"] = books.check(label, before, r)
                results.append(r)
            plan = [
                ("feed_api", "paths", {"BENCH_DATA": sd.readers_file}, {}),
                ("feed_page", "paths", {"BENCH_DATA": _pages(sd.readers_file)}, {}),
                ("members_api", "paths", {"BENCH_DATA": sd.owner_paths_file}, {}),
                ("members_page", "paths", {"BENCH_DATA": sd.owner_pages_file}, {}),
                ("join", "join", {"BENCH_DATA": sd.joiners_file, "BENCH_ACTIVITY": str(sd.community)},
                 {"connections": JOINERS, "seconds": 1}),
            ]
            # Warm the session cache and the once-a-day visit rows, as for regulars.
            run_wrk(server.base, "warm-up", "paths", seconds=2, connections=c, env={"BENCH_DATA": _pages(sd.readers_file)})
            for label, scenario, extra, kw in plan:
                if label not in only:
                    continue
                before = books.snapshot()
                opts = {"seconds": secs, "connections": c, **kw}
                r = run_wrk(server.base, label, scenario, env=extra, server_cpu=server.cpu_seconds,
                            **opts)  # type: ignore[arg-type]
                checks[label] = r.extra["check"] = books.check(label, before, r)
                results.append(r)
                print(f"{label}: {r.rps} /s p50 {r.p50_ms} ms p99 {r.p99_ms} ms codes {r.codes} "
                      f"check: {checks[label]}", file=sys.stderr)
        finally:
            server.stop()
            bare_server.stop()
        books.engine.dispose()
        for f in (sd.readers_file, sd.readers_file + ".pages", sd.owner_paths_file, sd.owner_pages_file,
                  sd.joiners_file):
            Path(f).unlink(missing_ok=True)
    finally:
        bdb.close()
    args.redis = None
    table = hot_markdown(results, args)
    print(table)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    name = f"community-{args.db}-w{args.workers}"
    (out / f"{name}.json").write_text(json.dumps({
        "db": args.db, "workers": args.workers, "members": args.members, "connections": args.connections,
        "seconds": args.seconds, "at": walltime.strftime("%Y-%m-%d %H:%M UTC", walltime.gmtime()),
        "results": [r.to_json() for r in results], "checks": checks}, indent=2, ensure_ascii=False))
    (out / f"{name}.md").write_text(table)


def _pages(api_rows_file: str) -> str:
    """The readers' rows with the feed page's path instead of the API's (a file beside the first)."""
    path = api_rows_file + ".pages"
    with open(api_rows_file) as src, open(path, "w") as dst:
        for line in src:
            dst.write(line.replace("/api/circles/", "/circles/").replace("/feed", ""))
    return path


if __name__ == "__main__":
    main()
