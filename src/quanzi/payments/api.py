"""Payment endpoints: provider notifications (the inbox) and the sandbox's "pay" button."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from quanzi.accounts.deps import CurrentUser
from quanzi.kit import i18n
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError, NotFound
from quanzi.kit.schemas import PathId
from quanzi.orders.schemas import IntentOut, PayIn
from quanzi.orders import service as orders
from quanzi.payments import registry, service
from quanzi.payments.models import Payment
from quanzi.payments.providers.sandbox import SandboxProvider

# One flat router (the app's route index looks routes up by path section; nested routers cost a level).
router = APIRouter(prefix="/api", tags=["payments"])




@router.post("/orders/{order_id}/pay", tags=["orders"])
async def pay_order(order_id: PathId, body: PayIn, db: DB, me: CurrentUser) -> IntentOut:
    """Start paying one order with a provider (sandbox by default). Safe to repeat: the open attempt is reused.
    An order of a checkout with several unpaid orders is paid with the checkout (`/api/checkouts/{id}/pay`)."""
    intent = await service.start_payment(db, order_id, me.user_id, body.provider, "圈子订单")
    return IntentOut(provider=intent.provider, out_trade_no=intent.out_trade_no, amount_fen=intent.amount_fen,
                     client_params=intent.client_params)


@router.post("/checkouts/{checkout_id}/pay")
async def pay_checkout(checkout_id: PathId, body: PayIn, db: DB, me: CurrentUser) -> IntentOut:
    """Pay every unpaid order of a checkout at once: one provider transaction for the checkout total (WeChat
    Pay combined payment 合单支付, one Alipay trade, one sandbox payment). Safe to repeat: the open attempt
    is reused while the same orders are due."""
    intent = await service.start_checkout_payment(db, checkout_id, me.user_id, body.provider, "圈子订单")
    return IntentOut(provider=intent.provider, out_trade_no=intent.out_trade_no, amount_fen=intent.amount_fen,
                     client_params=intent.client_params)


@router.post("/payments/notify/{provider}", include_in_schema=False)
async def notify(provider: str, request: Request, db: DB) -> JSONResponse:
    """Provider → us. Verified, then applied once per transaction id; replays answer SUCCESS, change nothing."""
    body = await request.body()
    try:
        outcome = await service.handle_notification(db, provider, dict(request.headers), body)
    except DomainError as exc:
        return JSONResponse({"code": "FAIL", "message": exc.text(i18n.short()), "error": str(exc.code)},
                            status_code=exc.status)
    return JSONResponse({"code": "SUCCESS", "message": outcome})


async def sandbox_pay(db, buyer_id: int, out_trade_no: str) -> str:  # noqa: ANN001
    """The fan confirms payment on the sandbox page: the sandbox takes the money and sends the signed
    notification, which goes through exactly the same verification as a real provider's. A combined
    payment (a whole checkout) is paid with one press, as with WeChat's 合单支付."""
    from sqlalchemy import select

    async with db.read() as s:
        payment = (await s.execute(select(Payment).where(Payment.out_trade_no == out_trade_no))).scalar_one_or_none()
        combined = None if payment is not None else await service.checkout_payment(s, out_trade_no)
        if combined is not None and combined.provider == "sandbox":
            await orders.checkout_for_buyer(s, combined.checkout_id, buyer_id)  # 404 for someone else's
            amount = combined.amount_fen
        elif payment is None or payment.provider != "sandbox" or payment.checkout_payment_id is not None:
            raise NotFound()
        else:
            await orders.order_for_buyer(s, payment.order_id, buyer_id)  # 404 for someone else's payment
            amount = payment.amount_fen
    sandbox = registry.get("sandbox")
    assert isinstance(sandbox, SandboxProvider)
    if combined is not None:
        headers, body = sandbox.notification_of(sandbox.mark_combined_paid(out_trade_no, amount))
        return await service.handle_notification(db, "sandbox", headers, body)
    paid = sandbox.mark_paid(out_trade_no, amount)
    headers, body = sandbox.build_notification(paid.out_trade_no, paid.transaction_id, paid.amount_fen,
                                               paid.paid_at or paid.raw.get("success_time"))
    return await service.handle_notification(db, "sandbox", headers, body)


@router.post("/payments/sandbox/{out_trade_no}/pay")
async def sandbox_pay_api(out_trade_no: str, db: DB, me: CurrentUser) -> dict[str, str]:
    return {"outcome": await sandbox_pay(db, me.user_id, out_trade_no)}


