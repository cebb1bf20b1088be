"""The distributor's earnings page (money, chart, commissions, fans, rankings) with the withdrawal form.

It lives here, above distribution, because it composes distribution's numbers with withdrawals' own
requests; the rules stay in distribution.service and withdrawals.service.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from quanzi.accounts.deps import CurrentUser
from quanzi.accounts.service import Principal
from quanzi.distribution import service
from quanzi.distribution.api import china_day_start, commission_page, commissions_out, fans_out, me_out, ranking_out
from quanzi.distribution.console import (
    CHART_DAYS,
    EARNING_STATES,
    EARNINGS,
    earnings_chart,
    method_names,
    program_page,
)
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.console import FieldError, describe, page, parse_yuan, percent_input, redirect, yuan_input
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.idempotency import run_once
from quanzi.withdrawals import service as withdrawals
from quanzi.withdrawals.api import PayeeIn
from quanzi.withdrawals.api import out as withdrawal_out
from quanzi.withdrawals.errors import BelowMinimum, MethodNotAllowed, NotEnoughAvailable

router = APIRouter(include_in_schema=False)


# --- earnings ---------------------------------------------------------------------------------------------

async def _earnings_page(request: Request, db: Any, me: Principal, form: dict[str, str] | None = None,
                         errors: dict[str, str] | None = None, status_code: int = 200) -> Response | None:
    """The earnings page, or None when the person has never been a distributor (or is still applying)."""
    now = clock.now()
    async with db.read() as s:
        d = await service.get_distributor(s, me.user_id)
        if d is None or d.status not in EARNING_STATES:
            return None
        pol = await service.get_policy(s)
        summary = await me_out(s, me.user_id)
        first = china_day_start(now, CHART_DAYS - 1)
        daily = await service.daily_earnings(s, me.user_id, first)
        rows, total = await commission_page(s, me.user_id, 0, 10)
        commissions = await commissions_out(s, rows)
        fans1 = await fans_out(s, me.user_id, 1, limit=50)
        fans2 = await fans_out(s, me.user_id, 2, limit=50) if pol.levels == 2 else None
        by_sales = await ranking_out(s, me.user_id, "sales", 10)
        by_earnings = await ranking_out(s, me.user_id, "earnings", 10)
        mine = [withdrawal_out(w) for w in await withdrawals.mine(s, me.user_id)]
    days = [(first + timedelta(days=i)).date().isoformat() for i in range(CHART_DAYS)]
    default_method = pol.withdraw_methods[0] if pol.withdraw_methods else ""
    return page(request, "distribution/earnings.html", {
        "active": "earnings", "dist": d, "pol": pol, "sum": summary, "b": summary.balances, "e": summary.earnings,
        "chart": earnings_chart(days, [daily.get(x, 0) for x in days]), "chart_total": sum(daily.values()),
        "commissions": commissions, "commission_total": total, "fans1": fans1, "fans2": fans2,
        "by_sales": by_sales, "by_earnings": by_earnings, "withdrawals": mine, "methods": method_names(),
        "rates": (percent_input(summary.rates.l1_bp), percent_input(summary.rates.l2_bp)),
        "fee": percent_input(pol.withdraw_fee_bp), "min": yuan_input(pol.withdraw_min_fen),
        "form": form or {"amount": "", "method": default_method, "payee_name": "", "payee_account": "",
                         "form_key": secrets.token_urlsafe(12)},
        "errors": errors or {},
    }, status_code=status_code)


@router.get("/console/earnings")
async def earnings(request: Request, db: DB, me: CurrentUser) -> Response:
    resp = await _earnings_page(request, db, me)
    return resp if resp is not None else await program_page(request, db, me, "earnings")


@router.post("/console/earnings/withdraw")
async def withdraw(request: Request, db: DB, me: CurrentUser,
                   amount: Annotated[str, Form(max_length=40)] = "",
                   method: Annotated[str, Form(max_length=20)] = "",
                   payee_name: Annotated[str, Form(max_length=200)] = "",
                   payee_account: Annotated[str, Form(max_length=200)] = "",
                   form_key: Annotated[str, Form(max_length=60)] = "") -> Response:
    """The amount is typed in yuan and parsed exactly to fen (Decimal, never float). A hidden per-render key
    makes a double-tapped submit one withdrawal, not two."""
    form = {"amount": amount, "method": method, "payee_name": payee_name.strip(),
            "payee_account": payee_account.strip(), "form_key": form_key or secrets.token_urlsafe(12)}
    errors: dict[str, str] = {}
    fen = 0
    try:
        fen = parse_yuan(amount, positive=True, max_fen=10**10)
    except FieldError as exc:
        errors["amount"] = str(exc)
    async with db.read() as s:
        pol = await service.get_policy(s)
    if method not in pol.withdraw_methods:
        errors["method"] = _("Choose a withdrawal method")
    try:
        payee = PayeeIn.model_validate({"name": form["payee_name"], "account": form["payee_account"]})
    except ValidationError as exc:
        for e in exc.errors():
            key = {"name": "payee_name", "account": "payee_account"}.get(str(e["loc"][0]), "payee_name")
            errors.setdefault(key, describe(e))  # type: ignore[arg-type]
    if errors:
        return await _earnings_page(request, db, me, form, errors, 422) or redirect(request, EARNINGS)
    try:
        async with db.write() as s:
            async def run() -> tuple[int, object]:
                w = await withdrawals.request(s, me.user_id, fen, method, payee.model_dump())
                return 201, {"id": w.id, "amount_fen": w.amount_fen, "net_fen": w.net_fen}

            _status, done = await run_once(s, f"withdrawals.form:{me.user_id}", form["form_key"][:60],
                                           {"amount_fen": fen, "method": method, "payee": payee.model_dump()}, run)
    except (BelowMinimum, NotEnoughAvailable) as exc:
        errors["amount"] = exc.text(i18n.short())
    except MethodNotAllowed as exc:
        errors["method"] = exc.text(i18n.short())
    except DomainError as exc:
        errors["form"] = exc.text(i18n.short())
    if errors:
        return await _earnings_page(request, db, me, form, errors, 422) or redirect(request, EARNINGS)
    assert isinstance(done, dict)
    if method in ("bank", "wallet"):
        return redirect(request, f"{EARNINGS}#withdrawals", _(
            "Withdrawal of %(amount)s requested (you receive %(net)s after the fee). An operator reviews it and "
            "then pays it out to you directly (bank transfer).") % {
            "amount": yuan_input(int(done["amount_fen"])) + " " + _("yuan"),
            "net": yuan_input(int(done["net_fen"])) + " " + _("yuan")})
    return redirect(request, f"{EARNINGS}#withdrawals", _(
        "Withdrawal of %(amount)s requested (you receive %(net)s after the fee). An operator reviews it; "
        "the money is then paid automatically.") % {
        "amount": yuan_input(int(done["amount_fen"])) + " " + _("yuan"),
        "net": yuan_input(int(done["net_fen"])) + " " + _("yuan")})
