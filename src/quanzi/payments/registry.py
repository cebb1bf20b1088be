"""The configured payment providers of this process (set at start-up by the app or the worker)."""

from __future__ import annotations

from quanzi.payments.errors import UnknownProvider
from quanzi.payments.providers.base import PaymentProvider

_providers: dict[str, PaymentProvider] = {}


def configure(providers: dict[str, PaymentProvider]) -> None:
    _providers.clear()
    _providers.update(providers)


def get(name: str) -> PaymentProvider:
    try:
        return _providers[name]
    except KeyError:
        raise UnknownProvider(name=name) from None


def names() -> list[str]:
    return sorted(_providers)
