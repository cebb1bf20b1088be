"""Browser tests: the real server (`quanzi serve`) as a subprocess, driven by a real Chromium.

* `e2e_server` (session scope, so one per xdist worker): its own SQLite file (a copy of one that
  `quanzi migrate` + `quanzi demo` build once per run), then `quanzi serve --workers 1` on a free
  port. Its stdout/stderr go to a log file that tests read (e.g. the code logged as `sms.login_code`).
  The server always uses its own SQLite file, also when QUANZI_TEST_POSTGRES_URL is set: the browser
  tests check pages and flows, and the PostgreSQL behaviour is covered by the rest of the suite.
  When QUANZI_TEST_REDIS_URL is set, the server's rate limiter does use that Redis (with a key prefix
  of its own), so the Redis-backed limiter is exercised through a real server too.
* `browser` (module scope) and `page` (per test): Python Playwright's sync API on the system Chromium
  (/usr/bin/chromium). A browser is never downloaded. Without Chromium the tests are skipped, except
  when CI=true: then they fail.

Why the browser is not session-scoped: while the sync Playwright is alive it marks its own asyncio
loop as the thread's running loop between calls, which would break the async tests (pytest-asyncio)
that xdist runs in the same worker. A module-scoped browser is torn down before pytest moves on to
another module.

Screenshots go to test-results/e2e/ under the repository root (gitignored).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = ROOT / "test-results" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
STARTUP_TIMEOUT = 30.0
# Settings a developer's shell (or .env) might carry that must not leak into the test server.
SCRUB_ENV = ("DATABASE_URL", "REDIS_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture (the server included): no system Chromium means skip, or fail under CI=true."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium); browser tests need the system Chromium"
        if IN_CI:
            pytest.fail(reason + " — CI=true, so this is a failure, not a skip", pytrace=False)
        pytest.skip(reason)


def _quanzi_exe() -> str:
    exe = Path(sys.executable).parent / "quanzi"
    if not exe.exists():
        pytest.fail(f"the `quanzi` command is missing next to {sys.executable}; run `make setup`")
    return str(exe)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class E2EServer:
    """A running `quanzi serve`: its base URL and its log."""

    def __init__(self, base_url: str, log_path: Path, proc: subprocess.Popen[bytes]) -> None:
        self.base_url = base_url
        self.log_path = log_path
        self.proc = proc

    def read_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_size(self) -> int:
        """A mark in the log: pass it to `wait_for_event` to see only what was logged after it."""
        return self.log_path.stat().st_size

    def events(self, since: int = 0) -> list[dict]:
        """The JSON (structlog) lines of the log, from byte offset `since`."""
        with self.log_path.open("rb") as f:
            f.seek(since)
            data = f.read().decode("utf-8", errors="replace")
        out = []
        for line in data.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line still being written
        return out

    def wait_for_event(self, event: str, since: int = 0, timeout: float = 10.0, **fields: object) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events(since):
                if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                    return e
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event} {fields} in the server log after {timeout}s:\n{self.tail()}")
            time.sleep(0.05)

    def login_code(self, phone_e164: str, since: int = 0) -> str:
        """The one-time code the log SMS provider 'sent' to this phone (logged as `sms.login_code`)."""
        code = str(self.wait_for_event("sms.login_code", since, phone=phone_e164)["code"])
        assert len(code) == 6 and code.isdigit(), code
        return code

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.read_log().splitlines()[-n:])


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    # Plain tracebacks: typer's rich ones are hundreds of lines of boxes.
    env = {**env, "_TYPER_STANDARD_TRACEBACK": "1"}
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        out = (r.stdout + "\n" + r.stderr).strip()
        pytest.fail(f"`{' '.join(cmd)}` failed ({r.returncode}); last lines:\n{out[-3000:]}", pytrace=False)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # granian shuts its worker down gracefully
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the server's own process group (start_new_session)
        proc.wait(timeout=5)


def _start(exe: str, env: dict[str, str], tmp: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                                env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return proc, base_url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop(proc)
    raise RuntimeError(f"quanzi serve on port {port} did not answer /healthz within {STARTUP_TIMEOUT}s")


def _demo_database(tmp_path_factory: pytest.TempPathFactory, exe: str, env: dict[str, str]) -> Path:
    """`quanzi migrate` + `quanzi demo` into a template file, once per test run.

    The demo seeds months of history and takes a while, so the xdist workers of one run share one
    template (built by whichever comes first, under a file lock); each server gets its own copy.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's directory, common to all its workers
    template = shared / "e2e-demo-template.db"
    with (shared / "e2e-demo-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            building = shared / "e2e-demo-building.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{building}{suffix}").unlink(missing_ok=True)
            build_env = {**env, "DATABASE_URL": f"sqlite:///{building}"}
            _run([exe, "migrate"], build_env, shared)
            _run([exe, "demo"], build_env, shared)
            with contextlib.closing(sqlite3.connect(building)) as conn:  # all of it into the main file
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            building.rename(template)
    return template


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    exe = _quanzi_exe()
    tmp = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if k not in SCRUB_ENV and not k.startswith("QUANZI_")}
    env.update({
        "QUANZI_DEV_CLOCK_API": "1",
        "QUANZI_DEMO_HINTS": "1",
        "QUANZI_SECRET_KEY": "e2e",
        "QUANZI_LOG_JSON": "1",
        "QUANZI_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",  # log lines reach the file as they are written
    })
    if redis_url := os.environ.get("QUANZI_TEST_REDIS_URL"):
        env["REDIS_URL"] = redis_url
        env["QUANZI_RATELIMIT_PREFIX"] = f"e2e-{uuid.uuid4().hex[:8]}"
    db_path = tmp / "e2e.db"
    shutil.copyfile(_demo_database(tmp_path_factory, exe, env), db_path)
    env["DATABASE_URL"] = f"sqlite:///{db_path}"
    log_path = tmp / "server.log"
    log_path.touch()
    last: Exception | None = None
    for _attempt in range(3):  # another process may grab the free port before the server binds it
        try:
            proc, base_url = _start(exe, env, tmp, log_path)
            break
        except RuntimeError as exc:
            last = exc
    else:
        pytest.fail(f"{last}\n--- server log ---\n{log_path.read_text(errors='replace')[-4000:]}")
    server = E2EServer(base_url, log_path, proc)
    try:
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, e2e_server: E2EServer) -> Iterator[object]:  # noqa: ANN001
    context = browser.new_context(
        base_url=e2e_server.base_url, viewport={"width": 390, "height": 844}, device_scale_factor=2,
        is_mobile=True, has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(10_000)
    p = context.new_page()
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    """screenshot(page, "name") -> test-results/e2e/<test>-<name>.png (full page)."""

    def take(p, name: str) -> Path:  # noqa: ANN001
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{request.node.name}-{name}.png"
        p.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """A failing browser test shows the tail of the server log under its report."""
    rep = yield
    server = getattr(item, "funcargs", {}).get("e2e_server")
    if rep.failed and isinstance(server, E2EServer):
        rep.sections.append(("server log (tail)", server.tail()))
    return rep
