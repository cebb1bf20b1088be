"""Operator console page for withdrawals: the audit queue (approve, or reject with a reason the requester
sees), and every other status. Approved withdrawals are paid by the outbox worker; the page shows how far
each one got."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from quanzi.accounts.deps import Operator
from quanzi.kit.console import page, redirect, refused
from quanzi.kit.deps import DB
from quanzi.kit import i18n
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.money import yuan
from quanzi.kit.schemas import PathId
from quanzi.withdrawals import payouts, service
from quanzi.withdrawals.api import audit_out
from quanzi.withdrawals.models import Withdrawal

router = APIRouter(include_in_schema=False)

AUDIT = "/console/withdrawals"
STATUSES = ("requested", "approved", "paying", "paid", "rejected", "failed")


@router.get("/console/withdrawals")
async def audit(request: Request, db: DB, me: Operator,
                status: Annotated[str, Query(pattern=r"^(requested|approved|paying|paid|rejected|failed|all)$")] = "requested",
                ) -> Response:
    from quanzi.distribution.console import method_names

    async with db.read() as s:
        found = await service.for_audit(s, None if status == "all" else status)
        if status == "requested":
            found.reverse()  # the queue: first come, first decided
        rows = await audit_out(s, found)
        counts = dict((await s.execute(select(Withdrawal.status, func.count()).group_by(Withdrawal.status))).all())
        waiting = (await s.execute(select(func.coalesce(func.sum(Withdrawal.amount_fen), 0))
                                   .where(Withdrawal.status == "requested"))).scalar_one()
    return page(request, "withdrawals/audit.html", {
        "active": "withdrawals", "rows": rows, "status": status, "counts": counts, "statuses": STATUSES,
        "total": sum(counts.values()), "waiting_fen": int(waiting), "methods": method_names(),
    })


def _back(status: str) -> str:
    return f"{AUDIT}?status={status}" if status in (*STATUSES, "all") else AUDIT


@router.post("/console/withdrawals/{withdrawal_id}/approve")
async def approve(request: Request, withdrawal_id: PathId, db: DB, me: Operator,
                  back: Annotated[str, Form(max_length=20)] = "requested") -> Response:
    try:
        async with db.write() as s:
            w = await service.approve(s, await service.get(s, withdrawal_id), me.user_id)
            amount, offline = w.net_fen, w.provider == payouts.OFFLINE
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, _back(back), exc)
    if offline:
        return redirect(request, f"{AUDIT}?status=approved#w-{withdrawal_id}", _(
            "Withdrawal #%(id)s approved: pay %(amount)s to the bank card, then confirm it here with the bank "
            "reference.") % {"id": withdrawal_id, "amount": yuan(amount, "en" if i18n.get_locale() == "en" else "zh_CN")})
    return redirect(request, _back(back), _("Withdrawal #%(id)s approved: %(amount)s is being paid out.") % {
        "id": withdrawal_id, "amount": yuan(amount, "en" if i18n.get_locale() == "en" else "zh_CN")})


@router.post("/console/withdrawals/{withdrawal_id}/reject")
async def reject(request: Request, withdrawal_id: PathId, db: DB, me: Operator,
                 reason: Annotated[str, Form(max_length=400)] = "",
                 back: Annotated[str, Form(max_length=20)] = "requested") -> Response:
    reason = reason.strip()
    if not reason:
        return refused(request, f"{_back(back)}#w-{withdrawal_id}",
                       _("Give a reason for rejecting withdrawal #%(id)s: the requester sees it.") % {"id": withdrawal_id})
    if len(reason) > 200:
        return refused(request, f"{_back(back)}#w-{withdrawal_id}", _("The reason is at most 200 characters."))
    try:
        async with db.write() as s:
            await service.reject(s, await service.get(s, withdrawal_id), me.user_id, reason)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, _back(back), exc)
    return redirect(request, _back(back), _("Withdrawal #%(id)s rejected; the money is back in the requester's "
                                            "available balance.") % {"id": withdrawal_id})


@router.post("/console/withdrawals/{withdrawal_id}/confirm-paid")
async def confirm_paid(request: Request, withdrawal_id: PathId, db: DB, me: Operator,
                       reference: Annotated[str, Form(max_length=200)] = "",
                       back: Annotated[str, Form(max_length=20)] = "approved") -> Response:
    reference = " ".join(reference.split())
    if not 4 <= len(reference) <= 64:
        return refused(request, f"{_back(back)}#w-{withdrawal_id}", _(
            "Enter the bank's reference for withdrawal #%(id)s (4 to 64 characters): it is kept in the audit log.")
            % {"id": withdrawal_id})
    try:
        async with db.write() as s:
            await service.confirm_offline(s, await service.get(s, withdrawal_id), me.user_id, reference)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, _back(back), exc)
    return redirect(request, _back(back), _("Withdrawal #%(id)s recorded as paid (bank reference %(ref)s).")
                    % {"id": withdrawal_id, "ref": reference})


@router.post("/console/withdrawals/{withdrawal_id}/offline-failed")
async def offline_failed(request: Request, withdrawal_id: PathId, db: DB, me: Operator,
                         reason: Annotated[str, Form(max_length=400)] = "",
                         back: Annotated[str, Form(max_length=20)] = "approved") -> Response:
    reason = reason.strip()
    if not reason or len(reason) > 200:
        return refused(request, f"{_back(back)}#w-{withdrawal_id}",
                       _("Say why withdrawal #%(id)s could not be paid (at most 200 characters): the requester sees it.")
                       % {"id": withdrawal_id})
    try:
        async with db.write() as s:
            await service.fail_offline(s, await service.get(s, withdrawal_id), me.user_id, reason)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, _back(back), exc)
    return redirect(request, _back(back), _("Withdrawal #%(id)s marked as not paid; the money is back in the "
                                            "requester's available balance.") % {"id": withdrawal_id})
