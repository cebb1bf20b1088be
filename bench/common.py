"""Shared benchmark plumbing: a throwaway database, a real server process, a small asyncio load client.

Every result is reported as a ratio to a ceiling measured in the same run (a bare JSON endpoint on the
same server settings), because these machines are noisy.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class BenchDb:
    kind: str
    url: str
    _cleanup: Callable[[], None] = field(default=lambda: None)

    def close(self) -> None:
        self._cleanup()


def make_db(kind: str) -> BenchDb:
    if kind == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="quanzi-bench-"))
        return BenchDb("sqlite", f"sqlite:///{tmp / 'bench.db'}", lambda: shutil.rmtree(tmp, ignore_errors=True))
    name = f"quanzi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_BASE.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return BenchDb("postgresql", url, drop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, db_url: str, workers: int = 1, extra_env: dict[str, str] | None = None, *,
                 serve_args: list[str] | None = None, target: str | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": db_url, "QUANZI_EMBEDDED_WORKER": "0", "QUANZI_LOG_LEVEL": "WARNING",
               "QUANZI_SECRET_KEY": "bench", **(extra_env or {})}
        self.log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
        cmd = [str(BIN / "quanzi"), "serve", "--port", str(self.port), "--workers", str(workers), *(serve_args or [])]
        if target:  # e.g. the bare app: served with exactly the same settings as ours
            cmd += ["--target", target]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/api/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start; see {self.log.name}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and all its worker processes."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in _tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _tree(root: int) -> list[int]:
    """`root` and its descendants (granian's workers are children of its main process)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


@dataclass
class LoadResult:
    done: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


async def run_load(base: str, concurrency: int, seconds: float,
                   one: Callable[[httpx.AsyncClient, int], Awaitable[bool]]) -> LoadResult:
    """`concurrency` virtual users each call `one(client, user_index)` in a loop for `seconds`."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        done = errors = 0
        lat: list[float] = []
        stop_at = time.perf_counter() + seconds

        async def user(i: int) -> None:
            nonlocal done, errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                ok = await one(client, i)
                lat.append(time.perf_counter() - t0)
                if ok:
                    done += 1
                else:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(user(i) for i in range(concurrency)))
        return LoadResult(done, errors, time.perf_counter() - t0, lat)


async def run_count(base: str, concurrency: int, total: int,
                    one: Callable[[httpx.AsyncClient, int], Awaitable[bool]]) -> LoadResult:
    """Exactly `total` calls `one(client, n)` (n = 0 … total-1, each once), `concurrency` at a time:
    a crowd where every person asks once, as at the start of a flash sale."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        done = errors = 0
        lat: list[float] = []
        tickets = iter(range(total))

        async def user() -> None:
            nonlocal done, errors
            for n in tickets:  # shared: each n is taken by exactly one virtual user
                t0 = time.perf_counter()
                ok = await one(client, n)
                lat.append(time.perf_counter() - t0)
                if ok:
                    done += 1
                else:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return LoadResult(done, errors, time.perf_counter() - t0, lat)
