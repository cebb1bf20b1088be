"""HTTP plumbing shared by all domains: templates, request context middleware, error rendering.

No business rules here. Errors a user can cause are DomainErrors and become 4xx JSON (API) or a
friendly page (browser). Anything else is a bug: logged with its stack, answered with a plain 500.
"""

from __future__ import annotations

import os
import time
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
from fastapi.routing import (  # private: pinned FastAPI; tests/kit/test_routing_index.py guards the contract
    _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY,
    _FASTAPI_INCLUDED_ROUTER_KEY,
    _SCOPE_MISSING,
    APIRoute,
    APIRouter,
    _get_fastapi_scope,
    _restore_fastapi_scope_key,
    _apply_router_form_limits,
    _IncludedRouter,
    _route_selected,
    _update_scope,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount, get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.errors import DomainError, InvalidInput, NotFound
from quanzi.kit.logging import REQUEST as REQUEST_LOG
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
    """?lang= beats the `lang` cookie beats (API only) Accept-Language; default Simplified Chinese."""
    qs = scope.get("query_string", b"")
    if qs and b"lang=" in qs:
        from urllib.parse import parse_qs

        if lang := i18n.normalize((parse_qs(qs.decode(errors="ignore")).get("lang") or [None])[0]):
            return lang
    cookie = accept_language = b""
    for name, value in scope.get("headers") or ():
        if name == b"cookie":
            cookie = value
        elif name == b"accept-language":
            accept_language = value
    if b"lang=" in cookie:
        for part in cookie.decode(errors="ignore").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "lang" and (lang := i18n.normalize(value)):
                return lang
    if accept_language and scope.get("path", "").startswith("/api/"):
        if lang := i18n.normalize(accept_language.decode(errors="ignore")[:5]):
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
    """Request id, locale, structured-log context, metrics and security headers (pure ASGI).

    Every request pays for this, so it does only what it must per request: no Request object, no header
    dict, the metric children looked up once per (method, route, status) and reused.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        count = self._counts.get((method, route, status))
        if count is None:
            count = self._counts[(method, route, status)] = REQUESTS.labels(method, route, str(status))
        latency = self._latencies.get((method, route))
        if latency is None:
            latency = self._latencies[(method, route)] = LATENCY.labels(method, route)
        count.inc()
        latency.observe(elapsed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        accept = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode(errors="ignore")[:64]
            elif name == b"accept":
                accept = value
        rid = rid or os.urandom(16).hex()
        rid_header = (b"x-request-id", rid.encode())
        i18n.set_locale(pick_locale(scope))
        REQUEST_LOG.set((rid, scope["method"], scope["path"]))
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                app_state = getattr(scope.get("app"), "state", None)  # WeChat's script origin, when configured
                message["headers"] = [*message.get("headers", ()), rid_header,
                                      *getattr(app_state, "security_headers", SECURITY_HEADERS)]
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
            if started:
                raise
            status = 500
            zh = i18n.short() == "zh"
            message = "服务器开小差了，请稍后再试" if zh else "Something went wrong on our side; please try again"
            response: Response
            if scope["path"].startswith("/api/") or b"text/html" not in accept:
                response = JSONResponse({"error": {"code": "internal_error", "message": message}}, status_code=500)
            else:
                response = HTMLResponse(f"<h1>500</h1><p>{message}</p>", status_code=500)
            await response(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            self._observe(scope["method"], getattr(route, "path", "unmatched"), status, time.perf_counter() - start)


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


def _route_prefixes(route: Any) -> tuple[str, ...]:
    """The literal starts (before the first `{`) of every path `route` can match."""
    if isinstance(route, _IncludedRouter):
        paths = [ctx.path_format or getattr(ctx.starlette_route, "path_format", None) or ""
                 for ctx in route.effective_route_contexts()]
    else:
        paths = [getattr(route, "path_format", None) or ""]
    return tuple(sorted({p.split("{", 1)[0] for p in paths}))


def _static_path(ctx: Any) -> str | None:
    """The path of an endpoint without parameters (it matches that exact path only), else None."""
    path = ctx.path_format or getattr(ctx.starlette_route, "path_format", None)
    return path if path and "{" not in path else None


def _section(path: str) -> str:
    """A path's first two segments: `/api/flashsale/7/grab` → `/api/flashsale`."""
    cut = path.find("/", path.find("/", 1) + 1)
    return path if cut < 0 else path[:cut]


def _compatible(section: str, prefixes: tuple[str, ...]) -> bool:
    """Could a path whose first two segments are `section` start with one of `prefixes`?"""
    return any(section.startswith(p) or (p.startswith(section) and p[len(section):len(section) + 1] in ("", "/"))
               for p in prefixes)


class _IndexedIncludedRouter(_IncludedRouter):
    """An included router that tries only the routes a path's first two segments could match.

    FastAPI's `_IncludedRouter._match` (fastapi 0.165.0, copied below with the candidate list as the only
    change) tries each route of the router in turn, and runs twice per request (`matches`, then
    `_handle_selected`); order among the candidates is kept, so the first FULL match is the same.
    """

    _quanzi_index: dict[str, list[Any]]
    _quanzi_version: Any = None

    def _candidates(self, path: str) -> list[Any]:
        version = self.original_router._routes_version
        if version != self._quanzi_version:
            self._quanzi_index = {}
            self._quanzi_version = version
        key = _section(path)
        found = self._quanzi_index.get(key)
        if found is None:
            found = [c for c in self.effective_candidates() if _compatible(key, _route_prefixes(c))]
            if len(self._quanzi_index) < 2048:
                self._quanzi_index[key] = found
        return found

    def _match(self, scope: Scope) -> tuple[Match, Scope, BaseRoute | None, Any]:
        partial: tuple[Scope, BaseRoute, Any] | None = None
        for candidate in self._candidates(get_route_path(scope)):
            if isinstance(candidate, _IncludedRouter):
                match, child_scope = candidate.matches(scope)
                route: BaseRoute = candidate
                route_context = None
            elif isinstance(candidate.original_route, APIRoute):
                route_context = candidate
                fastapi_scope = _get_fastapi_scope(scope)
                previous_context = fastapi_scope.get(_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, _SCOPE_MISSING)
                fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = route_context
                try:
                    match, child_scope = candidate.original_route.matches(scope)
                finally:
                    _restore_fastapi_scope_key(scope, _FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY, previous_context)
                route = candidate.original_route
            else:
                route_context = candidate
                match, child_scope = candidate.matches(scope)
                route = candidate.starlette_route or candidate.original_route
            if match == Match.FULL:
                return match, child_scope, route, route_context
            if match == Match.PARTIAL and partial is None:
                partial = (child_scope, route, route_context)
        if partial is not None:
            child_scope, route, route_context = partial
            return Match.PARTIAL, child_scope, route, route_context
        return Match.NONE, {}, None, None


class _IndexedRouter(APIRouter):
    """The app's router, with the routes a path could possibly match looked up instead of tried in turn.

    FastAPI tries every included router in order and, inside the one that matches, walks its routes twice
    (`matches`, then `_handle_selected`), so a request to a router included late paid for dozens of
    routers' regexes first: most of the fixed toll per request. Here every endpoint of every included
    router (and every mount and plain route) is indexed by the literal start of its path; a request
    tries, in the original order, only the endpoints compatible with its first two path segments, and
    the first FULL match wins exactly as in FastAPI's loop (an endpoint left out cannot match the path).
    The selected endpoint is then run the way `_IncludedRouter.handle`/`_handle_selected` (fastapi
    0.165.0) run it. Anything else — a method mismatch (405), a trailing-slash redirect, a 404, the
    lifespan — goes through FastAPI's own loop unchanged. tests/kit/test_routing_index.py checks that
    every route resolves to the same endpoint both ways.
    """

    _quanzi_entries: list[tuple[tuple[Any, Any, str | None], tuple[str, ...]]]
    _quanzi_index: dict[str, list[tuple[Any, Any, str | None]]]
    _quanzi_version: Any

    def _reindex(self) -> None:
        entries: list[tuple[tuple[Any, Any, str | None], tuple[str, ...]]] = []
        for route in self.routes:
            if isinstance(route, _IncludedRouter):
                leaves = route.effective_candidates()
                if all(not isinstance(c, _IncludedRouter) and isinstance(c.original_route, APIRoute)
                       for c in leaves):
                    entries.extend(((route, c, _static_path(c)), _route_prefixes(c)) for c in leaves)
                    continue
            entries.append(((None, route, None), _route_prefixes(route)))
        self._quanzi_entries = entries
        self._quanzi_index = {}
        self._quanzi_version = (self._routes_version, len(self.routes))

    def _candidates(self, path: str) -> list[tuple[Any, Any, str | None]]:
        if self._quanzi_version != (self._routes_version, len(self.routes)):
            self._reindex()
        key = _section(path)
        found = self._quanzi_index.get(key)
        if found is None:
            found = [entry for entry, prefixes in self._quanzi_entries if _compatible(key, prefixes)]
            if len(self._quanzi_index) < 2048:  # sections are few; do not let odd paths grow it forever
                self._quanzi_index[key] = found
        return found

    def select(self, scope: Scope) -> tuple[Any, Any, Scope] | None:
        """(inclusion or None, endpoint context or route, child scope) of the first FULL match, if any."""
        path = get_route_path(scope)
        for inclusion, route, static in self._candidates(path):
            if static is not None and static != path:
                continue  # a path without parameters matches only itself: no regex needed to say no
            if inclusion is None:
                match, child_scope = route.matches(scope)
            else:
                # what APIRoute.matches does for an included endpoint, without FastAPI's scope-key round trip
                match, child_scope = route.matches(scope)
                if match != Match.NONE:
                    child_scope["route"] = route.original_route
            if match == Match.FULL:
                return inclusion, route, child_scope
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (selected := self.select(scope)) is not None:
            inclusion, route, child_scope = selected
            _apply_router_form_limits(scope, self.form_limits)
            scope.setdefault("router", self)
            if inclusion is None:
                _update_scope(scope, child_scope)
                _route_selected(scope=scope, path=getattr(route, "path_format", None), mount=isinstance(route, Mount))
                await route.handle(scope, receive, send)
                return
            _apply_router_form_limits(scope, inclusion.include_context.form_limits)
            fastapi_scope = _get_fastapi_scope(scope)
            fastapi_scope[_FASTAPI_INCLUDED_ROUTER_KEY] = inclusion
            _update_scope(scope, child_scope)
            _route_selected(scope=scope, path=getattr(route.starlette_route, "path_format", None) or route.path_format)
            fastapi_scope[_FASTAPI_EFFECTIVE_ROUTE_CONTEXT_KEY] = route
            scope["route"] = route.original_route
            await route.original_route.handle(scope, receive, send)
            return
        await super().app(scope, receive, send)


def index_routes(app: FastAPI) -> None:
    """Call once the routers are included: the app's router looks routes up by path (see _IndexedRouter)."""
    router = app.router
    if type(router) is APIRouter and router.middleware_stack == router.app:  # no router-level middleware
        router.__class__ = _IndexedRouter
        router._quanzi_version = None  # type: ignore[attr-defined]
        router.middleware_stack = router.app  # Starlette bound the old method at __init__
    for route in router.routes:
        if type(route) is _IncludedRouter:
            route.__class__ = _IndexedIncludedRouter


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    ctx = {"me": getattr(request.state, "principal", None), **(context or {})}
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
