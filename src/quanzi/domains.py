"""The list of domains. Adding a domain = adding its name here; its models, jobs, api and pages load."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from fastapi import APIRouter

DOMAINS = [
    "accounts", "wechat", "media", "audit", "policy", "ledger", "distribution", "referrals", "catalog", "shops",
    "cart", "orders", "payments", "aftersales", "reviews", "withdrawals", "flashsale", "bargain", "groupbuy", "community", "engagement", "me", "web",
    "notifications", "backoffice",
]
PARTS = ("models", "jobs", "api", "pages", "console")


def _module(domain: str, part: str) -> ModuleType | None:
    name = f"quanzi.{domain}.{part}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def load_all() -> None:
    """Import every domain's models and jobs so tables, outbox handlers and sweeps are registered."""
    import quanzi.kit.idempotency  # noqa: F401
    import quanzi.kit.outbox  # noqa: F401

    for d in DOMAINS:
        for part in ("models", "jobs"):
            _module(d, part)
    import quanzi.catalog.search  # noqa: F401  (full-text index DDL hooks)


def routers() -> list[APIRouter]:
    out = []
    for d in DOMAINS:
        for part in ("api", "pages", "console"):
            mod = _module(d, part)
            if mod is not None and hasattr(mod, "router"):
                out.append(mod.router)
    return out
