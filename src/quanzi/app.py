"""App factory: settings, database, middleware, routers, error handlers, the embedded worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from quanzi import domains
from quanzi.accounts.deps import make_auth_cache
from quanzi.accounts.sms import make_provider
from quanzi.backoffice.admin import mount_admin
from quanzi.config import ROOT, Settings, get_settings
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.logging import configure as configure_logging
from quanzi.kit.ratelimit import RateLimiter
from quanzi.kit.web import ERROR_RESPONSES, RequestContextMiddleware, index_routes, install_error_handlers
from quanzi.kit.worker import run_worker
from quanzi.flashsale import gate as flash_gate
from quanzi.payments import registry as payment_registry
from quanzi.payments.providers import ProviderConfig
from quanzi.payments.providers import make_provider as make_payment_provider

STATIC = Path(__file__).resolve().parent / "static"
VENDOR = {
    "htmx": ROOT / "node_modules" / "htmx.org" / "dist",
    "alpine": ROOT / "node_modules" / "@alpinejs" / "csp" / "dist",
    "echarts": ROOT / "node_modules" / "echarts" / "dist",
}


def configure_payments(settings: Settings) -> None:
    config = ProviderConfig.from_settings(settings)
    names = [n.strip() for n in settings.payment_providers.split(",") if n.strip()]
    payment_registry.configure({n: make_payment_provider(n, config) for n in names})


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

    app = FastAPI(title="Quanzi API", version="0.1.0", lifespan=lifespan, responses=ERROR_RESPONSES,
                  description="Quanzi (圈子) social-commerce platform. Money is integer fen.")
    app.state.settings = settings
    app.state.db = db
    app.state.limiter = RateLimiter(settings.redis_url, settings.ratelimit_prefix)
    app.state.sms = make_provider(settings.sms_provider)
    app.state.auth_cache = make_auth_cache(settings, db)
    configure_payments(settings)
    flash_gate.configure(settings.redis_url, settings.flash_gate_prefix)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    for router in domains.routers():
        app.include_router(router)
    index_routes(app)
    app.mount("/static/vendor/htmx", StaticFiles(directory=VENDOR["htmx"], check_dir=False), name="vendor-htmx")
    app.mount("/static/vendor/alpine", StaticFiles(directory=VENDOR["alpine"], check_dir=False), name="vendor-alpine")
    app.mount("/static/vendor/echarts", StaticFiles(directory=VENDOR["echarts"], check_dir=False),
              name="vendor-echarts")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/media", StaticFiles(directory=settings.media_dir), name="media")
    mount_admin(app, db, settings.secret_key)
    return app
