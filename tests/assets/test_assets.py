"""Page assets, docs, gzip and favicon: served from this origin, compressed when worth it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from quanzi.kit import assets


async def test_docs_pages_load_only_our_own_assets(client: httpx.AsyncClient) -> None:
    for path, needs in (("/docs", ("/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                   "/static/vendor/swagger-ui/swagger-ui.css", "/static/js/docs.js")),
                        ("/redoc", ("/static/vendor/redoc/redoc.standalone.js",))):
        r = await client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        for url in needs:
            assert url in r.text
        # Nothing from another origin, and no inline script the CSP would block.
        assert not re.search(r"(src|href)=\"https?://", r.text), r.text
        assert not re.search(r"<script>\s*\S", r.text)
        assert "script-src 'self'" in r.headers["content-security-policy"]
        for url in needs:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 500


async def test_openapi_still_served(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200 and r.json()["info"]["title"] == "Quanzi API"
    assert "/docs" not in r.json()["paths"] and "/favicon.ico" not in r.json()["paths"]


async def test_text_is_gzipped_above_a_kilobyte(client: httpx.AsyncClient) -> None:
    r = await client.get("/static/vendor/htmx/htmx.min.js", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert int(r.headers.get("content-length", "0")) < 30_000  # ~51 kB raw
    assert b"htmx" in r.content  # httpx decompressed it
    page = await client.get("/", headers={"accept-encoding": "gzip", "accept": "text/html"})
    assert page.headers.get("content-encoding") == "gzip"
    assert page.headers["content-security-policy"]  # security headers survive compression
    # Small answers stay plain; a client that does not ask gets plain text.
    small = await client.get("/healthz", headers={"accept-encoding": "gzip"})
    assert small.status_code == 200 and "content-encoding" not in small.headers
    head = await client.head("/static/vendor/htmx/htmx.min.js", headers={"accept-encoding": "gzip"})
    assert head.status_code == 200 and head.headers["content-length"] == r.headers["content-length"]
    plain = await client.get("/static/vendor/htmx/htmx.min.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 40_000


async def test_gzip_body_is_the_file(client: httpx.AsyncClient) -> None:
    r = await client.get("/static/css/app.css", headers={"accept-encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    assert r.content == (assets.PACKAGE / "static" / "css" / "app.css").read_bytes()  # decoded by httpx


async def test_favicon(client: httpx.AsyncClient) -> None:
    for path in ("/favicon.ico", "/favicon.svg"):
        r = await client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.content.lstrip().startswith(b"<svg")
    home = await client.get("/", headers={"accept": "text/html"})
    assert '<link rel="icon" href="/favicon.svg"' in home.text


def test_vendor_lookup_prefers_the_configured_folder(tmp_path: Path) -> None:
    (tmp_path / "htmx.org" / "dist").mkdir(parents=True)
    (tmp_path / "htmx.org" / "dist" / "htmx.min.js").write_text("x")
    assert assets.vendor_dir("htmx", tmp_path) == tmp_path / "htmx.org" / "dist"
    # A configured folder is the only place looked at: a wrong one is named, not silently replaced.
    with pytest.raises(assets.AssetsMissing, match="echarts/echarts.min.js") as err:
        assets.check(tmp_path)
    assert "htmx/" not in str(err.value) and "QUANZI_ASSETS_DIR" in str(err.value)
    assets.check()  # the checkout's node_modules (make setup) is complete


async def test_static_files_are_gzipped_when_the_server_sends_files_itself(app) -> None:  # noqa: ANN001
    """granian offers the ASGI pathsend extension, which Starlette's GZipMiddleware passes through untouched."""
    import gzip as gz

    messages: list[dict] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/static/vendor/htmx/htmx.min.js", "raw_path": b"/static/vendor/htmx/htmx.min.js",
             "query_string": b"", "root_path": "", "server": ("test", 80), "client": ("10.0.0.9", 1),
             "headers": [(b"host", b"test"), (b"accept-encoding", b"gzip, br")],
             "extensions": {"http.response.pathsend": {}}}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert start["status"] == 200 and headers["content-encoding"] == "gzip", headers
    assert not any(m["type"] == "http.response.pathsend" for m in messages)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    assert gz.decompress(body) == (assets.vendor_dir("htmx") / "htmx.min.js").read_bytes()
