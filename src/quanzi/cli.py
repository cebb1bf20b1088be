"""`quanzi` command: serve | worker | migrate | demo | operator create | outbox."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from quanzi.config import ROOT, Settings, get_settings

app = typer.Typer(help="Quanzi (圈子) social-commerce platform", no_args_is_help=True, add_completion=False)
operator_app = typer.Typer(help="Operator accounts", no_args_is_help=True)
outbox_app = typer.Typer(help="Outbox (background events)", no_args_is_help=True)
ledger_app = typer.Typer(help="The commission and wallet ledger", no_args_is_help=True)
app.add_typer(operator_app, name="operator")
app.add_typer(outbox_app, name="outbox")
app.add_typer(ledger_app, name="ledger")
flash_app = typer.Typer(help="Flash sales", no_args_is_help=True)
app.add_typer(flash_app, name="flashsale")


def alembic_config(database_url: str | None = None):  # noqa: ANN201
    from alembic.config import Config

    from quanzi.kit.db import sync_url

    migrations = ROOT / "migrations"
    if not migrations.is_dir():  # an installed copy: the wheel carries them inside the package (hatch_build.py)
        migrations = Path(__file__).resolve().parent / "migrations"
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url or get_settings().database_url).replace("%", "%%"))
    return cfg


def migrate_to_head(database_url: str | None = None) -> None:
    from alembic import command

    url = database_url or get_settings().database_url
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest migration."""
    migrate_to_head()
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int | None, typer.Option(help="server processes")] = None,
    loop: Annotated[str, typer.Option(help="event loop: auto (uvloop when installed) | asyncio | uvloop")] = "auto",
    http: Annotated[str, typer.Option(help="HTTP version: 1 | 2 | auto")] = "1",
    backpressure: Annotated[int | None, typer.Option(help="requests in flight per worker before new "
                                                              "connections wait (default: granian's)")] = None,
    target: Annotated[str, typer.Option(hidden=True, help="ASGI app to serve (benchmarks serve a bare app "
                                                          "with exactly these settings)")] = "quanzi.asgi:app",
) -> None:
    """Serve the web app (granian). In embedded mode the background worker runs in-process."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops

    s = get_settings()
    _preflight_or_exit(s)
    h, p, w = host or s.host, port or s.port, workers or s.workers
    # The app's processes learn how many siblings they have: a per-process cache that is only safe in a
    # single process (the session cache without Redis) turns itself off when there are several.
    import os

    os.environ["QUANZI_WORKERS"] = str(w)
    typer.echo(f"Quanzi is serving on http://{h}:{p}  (database: {s.database_url.split('://')[0]})")
    Granian(target, address=h, port=p, workers=w, interface=Interfaces.ASGI, loop=Loops(loop), http=HTTPModes(http),
            backpressure=backpressure, log_access=False).serve()


def _preflight_or_exit(s: Settings) -> list[str]:
    from quanzi.app import StartupRefused, preflight

    try:
        warnings = preflight(s)
    except StartupRefused as exc:
        typer.echo(f"quanzi refuses to start:\n{exc}", err=True)
        raise typer.Exit(2) from exc
    for message in warnings:
        typer.echo(f"WARNING: {message}", err=True)
    return warnings


@app.command()
def doctor() -> None:
    """Check what `serve` checks before it listens (page assets, the poster font); exit 2 on a problem."""
    if not _preflight_or_exit(get_settings()):
        typer.echo("quanzi doctor: page assets and the poster font are in place")


@app.command()
def worker(
    no_sweeps: Annotated[bool, typer.Option("--no-sweeps", help="deliver outbox messages only")] = False,
) -> None:
    """Run the outbox delivery and sweeps loop alone (several may run against PostgreSQL)."""
    from quanzi import domains
    from quanzi.kit.db import Database
    from quanzi.kit.logging import configure
    from quanzi.kit.worker import run_worker

    s = get_settings()
    configure(s.log_level, s.log_json)
    domains.load_all()
    from quanzi.app import configure_caches, configure_payments
    from quanzi.flashsale import gate
    from quanzi.notifications import channels

    configure_payments(s)
    channels.configure(s)
    gate.configure(s.redis_url, s.flash_gate_prefix)

    async def main() -> None:
        db = Database(s.database_url)
        # Its commits bump the cache versions the servers read; it caches itself only with Redis (a worker
        # beside the server is a second process).
        configure_caches(s, db, processes=2)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run_worker(db, stop, poll_seconds=s.worker_poll_seconds, max_attempts=s.outbox_max_attempts,
                             run_sweeps=not no_sweeps)
        finally:
            await db.dispose()

    asyncio.run(main())


@app.command()
def demo() -> None:
    """Seed demo data (idempotent: running it twice changes nothing)."""
    from quanzi.app import configure_caches
    from quanzi.demo import seed

    configure_caches(get_settings())  # running servers see the seeded prices and policy (with Redis)

    summary = asyncio.run(seed(get_settings().database_url))
    for k, v in summary.items():
        typer.echo(f"{k}: {v}")


@operator_app.command("create")
def operator_create(
    phone: Annotated[str, typer.Argument(help="mobile number, e.g. 13800000001")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    nickname: str = "运营",
) -> None:
    """Create (or promote) an operator account with a password."""
    from quanzi import domains
    from quanzi.accounts.service import create_operator
    from quanzi.kit.db import Database

    domains.load_all()

    async def main() -> int:
        db = Database(get_settings().database_url)
        try:
            async with db.write() as s:
                user = await create_operator(s, phone, password, nickname)
                return user.id
        finally:
            await db.dispose()

    from quanzi.kit.errors import DomainError

    try:
        uid = asyncio.run(main())
    except DomainError as exc:
        typer.echo(f"error: {exc.text('en')} ({exc.code})", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"operator #{uid} ready")


@outbox_app.command("status")
def outbox_status() -> None:
    """Count outbox messages by status."""
    from sqlalchemy import func, select

    from quanzi.kit.db import Database
    from quanzi.kit.outbox import OutboxMessage

    async def main() -> list[tuple[str, int]]:
        db = Database(get_settings().database_url)
        try:
            async with db.read() as s:
                rows = await s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
                return [(r[0], r[1]) for r in rows]
        finally:
            await db.dispose()

    for status, n in asyncio.run(main()):
        typer.echo(f"{status}: {n}")


@flash_app.command("reconcile")
def flashsale_reconcile() -> None:
    """Return the unsold set-aside quota of ended sales to stock, then make Redis agree with the database."""
    from quanzi import domains
    from quanzi.flashsale import gate, service
    from quanzi.kit.db import Database

    domains.load_all()
    s = get_settings()

    async def main() -> tuple[dict[int, int], dict[int, int]]:
        db = Database(s.database_url)
        g = gate.configure(s.redis_url, s.flash_gate_prefix) if s.redis_url else None
        try:
            settled = await service.settle_ended(db)
            return settled, (await service.reconcile(db, g) if g is not None else {})
        finally:
            await db.dispose()
            if g is not None:
                await g.redis.aclose()

    settled, items = asyncio.run(main())
    typer.echo(f"returned the unsold quota of {len(settled)} ended flash-sale items to stock: "
               + ", ".join(f"#{k}+{v}" for k, v in settled.items()))
    if not s.redis_url:
        typer.echo("no REDIS_URL: the database alone decides grabs; no gate to reconcile")
        return
    typer.echo(f"reconciled {len(items)} flash-sale items: " + ", ".join(f"#{k}={v}" for k, v in items.items()))


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify every ledger invariant on the live database; exit 1 if any is broken."""
    from quanzi import domains
    from quanzi.kit.db import Database
    from quanzi.ledger.service import check

    domains.load_all()

    async def main() -> list[str]:
        db = Database(get_settings().database_url)
        try:
            async with db.read() as s:
                return await check(s)
        finally:
            await db.dispose()

    problems = asyncio.run(main())
    for p in problems:
        typer.echo(f"PROBLEM: {p}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("ledger ok: every transaction balances, cached balances equal their entries, no balance out of bounds")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
