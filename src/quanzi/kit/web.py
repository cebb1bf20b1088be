"""HTTP plumbing shared by all domains: templates, request context middleware, error rendering.

No business rules here. Errors a user can cause are DomainErrors and become 4xx JSON (API) or a
friendly page (browser). Anything else is a bug: logged with its stack, answered with a plain 500.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any

import jinja2
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.errors import DomainError, InvalidInput, NotFound
from quanzi.kit.money import yuan
from quanzi.kit.schemas import ErrorOut

log = structlog.get_logger("quanzi.web")

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), extensions=["jinja2.ext.i18n"], autoescape=True,
))
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.env.globals["yuan"] = lambda fen: yuan(int(fen), "en" if i18n.get_locale() == "en" else "zh_CN")
templates.env.globals["locale"] = i18n.get_locale
# The server's now, for countdowns: <span data-countdown="…" data-now="{{ server_now() }}"> counts down on the
# server's clock, not the phone's (static/js/app.js).
templates.env.globals["server_now"] = lambda: clock.now().isoformat()
templates.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": True}

REQUESTS = Counter("quanzi_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("quanzi_http_request_seconds", "HTTP request latency", ["method", "route"])

def security_headers(script_origins: tuple[str, ...] = ()) -> list[tuple[bytes, bytes]]:
    """The security headers; `script_origins`: third-party script origins this deployment needs (e.g.
    WeChat's JS-SDK host when WeChat is configured), set per app as app.state.security_headers."""
    script_src = " ".join(("'self'", *script_origins))
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (
            b"content-security-policy",
            f"default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
            "form-action 'self'".encode(),
        ),
    ]


SECURITY_HEADERS = security_headers()


# Every 4xx the error handlers below can produce, documented once for the whole API:
# `FastAPI(..., responses=ERROR_RESPONSES)` puts them on every operation (and replaces FastAPI's default
# 422 `HTTPValidationError`, which is not what `install_error_handlers` answers).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Malformed request, or refused by a business rule"),
        (401, "Not logged in, or the token is invalid or expired"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflicts with the current state"),
        (422, "The request is not valid"),
        (429, "Too many attempts"),
    )
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def wants_html(request: Request) -> bool:
    if is_api(request):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or request.headers.get("hx-request") == "true"


def pick_locale(scope: Scope) -> str:
    from urllib.parse import parse_qs

    qs = parse_qs(scope.get("query_string", b"").decode(errors="ignore"))
    if lang := i18n.normalize((qs.get("lang") or [None])[0]):
        return lang
    headers = dict(scope.get("headers") or [])
    cookie = headers.get(b"cookie", b"").decode(errors="ignore")
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "lang" and (lang := i18n.normalize(value)):
            return lang
    if scope.get("path", "").startswith("/api/"):
        if lang := i18n.normalize(headers.get(b"accept-language", b"").decode(errors="ignore")[:5]):
            return lang
    return i18n.DEFAULT


NUL_MESSAGE = "Text must not contain the NUL character (U+0000)"


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    qs = scope.get("query_string", b"")
    if b"%00" in qs or b"\x00" in qs:
        return "query"
    return None


