"""Withdrawal JSON API: request (idempotent), my withdrawals; the operator's audit queue, approve, reject.

Approved withdrawals are paid in the background (outbox → provider, retried); the status shows the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.kit.deps import DB, IdempotencyKeyHeader, Limiter
from quanzi.kit.idempotency import run_once
from quanzi.kit.schemas import In, Out, PathId
from quanzi.kit.web import ERROR_RESPONSES
from quanzi.withdrawals import payouts, service
from quanzi.withdrawals.models import Withdrawal

router = APIRouter(prefix="/api/withdrawals", tags=["withdrawals"], responses=ERROR_RESPONSES)

Method = Literal["wallet", "bank", "wechat", "alipay"]
WithdrawalStatus = Literal["requested", "approved", "paying", "paid", "rejected", "failed"]


class PayeeIn(In):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    account: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s]+$")]


class WithdrawIn(In):
    amount_fen: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
    method: Method
    payee: PayeeIn


class RejectIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class ConfirmPaidIn(In):
    bank_reference: Annotated[str, Field(min_length=4, max_length=64, pattern=r"^[^\s]+( [^\s]+)*$")]


class PayeeOut(Out):
    name: str
    account: str


class WithdrawalOut(Out):
    id: int
    amount_fen: int
    fee_fen: int
    net_fen: int
    method: str
    payee: PayeeOut
    status: str = Field(description="requested → approved → (paying →) paid; rejected; failed (money returned)")
    channel: str = Field(description="how it is paid: wechat (transfer to WeChat change), alipay, offline "
                                     "(bank card or wallet, paid by the operator), sandbox (development only)")
    reject_reason: str | None
    fail_reason: str | None
    transfer_state: str | None = Field(description="the provider's own state, e.g. WAIT_USER_CONFIRM")
    wechat_confirm: dict[str, str] | None = Field(
        None, description="while a WeChat transfer waits for the payee: the arguments of "
                          "wx.requestMerchantTransfer (mchId, appId, package) the payee's WeChat needs to accept it")
    created_at: datetime
    decided_at: datetime | None
    paid_at: datetime | None


class AuditWithdrawalOut(WithdrawalOut):
    user_id: int
    nickname: str
    phone: str
    attempts: int
    bank_reference: str | None


def mask_account(account: str) -> str:
    """The payee account as its owner sees it in lists: enough to recognise, not to copy."""
    if len(account) <= 4:
        return "*" * len(account)
    if len(account) < 8:
        return f"{account[:1]}***{account[-2:]}"
    return f"{account[:2]}****{account[-4:]}"


def _wechat_confirm(w: Withdrawal) -> dict[str, str] | None:
    channel = payouts.get(w.provider)
    config = getattr(channel, "config", None)
    if w.status != "paying" or not w.confirm_package or config is None or not hasattr(config, "mchid"):
        return None
    return {"mchId": config.mchid, "appId": config.appid, "package": w.confirm_package}


def out(w: Withdrawal, *, mask: bool = True) -> WithdrawalOut:
    payee = dict(w.payee or {})
    account = str(payee.get("account", ""))
    return WithdrawalOut(
        id=w.id, amount_fen=w.amount_fen, fee_fen=w.fee_fen, net_fen=w.net_fen, method=w.method,
        payee=PayeeOut(name=str(payee.get("name", "")), account=mask_account(account) if mask else account),
        status=w.status, channel=w.provider, reject_reason=w.reject_reason, fail_reason=w.fail_reason,
        transfer_state=w.transfer_state, wechat_confirm=_wechat_confirm(w), created_at=w.created_at, decided_at=w.decided_at, paid_at=w.paid_at)


async def audit_out(s: AsyncSession, rows: list[Withdrawal]) -> list[AuditWithdrawalOut]:
    from quanzi.distribution.api import people

    who = await people(s, {w.user_id for w in rows})
    return [AuditWithdrawalOut(**out(w, mask=False).model_dump(), user_id=w.user_id,
                               nickname=who.get(w.user_id, ("?", ""))[0], phone=who.get(w.user_id, ("?", ""))[1],
                               attempts=w.attempts, bank_reference=w.bank_reference) for w in rows]


@router.post("", status_code=201, response_model=WithdrawalOut)
async def request_withdrawal(body: WithdrawIn, db: DB, me: CurrentUser, key: IdempotencyKeyHeader) -> JSONResponse:
    """Withdraw available commission: at least the policy minimum, by an allowed method; the fee is taken
    from the amount. One guarded debit: two concurrent requests can never overdraw. Send an
    `Idempotency-Key` to make retries safe."""
    async with db.write() as s:
        async def run() -> tuple[int, object]:
            w = await service.request(s, me.user_id, body.amount_fen, body.method, body.payee.model_dump())
            return 201, out(w).model_dump(mode="json")

        status, payload = await run_once(s, f"withdrawals.request:{me.user_id}", key, body.model_dump(), run)
    return JSONResponse(payload, status_code=status)


@router.get("")
async def my_withdrawals(db: DB, me: CurrentUser) -> list[WithdrawalOut]:
    async with db.read() as s:
        return [out(w) for w in await service.mine(s, me.user_id)]


@router.get("/audit")
async def audit_queue(db: DB, me: Operator, status: WithdrawalStatus | None = "requested") -> list[AuditWithdrawalOut]:
    """Operator: withdrawals by status (default: waiting for a decision), newest first."""
    async with db.read() as s:
        return await audit_out(s, await service.for_audit(s, status))


@router.get("/{withdrawal_id}")
async def my_withdrawal(withdrawal_id: PathId, db: DB, me: CurrentUser) -> WithdrawalOut:
    """One of my withdrawals (404 for anyone else's)."""
    async with db.read() as s:
        return out(await service.get(s, withdrawal_id, me.user_id))


@router.post("/{withdrawal_id}/check")
async def check(withdrawal_id: PathId, db: DB, me: CurrentUser, limiter: Limiter) -> WithdrawalOut:
    """After confirming a WeChat transfer in WeChat: ask the provider now how it stands (one of my own
    withdrawals; nothing happens unless it is still being paid). At most a few times a minute: each call
    is a query at the provider."""
    await limiter.hit("6/minute;60/hour", "withdrawal-check", str(me.user_id))
    await service.check_now(db, withdrawal_id, me.user_id)
    async with db.read() as s:
        return out(await service.get(s, withdrawal_id, me.user_id))


@router.post("/{withdrawal_id}/approve")
async def approve(withdrawal_id: PathId, db: DB, me: Operator) -> AuditWithdrawalOut:
    """Operator: approve; the payout runs in the background and retries until the provider answers."""
    async with db.write() as s:
        w = await service.approve(s, await service.get(s, withdrawal_id), me.user_id)
        return (await audit_out(s, [w]))[0]


@router.post("/{withdrawal_id}/reject")
async def reject(withdrawal_id: PathId, body: RejectIn, db: DB, me: Operator) -> AuditWithdrawalOut:
    """Operator: reject with a reason the requester sees; the whole amount (fee included) returns to available."""
    async with db.write() as s:
        w = await service.reject(s, await service.get(s, withdrawal_id), me.user_id, body.reason)
        return (await audit_out(s, [w]))[0]


@router.post("/{withdrawal_id}/confirm-paid")
async def confirm_paid(withdrawal_id: PathId, body: ConfirmPaidIn, db: DB, me: Operator) -> AuditWithdrawalOut:
    """Operator: an approved bank-card (or wallet) withdrawal was paid outside the system; record the bank's
    reference (audited). The money moves from withdrawing to paid out."""
    async with db.write() as s:
        w = await service.confirm_offline(s, await service.get(s, withdrawal_id), me.user_id, body.bank_reference)
        return (await audit_out(s, [w]))[0]


@router.post("/{withdrawal_id}/offline-failed")
async def offline_failed(withdrawal_id: PathId, body: RejectIn, db: DB, me: Operator) -> AuditWithdrawalOut:
    """Operator: an approved bank-card withdrawal could not be paid (e.g. returned by the bank); the whole
    amount returns to the requester's available balance."""
    async with db.write() as s:
        w = await service.fail_offline(s, await service.get(s, withdrawal_id), me.user_id, body.reason)
        return (await audit_out(s, [w]))[0]
