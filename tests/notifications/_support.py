"""Shared steps of the notification tests: reading the message centre, running the outbox until it is quiet, a
flaky-first-attempt wrapper around the real handlers, duplicate deliveries, and local HTTP doubles of the
outside services (a real HTTP server on 127.0.0.1, so the official SDKs talk HTTP to it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.outbox import OutboxMessage, Registered
from quanzi.notifications.models import Delivery, Notification

EVENT_HANDLERS = "quanzi.notifications.jobs."


async def messages(db: Database, user_id: int | None = None) -> list[Notification]:
    async with db.read() as s:
        stmt = select(Notification).order_by(Notification.id)
        if user_id is not None:
            stmt = stmt.where(Notification.user_id == user_id)
        return list((await s.execute(stmt)).scalars())


async def deliveries(db: Database, channel: str | None = None) -> list[Delivery]:
    async with db.read() as s:
        stmt = select(Delivery).order_by(Delivery.id)
        if channel:
            stmt = stmt.where(Delivery.channel == channel)
        return list((await s.execute(stmt)).scalars())


async def settle(db: Database, rounds: int = 6, step: timedelta = timedelta(minutes=1)) -> None:
    """Deliver the outbox, moving the clock past each retry's backoff, until nothing is due."""
    for _ in range(rounds):
        await outbox.drain(db)
        clock.advance(step)
    await outbox.drain(db)


@dataclass
class Flaky:
    """Every notifications event handler fails the first time it sees a message — after doing its work, so the
    rollback must take that work away — and runs for real from then on."""

    failed: set[str] = field(default_factory=set)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for topic, regs in outbox._handlers.items():
            for name, reg in list(regs.items()):
                if name.startswith(EVENT_HANDLERS) and not reg.own_transactions:
                    monkeypatch.setitem(regs, name, Registered(name, self._wrap(name, reg.fn), False))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def flaky(s: Any, payload: dict[str, Any]) -> None:
            await fn(s, payload)
            key = f"{name}:{json.dumps(payload, sort_keys=True)}"
            if key not in self.failed:
                self.failed.add(key)
                raise RuntimeError("simulated failure after the handler wrote its message")

        return flaky


async def redeliver_event_handlers(db: Database) -> int:
    """A duplicate delivery of every notifications event message already handled (as if a worker lost its lease
    after doing the work): a fresh pending copy of each done row."""
    async with db.write() as s:
        done = list((await s.execute(select(OutboxMessage).where(
            OutboxMessage.status == "done", OutboxMessage.handler.startswith(EVENT_HANDLERS),
            ~OutboxMessage.topic.startswith("notifications.")))).scalars())
        for m in done:
            s.add(OutboxMessage(topic=m.topic, handler=m.handler, payload=dict(m.payload), status="pending",
                                attempts=0, next_attempt_at=clock.now(), created_at=clock.now()))
    return len(done)


# --- local HTTP doubles ---------------------------------------------------------------------------------------

@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@contextmanager
def http_double(answer: Callable[[Seen], tuple[int, dict[str, Any]]]) -> Iterator[tuple[str, list[Seen]]]:
    """Serve `answer(request) -> (status, json)` on 127.0.0.1 (a random port); yields ("127.0.0.1:port", seen)."""
    seen: list[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            parts = urlsplit(self.path)
            req = Seen(self.command, parts.path, parse_qs(parts.query),
                       {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length) if length else b"")
            seen.append(req)
            status, body = answer(req)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
