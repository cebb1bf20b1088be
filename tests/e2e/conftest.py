"""Browser tests: the real server (`quanzi serve`) as a subprocess, driven by a real Chromium.

* `e2e_server` (session scope, so one per xdist worker): its own SQLite file (a copy of one that
  `quanzi migrate` + `quanzi demo` build once per run), then `quanzi serve --workers 1` on a free
  port. Its stdout/stderr go to a log file that tests read (e.g. the code logged as `sms.login_code`).
  The server always uses its own SQLite file, also when QUANZI_TEST_POSTGRES_URL is set: the browser
  tests check pages and flows, and the PostgreSQL behaviour is covered by the rest of the suite.
  When QUANZI_TEST_REDIS_URL is set, the server's rate limiter and flash-sale gate do use that Redis
  (with key prefixes of their own), so the Redis-backed paths are exercised through a real server too.
* `e2e_own_server` (module scope): a server of the module's own, built the same way. For tests that
  move the server's clock (POST /api/dev/clock): a jump of days would otherwise reach every later test
  on the shared server (its sweeps cancel, receive and complete the demo orders).
* `browser` (module scope) and `page` (per test): Python Playwright's sync API on the system Chromium
  (/usr/bin/chromium). A browser is never downloaded. Without Chromium the tests are skipped, except
  when CI=true: then they fail.
* `new_context` (per test): more phone-sized browser contexts, one per person of a journey (each has
  its own cookies); `login`: logs a page in with the demo password or a one-time code.
* The demo database is built with QUANZI_DEMO_SCALE=0.25 (a quarter of the order history: the same
  people, catalog and shops, built in a fraction of the time); QUANZI_E2E_DEMO_SCALE overrides it.

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
from urllib.parse import quote

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
DEMO_PASSWORD = "quanzi-demo"
DEMO_SCALE = os.environ.get("QUANZI_E2E_DEMO_SCALE", "0.25")


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
    """A running `quanzi serve`: its base URL, its log and its SQLite file."""

    def __init__(self, base_url: str, log_path: Path, proc: subprocess.Popen[bytes],
                 db_path: Path | None = None) -> None:
        self.base_url = base_url
        self.log_path = log_path
        self.proc = proc
        self.db_path = db_path

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Read the server's database (read-only connection; the server keeps writing meanwhile)."""
        assert self.db_path is not None
        uri = f"file:{self.db_path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params))

    def move_clock(self, seconds: int) -> str:
        """Move the server's clock forward (QUANZI_DEV_CLOCK_API=1); returns the server's new now()."""
        r = httpx.post(f"{self.base_url}/api/dev/clock", json={"advance_seconds": seconds}, timeout=10)
        r.raise_for_status()
        return str(r.json()["now"])

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
            build_env = {**env, "DATABASE_URL": f"sqlite:///{building}", "QUANZI_DEMO_SCALE": DEMO_SCALE}
            _run([exe, "migrate"], build_env, shared)
            _run([exe, "demo"], build_env, shared)
            with contextlib.closing(sqlite3.connect(building)) as conn:  # all of it into the main file
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            building.rename(template)
    return template


@contextlib.contextmanager
def _serve(tmp_path_factory: pytest.TempPathFactory, name: str = "e2e") -> Iterator[E2EServer]:
    exe = _quanzi_exe()
    tmp = tmp_path_factory.mktemp(name)
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
        run = uuid.uuid4().hex[:8]
        env["QUANZI_RATELIMIT_PREFIX"] = f"e2e-{run}"
        # Every server starts from a copy of one demo database, so their flash-sale items share ids: each
        # needs gate keys of its own, or one server's grabs would count against another's.
        env["QUANZI_FLASH_GATE_PREFIX"] = f"e2e-flash-{run}"
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
    server = E2EServer(base_url, log_path, proc, db_path)
    try:
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    with _serve(tmp_path_factory) as server:
        yield server


@pytest.fixture(scope="module")
def e2e_own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EServer]:
    """A server for this module alone (same demo data), e.g. for tests that move its clock."""
    with _serve(tmp_path_factory, "e2e-own") as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _phone_context(browser, base_url: str):  # noqa: ANN001, ANN202
    """A browser context like a phone in China: 390 px wide, touch, zh-CN, Asia/Shanghai."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 390, "height": 844}, device_scale_factor=2,
        is_mobile=True, has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def page(browser, e2e_server: E2EServer) -> Iterator[object]:  # noqa: ANN001
    context = _phone_context(browser, e2e_server.base_url)
    p = context.new_page()
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def new_context(browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., object]]:  # noqa: ANN001
    """new_context(server=None) -> another phone-sized browser context (another person: its own cookies)
    on `server` (default: the shared e2e_server). Every context it opened is closed after the test."""
    opened: list[object] = []

    def make(server: E2EServer | None = None):  # noqa: ANN202
        server = server or request.getfixturevalue("e2e_server")
        context = _phone_context(browser, server.base_url)
        opened.append(context)
        return context

    try:
        yield make
    finally:
        for context in opened:
            with contextlib.suppress(Exception):
                context.close()


def _e164(phone: str) -> str:
    return phone if phone.startswith("+") else f"+86{phone}"


@pytest.fixture
def login() -> Callable[..., None]:
    """login(page, phone, server=None, code=False): log the page's context in through /login.

    With the demo password (the <details> form), or with code=True a one-time code that the server
    (required then) logged as `sms.login_code`; a code login keeps the share cookie the page may carry.
    Ends on the page the login redirects to, checked to show who is logged in."""
    from playwright.sync_api import expect

    def do(page, phone: str, server: E2EServer | None = None, *, code: bool = False,  # noqa: ANN001
           password: str = DEMO_PASSWORD, next_url: str | None = None) -> None:
        page.goto("/login" + (f"?next={quote(next_url)}" if next_url else ""))
        if code:
            assert server is not None, "a code login reads the code from the server's log"
            page.get_by_test_id("phone").fill(phone)
            mark = server.log_size()
            page.get_by_test_id("send-code").click()
            expect(page.get_by_test_id("code-sent")).to_be_visible()
            page.get_by_test_id("code").fill(server.login_code(_e164(phone), since=mark))
            page.get_by_test_id("login-code").click()
        else:
            page.locator("details.password-login > summary").click()
            page.get_by_test_id("pw-phone").fill(phone)
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login-password").click()
        page.wait_for_url(lambda url: "/login" not in url)
        expect(page.get_by_test_id("who")).to_be_visible()

    return do


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
    if rep.failed:
        servers = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, E2EServer)]
        for server in dict.fromkeys(servers):
            rep.sections.append((f"server log (tail) {server.base_url}", server.tail()))
    return rep
