"""Order JSON API: checkout (idempotent), my orders, receipt; supplier fulfilment; shop's orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from quanzi.accounts.deps import CurrentUser, Shopkeeper, Supplier
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.kit.deps import DB, IdempotencyKeyHeader
from quanzi.kit.errors import DomainError
from quanzi.kit.idempotency import run_once
from quanzi.kit.schemas import PathId
from quanzi.orders import service
from quanzi.orders.errors import NoItems
from quanzi.orders.models import Checkout, Order, OrderLine
from quanzi.orders.schemas import (
    BulkShipIn,
    BulkShipOut,
    CheckoutOut,
    EventOut,
    LineOut,
    OrderList,
    OrderOut,
    PlaceOrderIn,
    ShipIn,
)
from quanzi.shops import service as shops

router = APIRouter(prefix="/api", tags=["orders"])


async def order_out(s, order: Order, *, with_events: bool = False) -> OrderOut:  # noqa: ANN001
    lines = (await service.lines_of(s, [order.id]))[order.id]
    out = OrderOut.model_validate(order)
    out.lines = [LineOut.model_validate(x) for x in lines]
    if with_events:
        out.events = [EventOut.model_validate(e) for e in await service.events_of(s, order.id)]
    return out


async def orders_out(s, orders: list[Order]) -> list[OrderOut]:  # noqa: ANN001
    return shape_orders(orders, await service.lines_of(s, [o.id for o in orders]))


def shape_orders(orders: list[Order], lines: dict[int, list[OrderLine]]) -> list[OrderOut]:
    result = []
    for o in orders:
        out = OrderOut.model_validate(o)
        out.lines = [LineOut.model_validate(x) for x in lines[o.id]]
        result.append(out)
    return result


async def checkout(s, buyer_id: int, body: PlaceOrderIn) -> CheckoutOut:  # noqa: ANN001
    """Buy-now items and/or cart items → orders (shared by the API and the checkout page)."""
    address = await cart.owned_address(s, buyer_id, body.address_id)
    wanted = [service.Wanted(i.sku_id, i.quantity, i.shop_id) for i in body.items]
    if body.cart_item_ids:
        for line in await cart.lines(s, buyer_id, list(body.cart_item_ids)):
            wanted.append(service.Wanted(line.item.sku_id, line.item.quantity, line.item.shop_id))
    if not wanted:
        raise NoItems()
    placed = await service.place(s, buyer_id, wanted, address, note=body.note,
                                 expected_total_fen=body.expected_total_fen, cart_item_ids=body.cart_item_ids)
    # Answered from what placement wrote: no read-back of the checkout or the lines.
    return checkout_shape(placed.checkout, placed.orders, placed.lines)


def checkout_shape(checkout: Checkout, orders: list[Order], lines: dict[int, list[OrderLine]]) -> CheckoutOut:
    return CheckoutOut(checkout_id=checkout.id, status=checkout.status, shipping_mode=checkout.shipping_mode,
                       goods_fen=checkout.goods_fen, shipping_fen=checkout.shipping_fen,
                       total_fen=checkout.total_fen, orders=shape_orders(orders, lines))


async def checkout_out(s, checkout: Checkout, orders: list[Order]) -> CheckoutOut:  # noqa: ANN001
    return checkout_shape(checkout, orders, await service.lines_of(s, [o.id for o in orders]))


@router.post("/orders", status_code=201, response_model=CheckoutOut)
async def place_order(body: PlaceOrderIn, db: DB, me: CurrentUser, key: IdempotencyKeyHeader) -> JSONResponse:
    """Place orders. Prices come from the server; send an `Idempotency-Key` to make retries safe."""
    async with db.write() as s:
        async def run() -> tuple[int, object]:
            return 201, (await checkout(s, me.user_id, body)).model_dump(mode="json")

        status, payload = await run_once(s, f"orders.place:{me.user_id}", key, body.model_dump(mode="json"), run)
    return JSONResponse(payload, status_code=status)


@router.get("/checkouts/{checkout_id}")
async def get_checkout(checkout_id: PathId, db: DB, me: CurrentUser) -> CheckoutOut:
    """A placement with all its orders; pay it once with `POST /api/checkouts/{checkout_id}/pay`."""
    async with db.read() as s:
        checkout = await service.checkout_for_buyer(s, checkout_id, me.user_id)
        return await checkout_out(s, checkout, await service.orders_of_checkout(s, checkout.id))


@router.get("/orders")
async def my_orders(db: DB, me: CurrentUser, status: Annotated[str | None, Query(max_length=20)] = None) -> OrderList:
    async with db.read() as s:
        stmt = select(Order).where(Order.buyer_id == me.user_id).order_by(Order.id.desc()).limit(100)
        if status:
            stmt = stmt.where(Order.status == status)
        return OrderList(items=await orders_out(s, list((await s.execute(stmt)).scalars())))


@router.get("/orders/{order_id}")
async def get_order(order_id: PathId, db: DB, me: CurrentUser) -> OrderOut:
    async with db.read() as s:
        return await order_out(s, await service.order_for_buyer(s, order_id, me.user_id), with_events=True)


@router.post("/orders/{order_id}/cancel")
async def cancel_order(order_id: PathId, db: DB, me: CurrentUser) -> OrderOut:
    async with db.write() as s:
        order = await service.order_for_buyer(s, order_id, me.user_id)
        if not await service.cancel(s, order.id, reason="buyer", actor_id=me.user_id):
            from quanzi.kit.errors import IllegalTransition

            raise IllegalTransition(current=order.status, target="cancelled")
        await s.refresh(order)
        return await order_out(s, order, with_events=True)


@router.post("/orders/{order_id}/receive")
async def confirm_receipt(order_id: PathId, db: DB, me: CurrentUser) -> OrderOut:
    async with db.write() as s:
        order = await service.order_for_buyer(s, order_id, me.user_id)
        await service.confirm_receipt(s, order, actor_id=me.user_id)
        await s.refresh(order)
        return await order_out(s, order, with_events=True)


# --- supplier / operator fulfilment -------------------------------------------------------------

async def _supplier_scope(s, me) -> int | None:  # noqa: ANN001
    if me.has("operator"):
        return None
    return (await catalog.require_supplier(s, me.user_id)).id


@router.get("/supplier/orders")
async def supplier_orders(db: DB, me: Supplier, status: Annotated[str | None, Query(max_length=20)] = "paid",
                          ) -> OrderList:
    async with db.read() as s:
        sid = await _supplier_scope(s, me)
        stmt = select(Order).order_by(Order.id.desc()).limit(200)
        if sid is not None:
            stmt = stmt.where(Order.supplier_id == sid)
        if status:
            stmt = stmt.where(Order.status == status)
        return OrderList(items=await orders_out(s, list((await s.execute(stmt)).scalars())))


@router.post("/supplier/orders/{order_id}/ship")
async def ship(order_id: PathId, body: ShipIn, db: DB, me: Supplier) -> OrderOut:
    async with db.write() as s:
        order = await service.order_for_supplier(s, order_id, await _supplier_scope(s, me))
        await service.ship(s, order, carrier=body.carrier, tracking_no=body.tracking_no, actor_id=me.user_id)
        await s.refresh(order)
        return await order_out(s, order)


@router.post("/supplier/orders/ship")
async def ship_bulk(body: BulkShipIn, db: DB, me: Supplier) -> BulkShipOut:
    """Ship many orders; each succeeds or fails on its own (a failure never undoes the others)."""
    shipped, failed = [], []
    for item in body.items:
        try:
            async with db.write() as s:
                order = await service.order_for_supplier(s, item.order_id, await _supplier_scope(s, me))
                await service.ship(s, order, carrier=item.carrier, tracking_no=item.tracking_no, actor_id=me.user_id)
            shipped.append(item.order_id)
        except DomainError as exc:
            failed.append({"order_id": item.order_id, "code": str(exc.code)})
    return BulkShipOut(shipped=shipped, failed=failed)


@router.get("/shops/mine/orders")
async def my_shop_orders(db: DB, me: Shopkeeper) -> OrderList:
    async with db.read() as s:
        shop = await shops.my_shop(s, me.user_id)
        stmt = select(Order).where(Order.shop_id == shop.id).order_by(Order.id.desc()).limit(200)
        return OrderList(items=await orders_out(s, list((await s.execute(stmt)).scalars())))
