"""Shared benchmark plumbing: a throwaway database and a real server process (`quanzi serve`).

The load itself comes from wrk (bench/wrk.py): an in-Python client spends more CPU per request than the
server it measures.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
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
