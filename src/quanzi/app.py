"""App factory: settings, database, middleware, routers, error handlers, the embedded worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from quanzi import domains
from quanzi.accounts.deps import make_auth_cache
from quanzi.backoffice.admin import mount_admin
from quanzi.config import Settings, get_settings
from quanzi.flashsale import gate as flash_gate
from quanzi.kit import assets, docs
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.logging import configure as configure_logging
from quanzi.kit.ratelimit import RateLimiter
from quanzi.kit.web import (
    ERROR_RESPONSES,
    RequestContextMiddleware,
    index_routes,
    install_error_handlers,
    security_headers,
)
from quanzi.kit.worker import run_worker
from quanzi.media.limits import UploadBodyLimit
from quanzi.notifications import channels as notification_channels
from quanzi.payments import registry as payment_registry
from quanzi.payments.providers import ProviderConfig
from quanzi.payments.providers import make_provider as make_payment_provider

STATIC = Path(__file__).resolve().parent / "static"
GZIP_MIN_BYTES = assets.GZIP_MIN_BYTES  # below about a packet, compressing costs more than it saves


class StartupRefused(RuntimeError):
    """A deployment that must not serve; the message says every reason and how to fix it."""


def preflight(settings: Settings) -> list[str]:
    """What `quanzi serve` checks before it listens: the page assets and the poster font. Returns warnings;
    raises StartupRefused when a check fails that the settings do not allow to pass."""
    from quanzi.distribution import posters

    problems: list[str] = []
    warnings: list[str] = []
    try:
        assets.check(settings.assets_dir)
    except assets.AssetsMissing as exc:
        problems.append(str(exc))
    posters.configure_font(settings.cjk_font)
    if font := posters.cjk_font_problem():
        if settings.require_cjk_font:
            problems.append(font + " (QUANZI_REQUIRE_CJK_FONT=false serves anyway, with boxes on posters.)")
        else:
            warnings.append("POSTERS WILL SHOW BOXES INSTEAD OF CHINESE. " + font)
    if problems:
        raise StartupRefused("\n".join(f"- {p}" for p in problems))
    return warnings


def configure_payments(settings: Settings) -> None:
    config = ProviderConfig.from_settings(settings)
    names = [n.strip() for n in settings.payment_providers.split(",") if n.strip()]
    payment_registry.configure({n: make_payment_provider(n, config) for n in names})
    from quanzi.withdrawals import payouts

    payouts.configure(settings, config)  # refuses sandbox payouts in production


def configure_caches(settings: Settings, db: Database | None = None, *, processes: int | None = None) -> None:
    """Share cache versions through Redis when configured (kit/cache.py): this process's commits bump them
    there from now on; with `db`, also give that database its data cache, which without Redis is on only
    when this is the one process (`processes`: how many run, the server's workers by default)."""
    from quanzi.accounts import authcache
    from quanzi.kit import cache

    authcache.versions_for(settings.redis_url, settings.auth_cache_prefix)
    cache.versions_for(settings.redis_url, settings.cache_prefix, cache.DATA)
    if db is not None:
        cache.attach(db, redis_url=settings.redis_url, prefix=settings.cache_prefix,
                     workers=settings.workers if processes is None else processes)


def create_app(settings: Settings | None = None, db: Database | None = None, *, start_worker: bool | None = None,
               ) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    domains.load_all()
    db = db or Database(settings.database_url)
    if settings.clock_start is not None:
        clock.set(settings.clock_start)
    run_embedded = settings.embedded_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        if settings.flash_reconcile_on_start:
            from quanzi.flashsale.jobs import reconcile_on_start

            await reconcile_on_start(db)
        if run_embedded:
            task = asyncio.create_task(run_worker(db, stop, poll_seconds=settings.worker_poll_seconds,
                                                  max_attempts=settings.outbox_max_attempts))
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=10)
            await db.dispose()

    # docs_url/redoc_url off: FastAPI's pages load Swagger UI and ReDoc from a CDN the CSP blocks; ours
    # (kit/docs.py) serve them from npm packages on this origin.
    app = FastAPI(title="Quanzi API", version="0.1.0", lifespan=lifespan, responses=ERROR_RESPONSES,
                  description="Quanzi (圈子) social-commerce platform. Money is integer fen.",
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.db = db
    app.state.limiter = RateLimiter(settings.redis_url, settings.ratelimit_prefix)
    # Refuses a production configuration without a real SMS provider; login codes go through the SMS channel.
    app.state.sms = notification_channels.configure(settings)
    app.state.auth_cache = make_auth_cache(settings, db)
    configure_caches(settings, db)
    configure_payments(settings)
    from quanzi.distribution import posters

    posters.configure_font(settings.cjk_font)
    if settings.wechat_app_id:  # WeChat's JS-SDK (share cards) is loaded from WeChat's own origin
        from urllib.parse import urlsplit

        jssdk = urlsplit(settings.wechat_jssdk_url)
        app.state.security_headers = security_headers((f"{jssdk.scheme}://{jssdk.netloc}",))
    flash_gate.configure(settings.redis_url, settings.flash_gate_prefix)
    app.add_middleware(UploadBodyLimit, max_file_bytes=settings.media_max_bytes)
    app.add_middleware(RequestContextMiddleware)
    # Outermost, its own middleware: pages, JSON and text assets leave compressed (images are skipped by
    # Starlette's content-type check); request handling inside stays untouched.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6)
    install_error_handlers(app)
    for router in domains.routers():
        app.include_router(router)
    app.include_router(docs.router)
    index_routes(app)  # after the last route, before the mounts (which it leaves to Starlette)
    for name in assets.VENDOR:
        app.mount(f"/static/vendor/{name}", assets.GzipStaticFiles(
            directory=assets.vendor_dir(name, settings.assets_dir), check_dir=False), name=f"vendor-{name}")
    app.mount("/static", assets.GzipStaticFiles(directory=STATIC), name="static")
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=settings.media_dir), name="media")
    mount_admin(app, db, settings.secret_key)
    return app