class RequestContextMiddleware:
    """Request id, locale, structured-log context, metrics and security headers (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode(errors="ignore")[:64] or uuid.uuid4().hex
        i18n.set_locale(pick_locale(scope))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid, method=scope["method"], path=scope["path"])
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status_holder: dict[str, int | bool] = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                hdrs = list(message.get("headers", []))
                hdrs.append((b"x-request-id", rid.encode()))
                hdrs.extend(getattr(getattr(scope.get("app"), "state", None), "security_headers", SECURITY_HEADERS))
                message["headers"] = hdrs
            await send(message)

        try:
            if where := _nul_in_url(scope):
                # PostgreSQL text cannot hold U+0000: refuse it here rather than fail deep inside (a 500).
                # JSON bodies are checked by kit.schemas.In.
                err = InvalidInput(fields=[{"loc": [where], "type": "string_nul", "msg": NUL_MESSAGE}])
                await error_response(Request(scope), err)(scope, receive, send_wrapper)
                return
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:  # a bug: answer here so the 500 still carries the request id and headers
            log.exception("unhandled_error", error=repr(exc))
            if status_holder.get("started"):
                raise
            status_holder["status"] = 500
            zh = i18n.short() == "zh"
            message = "服务器开小差了，请稍后再试" if zh else "Something went wrong on our side; please try again"
            response: Response
            if scope["path"].startswith("/api/") or b"text/html" not in headers.get(b"accept", b""):
                response = JSONResponse({"error": {"code": "internal_error", "message": message}}, status_code=500)
            else:
                response = HTMLResponse(f"<h1>500</h1><p>{message}</p>", status_code=500)
            await response(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - start
            REQUESTS.labels(scope["method"], route_path, str(status_holder["status"])).inc()
            LATENCY.labels(scope["method"], route_path).observe(elapsed)


# Who is looking at an error page. A 404 for an unknown address runs no route, so no dependency has looked at
# the session cookie: accounts registers how to (kit never imports accounts), and the page shows the top bar
# with the person, as every other page does.
VisitorLookup = Callable[[Request], Awaitable[Any]]
_visitor_lookup: VisitorLookup | None = None


def set_visitor_lookup(lookup: VisitorLookup) -> None:
    global _visitor_lookup
    _visitor_lookup = lookup


async def _visitor(request: Request) -> Any:
    if hasattr(request.state, "principal") or _visitor_lookup is None:
        return getattr(request.state, "principal", None)
    try:
        return await _visitor_lookup(request)
    except Exception:  # an error page must render even when the session cannot be read
        log.warning("error_page_visitor_lookup_failed", exc_info=True)
        return None


def error_words(status: int) -> tuple[str, str]:
    """(icon class, headline) of an error page: what happened, in plain words; the code goes in small print."""
    _ = i18n.gettext
    return {
        400: ("ic-orders", _("That did not work")),
        401: ("ic-me", _("Please log in first")),
        403: ("ic-me", _("This page is not open to you")),
        404: ("ic-search", _("We could not find that page")),
        405: ("ic-orders", _("That did not work")),
        409: ("ic-orders", _("Things changed in the meantime")),
        410: ("ic-orders", _("This has expired")),
        422: ("ic-card", _("Something in the form needs a look")),
        429: ("ic-orders", _("Too many tries: take a short break")),
    }.get(status, ("ic-orders", _("Something went wrong on our side")))


def error_response(request: Request, exc: DomainError, me: Any = None) -> Response:
    resp = _error_response(request, exc, me)
    retry = exc.detail.get("retry_after_seconds")
    if isinstance(retry, int) and retry > 0:  # a 429 that knows when the caller may try again says so
        resp.headers["Retry-After"] = str(retry)
    return resp


def _error_response(request: Request, exc: DomainError, me: Any = None) -> Response:
    lang = i18n.short()
    if wants_html(request) and exc.status == 401:
        from urllib.parse import quote

        from fastapi.responses import RedirectResponse

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if wants_html(request):
        icon, headline = error_words(exc.status)
        return templates.TemplateResponse(
            request, "error.html",
            {"error": exc, "message": exc.text(lang), "status": exc.status, "icon": icon, "headline": headline,
             "me": me if me is not None else getattr(request.state, "principal", None)},
            status_code=exc.status,
        )
    return JSONResponse({"error": exc.to_json(lang)}, status_code=exc.status)


async def render_error(request: Request, exc: DomainError) -> Response:
    me = await _visitor(request) if wants_html(request) and exc.status != 401 else None
    return error_response(request, exc, me)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return await render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = [
            {"loc": [str(p) for p in e.get("loc", ())], "type": e.get("type", ""), "msg": e.get("msg", "")}
            for e in exc.errors()
        ][:20]
        err = InvalidInput(fields=fields)
        return await render_error(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return await render_error(request, NotFound())
        err = DomainError({"zh": "请求无法处理", "en": str(exc.detail)})
        err.status = exc.status_code  # type: ignore[misc]
        err.code = {405: "method_not_allowed", 401: "auth.required"}.get(exc.status_code, "http_error")  # type: ignore[misc]
        resp = await render_error(request, err)
        if exc.headers:
            resp.headers.update(exc.headers)
        if exc.status_code == 405:
            # Starlette lists only the methods of the first route whose path matched; a 405 must list
            # every method the resource supports (RFC 9110 §15.5.6), e.g. GET *and* POST /api/addresses.
            resp.headers["allow"] = ", ".join(_allowed_methods(request))
        return resp

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", error=repr(exc))
        body = {"error": {"code": "internal_error", "message": "服务器开小差了，请稍后再试" if i18n.short() == "zh"
                          else "Something went wrong on our side; please try again"}}
        if wants_html(request):
            return _bug_page(request, body["error"]["message"])
        return JSONResponse(body, status_code=500)


def _bug_page(request: Request, message: str) -> Response:
    """A 500 in the site's own look (plain words, the code in small print); bare HTML if even that fails."""
    try:
        icon, headline = error_words(500)
        err = DomainError({"zh": message, "en": message})
        err.code = "internal_error"  # type: ignore[misc]
        return templates.TemplateResponse(request, "error.html", {
            "error": err, "message": message, "status": 500, "icon": icon, "headline": headline,
            "me": getattr(request.state, "principal", None)}, status_code=500)
    except Exception:
        return HTMLResponse(f"<h1>500</h1><p>{message}</p>", status_code=500)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route (included routers too) fully matches for this path."""
    from starlette.routing import Match, Mount

    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [
        method for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    ctx = {"me": getattr(request.state, "principal", None), **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
