"""Storefront pages of the message centre (/messages) and the notification settings (/me/notifications)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from quanzi.accounts.deps import CurrentUser, OptionalUser
from quanzi.accounts.service import Principal
from quanzi.kit import i18n
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.kit.web import render, templates
from quanzi.notifications import catalog, service
from quanzi.notifications.catalog import CHANNELS
from quanzi.notifications.schemas import hhmm, minutes

router = APIRouter(include_in_schema=False)

TIMES = [hhmm(m) for m in range(0, 24 * 60, 30)]


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _safe_link(link: str | None) -> str | None:
    """Only our own paths: a message never sends anyone off-site by redirect."""
    return link if link and link.startswith("/") and not link.startswith("//") else None


@router.get("/messages")
async def messages(request: Request, me: CurrentUser, db: DB,
                   before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    async with db.read() as s:
        items, next_before = await service.page(s, me.user_id, before=before, limit=20)
        unread = await service.unread_count(s, me.user_id)
    return render(request, "notifications/list.html", {
        "items": items, "next_before": next_before, "unread": unread, "before": before, "tab": "messages",
    })


@router.get("/messages/badge")
async def badge(request: Request, me: OptionalUser, db: DB) -> Response:
    """The unread badge of the top bar, loaded by htmx after the page (no cost to the page's own render)."""
    unread = 0
    if me is not None:
        async with db.read() as s:
            unread = await service.unread_count(s, me.user_id)
    return templates.TemplateResponse(request, "notifications/_badge.html", {"unread": unread},
                                      headers={"cache-control": "private, no-store"})


@router.post("/messages/read-all")
async def read_all(request: Request, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        await service.mark_all_read(s, me.user_id)
    if _htmx(request):
        return HTMLResponse("", headers={"HX-Redirect": "/messages"})
    return RedirectResponse("/messages", status_code=303)


@router.post("/messages/{notification_id}/read")
async def read_one(request: Request, notification_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        n = await service.mark_read(s, me.user_id, notification_id)
    if _htmx(request):
        return render(request, "notifications/_item.html", {"n": n})
    return RedirectResponse("/messages", status_code=303)


@router.post("/messages/{notification_id}/open")
async def open_one(notification_id: PathId, me: CurrentUser, db: DB) -> Response:
    """Tapping a message: it is read, and the page it is about opens."""
    async with db.write() as s:
        n = await service.mark_read(s, me.user_id, notification_id)
    return RedirectResponse(_safe_link(n.link) or "/messages", status_code=303)


async def _settings_page(request: Request, db: Database, me: Principal, *, saved: bool = False,
                         error: str | None = None, status: int = 200) -> Response:
    async with db.read() as s:
        prefs = await service.preferences(s, me.user_id)
    lang = i18n.short()
    quiet = prefs.quiet or catalog.DEFAULT_QUIET
    return render(request, "notifications/settings.html", {
        "prefs": prefs, "kinds": [(k.name, k.label[lang]) for k in catalog.SETTABLE], "channels": CHANNELS,
        "quiet_on": prefs.quiet is not None, "quiet_start": hhmm(quiet[0]), "quiet_end": hhmm(quiet[1]),
        "times": TIMES, "flash": i18n.gettext("Saved.") if saved else error,
        "flash_kind": "error" if error else "ok", "tab": "me",
    }, status_code=status)


@router.get("/me/notifications")
async def settings_page(request: Request, me: CurrentUser, db: DB) -> Response:
    return await _settings_page(request, db, me)


@router.post("/me/notifications")
async def save_settings(request: Request, me: CurrentUser, db: DB) -> Response:
    form = await request.form()
    start, end = str(form.get("quiet_start", "")), str(form.get("quiet_end", ""))
    quiet = None
    if form.get("quiet_on"):
        if start not in TIMES or end not in TIMES:
            return await _settings_page(request, db, me, status=422, error=i18n.gettext(
                "Choose the start and end of the quiet hours."))
        quiet = (minutes(start), minutes(end))
    choices = {k.name: {ch: form.get(f"{k.name}.{ch}") == "on" for ch in CHANNELS} for k in catalog.SETTABLE}
    locale = "en" if form.get("locale") == "en" else "zh_CN"
    try:
        async with db.write() as s:
            await service.save_preferences(s, me.user_id, locale=locale, quiet=quiet, choices=choices)
    except DomainError as exc:
        return await _settings_page(request, db, me, status=exc.status, error=exc.text(i18n.short()))
    return await _settings_page(request, db, me, saved=True)
