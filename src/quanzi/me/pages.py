"""The "我的" (me) page: the fan's orders by state, after-sales, group buys, bargains, flash-sale grabs and
waitlists, wallet (distributors), addresses, privacy, and links to notification settings and messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from quanzi.accounts import service as accounts
from quanzi.accounts.deps import CurrentUser
from quanzi.bargain.pages import status_text as bargain_status
from quanzi.groupbuy.pages import status_text as group_status
from quanzi.kit import i18n
from quanzi.kit.deps import DB
from quanzi.kit.web import render
from quanzi.me import service

router = APIRouter(include_in_schema=False)


def grab_status(status: str) -> str:
    _ = i18n.gettext
    return {"reserved": _("Grabbed: pay to keep it"), "paid": _("Paid"),
            "released": _("Not paid in time: released")}.get(status, status)


def member_status(status: str) -> str:
    _ = i18n.gettext
    return {"pending_payment": _("Waiting for payment"), "joined": _("In the group"),
            "succeeded": _("Group complete"), "refunding": _("Refunding"), "refunded": _("Refunded"),
            "cancelled": _("Cancelled"), "left": _("Left")}.get(status, status)


@router.get("/me")
async def me_page(request: Request, me: CurrentUser, db: DB,
                  notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    async with db.read() as s:
        data = await service.summary(s, me.user_id)
    _ = i18n.gettext
    tabs = [(key, {"unpaid": _("To pay"), "to_ship": _("To ship"), "shipped": _("To receive"),
                   "to_review": _("To review")}[key], url, data.order_counts.get(key, 0))
            for key, _statuses, url in service.ORDER_TABS]
    return render(request, "me/me.html", {
        "d": data, "tabs": tabs, "tab": "me", "group_status": group_status, "member_status": member_status,
        "bargain_status": bargain_status, "grab_status": grab_status,
        "notice": _("Privacy setting saved.") if notice == "privacy" else None,
    })


@router.post("/me/privacy")
async def save_privacy(me: CurrentUser, db: DB,
                       show_phone_to_shops: Annotated[str, Form(max_length=5)] = "") -> Response:
    async with db.write() as s:
        await accounts.set_show_phone_to_shops(s, me.user_id, bool(show_phone_to_shops))
    return RedirectResponse("/me?notice=privacy#privacy", status_code=303)
