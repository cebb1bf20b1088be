"""The background loop: deliver outbox messages and run due sweeps.

Runs in-process under `quanzi serve` (embedded mode) and alone as `quanzi worker`. Any number of
loops may run against one PostgreSQL database: claims use SKIP LOCKED and leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid

import structlog

from quanzi.kit import outbox, sweeps
from quanzi.kit.db import Database

log = structlog.get_logger("quanzi.worker")


async def run_worker(
    db: Database,
    stop: asyncio.Event,
    *,
    poll_seconds: float = 1.0,
    max_attempts: int = 8,
    run_sweeps: bool = True,
) -> None:
    worker_id = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    wakeup = asyncio.Event()
    outbox.set_wakeup(wakeup)
    log.info("worker.started", worker=worker_id)
    try:
        while not stop.is_set():
            delivered = 0
            try:
                delivered = await outbox.deliver_batch(db, worker_id, max_attempts=max_attempts)
                if run_sweeps:
                    await sweeps.run_due(db)
            except Exception as exc:  # noqa: BLE001 - e.g. the database restarting; try again shortly
                log.error("worker.loop_error", error=repr(exc))
            if delivered:
                continue
            wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_seconds):
                    waiter = asyncio.ensure_future(wakeup.wait())
                    stopper = asyncio.ensure_future(stop.wait())
                    try:
                        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiter.cancel()
                        stopper.cancel()
    finally:
        outbox.set_wakeup(None)
        log.info("worker.stopped", worker=worker_id)
