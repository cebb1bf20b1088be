"""Where a share link lands, per kind. Campaign domains register their own kinds here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.kit.sharetokens import ShareToken

Resolver = Callable[[AsyncSession, ShareToken], Awaitable[str]]
_resolvers: dict[str, Resolver] = {}


def lands(kind: str) -> Callable[[Resolver], Resolver]:
    def decorate(fn: Resolver) -> Resolver:
        _resolvers[kind] = fn
        return fn

    return decorate


async def landing_url(s: AsyncSession, token: ShareToken) -> str:
    resolver = _resolvers.get(token.kind)
    return await resolver(s, token) if resolver else "/"


@lands("s")
async def _shop(s: AsyncSession, token: ShareToken) -> str:
    return f"/s/{token.target_id}"


@lands("p")
async def _product(s: AsyncSession, token: ShareToken) -> str:
    """A product shared by a shopkeeper opens inside the sharer's own shop."""
    from quanzi.shops import service as shops

    shop = await shops.find_my_shop(s, token.sharer_id)
    return f"/s/{shop.id}/p/{token.target_id}" if shop else f"/p/{token.target_id}"
