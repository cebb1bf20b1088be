"""After-sale JSON API: the buyer asks, ships back, cancels; the supplier or operator decides."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from quanzi.accounts.deps import CurrentUser, Supplier
from quanzi.aftersales import service
from quanzi.aftersales.schemas import AfterSaleIn, AfterSaleOut, RejectIn, ShipBackIn
from quanzi.catalog import service as catalog
from quanzi.kit.deps import DB, IdempotencyKeyHeader
from quanzi.kit.idempotency import run_once
from quanzi.kit.schemas import PathId

router = APIRouter(prefix="/api", tags=["aftersales"])


@router.post("/aftersales", status_code=201, response_model=AfterSaleOut)
async def request_aftersale(body: AfterSaleIn, db: DB, me: CurrentUser, key: IdempotencyKeyHeader) -> JSONResponse:
    async with db.write() as s:
        async def run() -> tuple[int, object]:
            a = await service.request(s, me.user_id, body.order_id, body.line_id, body.kind, body.quantity, body.reason,
                                      media_ids=body.media_ids)
            return 201, (await _out(s, [a]))[0].model_dump(mode="json")

        status, payload = await run_once(s, f"aftersales.request:{me.user_id}", key, body.model_dump(), run)
    return JSONResponse(payload, status_code=status)


async def _out(s, items: list) -> list[AfterSaleOut]:  # noqa: ANN001
    photos = await service.photos_of(s, [a.id for a in items])
    return [AfterSaleOut.model_validate(a).model_copy(update={"photos": [m.url("full") for m in photos[a.id]]})
            for a in items]


@router.get("/aftersales")
async def my_aftersales(db: DB, me: CurrentUser) -> list[AfterSaleOut]:
    async with db.read() as s:
        return await _out(s, await service.list_for_buyer(s, me.user_id))


@router.get("/aftersales/{aftersale_id}")
async def get_aftersale(aftersale_id: PathId, db: DB, me: CurrentUser) -> AfterSaleOut:
    async with db.read() as s:
        return (await _out(s, [await service.for_buyer(s, aftersale_id, me.user_id)]))[0]


@router.post("/aftersales/{aftersale_id}/cancel")
async def cancel(aftersale_id: PathId, db: DB, me: CurrentUser) -> AfterSaleOut:
    async with db.write() as s:
        a = await service.cancel(s, await service.for_buyer(s, aftersale_id, me.user_id), me.user_id)
        return AfterSaleOut.model_validate(a)


@router.post("/aftersales/{aftersale_id}/ship-back")
async def ship_back(aftersale_id: PathId, body: ShipBackIn, db: DB, me: CurrentUser) -> AfterSaleOut:
    async with db.write() as s:
        a = await service.for_buyer(s, aftersale_id, me.user_id)
        return AfterSaleOut.model_validate(await service.ship_back(s, a, me.user_id, body.carrier, body.tracking_no))


async def _scope(s, me) -> int | None:  # noqa: ANN001
    return None if me.has("operator") else (await catalog.require_supplier(s, me.user_id)).id


@router.get("/supplier/aftersales")
async def to_decide(db: DB, me: Supplier) -> list[AfterSaleOut]:
    async with db.read() as s:
        return await _out(s, await service.list_for_decider(s, await _scope(s, me)))


@router.post("/supplier/aftersales/{aftersale_id}/approve")
async def approve(aftersale_id: PathId, db: DB, me: Supplier) -> AfterSaleOut:
    async with db.write() as s:
        a = await service.for_decider(s, aftersale_id, await _scope(s, me))
        return AfterSaleOut.model_validate(await service.approve(s, a, me.user_id))


@router.post("/supplier/aftersales/{aftersale_id}/reject")
async def reject(aftersale_id: PathId, body: RejectIn, db: DB, me: Supplier) -> AfterSaleOut:
    async with db.write() as s:
        a = await service.for_decider(s, aftersale_id, await _scope(s, me))
        return AfterSaleOut.model_validate(await service.reject(s, a, me.user_id, body.reason))


@router.post("/supplier/aftersales/{aftersale_id}/receive-return")
async def receive_return(aftersale_id: PathId, db: DB, me: Supplier) -> AfterSaleOut:
    async with db.write() as s:
        a = await service.for_decider(s, aftersale_id, await _scope(s, me))
        return AfterSaleOut.model_validate(await service.receive_return(s, a, me.user_id))
