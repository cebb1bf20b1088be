"""An installed copy of Quanzi (a regular wheel in a fresh virtualenv, no source checkout, no node_modules)
migrates its database and serves its pages, page assets and Chinese text."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.wheel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kw)  # type: ignore[call-overload]
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_installed_wheel_serves_assets_and_pages(tmp_path: Path) -> None:
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)])
    wheel = next((tmp_path / "dist").glob("quanzi-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"quanzi/vendor/htmx/htmx.min.js", "quanzi/vendor/redoc/redoc.standalone.js",
            "quanzi/locale/zh_CN/LC_MESSAGES/messages.mo", "quanzi/templates/base.html",
            "quanzi/static/img/favicon.svg"} <= names
    assert any(n.startswith("quanzi/migrations/versions/") for n in names)

    # A fresh virtualenv; its dependencies come from ours (one .pth line, so our editable checkout is not
    # on its path), Quanzi itself only from the wheel.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "deps.pth").write_text("\n".join(ours) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)])

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_") and k not in ("DATABASE_URL",
                                                                                           "REDIS_URL")}
    env.update({"DATABASE_URL": f"sqlite:///{home / 'q.db'}", "QUANZI_MEDIA_DIR": str(home / "media"),
                "QUANZI_SANDBOX_KEY_DIR": str(home / "keys"), "QUANZI_EMBEDDED_WORKER": "false",
                "QUANZI_LOG_LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1"})
    where = _run([str(python), "-c", "import quanzi; print(quanzi.__file__)"], env=env, cwd=home).stdout
    assert str(site) in where, where  # not the checkout
    _run([str(venv / "bin" / "quanzi"), "migrate"], env=env, cwd=home)
    port = _free_port()
    proc = subprocess.Popen([str(venv / "bin" / "quanzi"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the installed server did not start"
            time.sleep(0.2)
        r = httpx.get(f"{base}/static/vendor/htmx/htmx.min.js", headers={"accept-encoding": "gzip"})
        assert r.status_code == 200 and "htmx" in r.text and r.headers.get("content-encoding") == "gzip"
        for path in ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/echarts/echarts.min.js",
                     "/static/css/app.css", "/favicon.ico"):
            assert httpx.get(base + path).status_code == 200, path
        home_page = httpx.get(base + "/", headers={"accept": "text/html"})
        assert home_page.status_code == 200 and '<html lang="zh-CN">' in home_page.text
        assert "登录" in home_page.text  # the compiled Chinese catalog travelled with the wheel
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
