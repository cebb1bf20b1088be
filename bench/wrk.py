"""Run wrk (a native load generator) against a server and measure the client too.

Each run reports req/s (or journeys/s), p50/p99 from wrk's own histogram, per-status counts from the
Lua script, the load average before and after, and wrk's own CPU use: a figure is marked **void** when
wrk used most of a core, because then the client, not the server, set the pace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "wrk" / "scenario.lua"
VOID_CPU = 0.7  # wrk above 70 % of one core: the client is (near) the bottleneck


@dataclass
class WrkResult:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    journeys: int
    seconds: float
    codes: dict[str, int]
    socket_errors: int
    wrk_cpu: float  # cores used by wrk on average
    load_before: float
    load_after: float
    void: bool
    server_cpu_us: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @property
    def server_errors(self) -> int:
        return sum(v for k, v in self.codes.items() if k.startswith("5"))


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return found


def run_wrk(base: str, label: str, scenario: str, *, seconds: float = 10, connections: int = 32,
            threads: int = 1, env: dict[str, str] | None = None, per_journey: bool = False,
            server_cpu: Callable[[], float] | None = None) -> WrkResult:
    """One wrk run. `per_journey`: the rate is completed journeys (checkout → pay → notify) per second."""
    run_env = {**os.environ, "BENCH_SCENARIO": scenario, "BENCH_THREADS": str(threads),
               "BENCH_RUN": f"{label}-{time.time_ns()}", **(env or {})}
    cmd = [wrk_binary(), "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
           "-s", str(SCRIPT), base]
    load_before = os.getloadavg()[0]
    cpu0 = server_cpu() if server_cpu else 0.0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    load_after = os.getloadavg()[0]
    server_cpu_s = (server_cpu() - cpu0) if server_cpu else 0.0
    line = next((ln for ln in out.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {proc.returncode}):\n{out}\n{err}")
    data = json.loads(line[len("WRKJSON "):])
    secs = data["duration_us"] / 1e6
    codes = {str(k): int(v) for k, v in data["codes"].items()}
    answered = sum(codes.values())
    count = data["journeys"] if per_journey else answered
    cpu = (usage.ru_utime + usage.ru_stime) / wall if wall else 0.0
    return WrkResult(
        label=label, rps=round(count / secs, 1) if secs else 0.0, p50_ms=round(data["p50_us"] / 1000, 2),
        p99_ms=round(data["p99_us"] / 1000, 2), requests=data["requests"], journeys=data["journeys"],
        seconds=round(secs, 2), codes=codes,
        socket_errors=sum(data[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout")),
        wrk_cpu=round(cpu, 2), load_before=round(load_before, 2), load_after=round(load_after, 2),
        void=cpu >= VOID_CPU,
        # the server's own CPU per answered request: unlike req/s, barely moved by other load on the machine
        server_cpu_us=round(server_cpu_s / answered * 1e6, 1) if answered and server_cpu else 0.0,
    )
