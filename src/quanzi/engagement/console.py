"""The shopkeeper's engagement console of one community: the 30-day health chart, the engagement settings,
lucky draws (draft → publish → end), polls with their result charts, the activity calendar; and the operator's
engagement policy (switches, limits, each category's repurchase cycle). Only staff whose role allows the action
see a community's console (404 for anyone else); the rules are engagement.service's."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.catalog import service as catalog
from quanzi.community import service as community
from quanzi.community.pages import console_tabs
from quanzi.engagement import charts, service
from quanzi.engagement.pages import kind_names
from quanzi.engagement.policy import EngagementPolicy
from quanzi.kit.clock import clock
from quanzi.kit.console import (
    FieldError,
    Flag,
    Short,
    page,
    parse_int,
    parse_local_datetime,
    parse_percent,
    parse_yuan,
    redirect,
    refused,
)
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError, InvalidInput
from quanzi.kit.i18n import _
from quanzi.kit.schemas import PathId
from quanzi.policy import service as policy

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=4000)]
Rows = Annotated[list[str] | None, Form(max_length=12)]


def _url(cid: int) -> str:
    return f"/console/circles/{cid}/engagement"


@router.get("/console/circles/{community_id}/engagement")
async def console(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        c, m = await community.manageable(s, community_id, me.user_id, service.SETTINGS)
        tabs = await console_tabs(s, c, m)
        health = await service.health(s, community_id, me.user_id)
        st = await service.settings_of(s, community_id)
        pol = await service.operator_policy(s)
        draws = await service.draws_of(s, community_id, include_drafts=True)
        polls = []
        for p in await service.polls_of(s, community_id, limit=10):
            polls.append({"p": p, "chart": charts.poll(await service.options_of(s, p.id))})
        acts = await service.calendar(s, community_id)
        cadence = await service.cadence_days(s, community_id)
    now = clock.now()
    totals = {"active": max((d.active_members for d in health), default=0),
              "posts": sum(d.posts for d in health), "checkins": sum(d.checkins for d in health),
              "visitors": sum(d.visitors for d in health), "buyers": sum(d.buyers for d in health)}
    return page(request, "engagement/console.html", {
        "active": "circles", "tabs": tabs, "sub": "eg-console-tab", "c": c, "health": health, "health_chart": charts.health(health), "totals": totals,
        "st": st, "pol": pol, "draws": [(d, service.draw_state(d, now)) for d in draws], "polls": polls,
        "acts": acts, "cadence": cadence, "kinds": kind_names(), "now": now,
        "default_end": now + timedelta(days=7), "default_start": now + timedelta(days=1)})


async def _run(request: Request, db: DB, cid: int, fn: Any, ok: str) -> Response:
    try:
        async with db.write() as s:
            await fn(s)
    except DomainError as exc:
        return refused(request, _url(cid), exc)
    return redirect(request, _url(cid), ok)


@router.post("/console/circles/{community_id}/engagement/settings")
async def save_settings(request: Request, community_id: PathId, db: DB, me: CurrentUser,
                        checkin_enabled: Flag = "", checkin_cycle: Short = "week", checkin_rewards: Short = "",
                        draws_enabled: Flag = "", red_packets_enabled: Flag = "", polls_enabled: Flag = "",
                        poll_results_for_members: Flag = "", invite_enabled: Flag = "",
                        invite_reward_points: Short = "0", invite_daily_cap: Short = "0") -> Response:
    try:
        table = [parse_int(x, low=0, high=10_000) for x in checkin_rewards.replace("，", ",").split(",") if x.strip()]
        values = {"checkin_enabled": bool(checkin_enabled), "checkin_cycle": checkin_cycle, "checkin_rewards": table,
                  "draws_enabled": bool(draws_enabled), "red_packets_enabled": bool(red_packets_enabled),
                  "polls_enabled": bool(polls_enabled), "poll_results_for_members": bool(poll_results_for_members),
                  "invite_enabled": bool(invite_enabled),
                  "invite_reward_points": parse_int(invite_reward_points, low=0, high=100_000),
                  "invite_daily_cap": parse_int(invite_daily_cap, low=0, high=100)}
    except FieldError as exc:
        return refused(request, _url(community_id), str(exc))

    async def go(s: Any) -> None:
        await community.manageable(s, community_id, me.user_id, service.SETTINGS)
        await service.save_settings(s, community_id, me.user_id, values)

    return await _run(request, db, community_id, go, _("Settings saved"))


@router.post("/console/circles/{community_id}/draws")
async def new_draw(request: Request, community_id: PathId, db: DB, me: CurrentUser, title: Short, rules: Text,
                   cost_points: Short, per_person_limit: Short, ends_at: Short, prize_name: Rows = None,
                   prize_kind: Rows = None, prize_chance: Rows = None, prize_stock: Rows = None,
                   prize_value: Rows = None, prize_points: Rows = None, publish: Flag = "") -> Response:
    names, kinds = prize_name or [], prize_kind or []
    try:
        prizes = []
        for i, name in enumerate(names):
            if not name.strip():
                continue

            def col(rows: list[str] | None, default: str = "0", i: int = i) -> str:
                return (rows or [])[i] if i < len(rows or []) and (rows or [])[i].strip() else default

            kind = kinds[i] if i < len(kinds) else "goods"
            prizes.append(service.PrizeIn(
                name=name.strip(), kind=kind, chance_bp=parse_percent(col(prize_chance)),
                stock=parse_int(col(prize_stock), low=0, high=1_000_000),
                points=parse_int(col(prize_points), low=0, high=1_000_000) if kind == "points" else 0,
                value_fen=parse_yuan(col(prize_value), max_fen=10**9)))
        cost = parse_int(cost_points, low=0, high=1_000_000)
        limit = parse_int(per_person_limit, low=1, high=100)
        ends = parse_local_datetime(ends_at)
    except FieldError as exc:
        return refused(request, _url(community_id), str(exc))

    async def go(s: Any) -> None:
        await community.manageable(s, community_id, me.user_id, service.RUN_DRAW)
        d = await service.create_draw(s, community_id, me.user_id, title=title, rules_text=rules, cost_points=cost,
                                      per_person_limit=limit, ends_at=ends, prizes=prizes)
        if publish:
            await service.open_draw(s, d.id, me.user_id)

    return await _run(request, db, community_id, go, _("Draw published") if publish else _("Draw saved as a draft"))


@router.post("/console/draws/{draw_id}/{action}")
async def draw_action(request: Request, draw_id: PathId, action: str, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        d = await service.get_draw(s, draw_id)
        await community.manageable(s, d.community_id, me.user_id, service.RUN_DRAW)
    if action not in ("open", "close"):
        raise InvalidInput(action=action)
    fn = service.open_draw if action == "open" else service.close_draw
    return await _run(request, db, d.community_id, lambda s: fn(s, draw_id, me.user_id),
                      _("Draw published") if action == "open" else _("Draw ended"))


@router.post("/console/circles/{community_id}/polls")
async def new_poll(request: Request, community_id: PathId, db: DB, me: CurrentUser, question: Short, options: Text,
                   closes_at: Short, multiple: Flag = "", anonymous: Flag = "") -> Response:
    try:
        closes = parse_local_datetime(closes_at)
    except FieldError as exc:
        return refused(request, _url(community_id), str(exc))
    labels = [x.strip() for x in options.splitlines() if x.strip()]

    async def go(s: Any) -> None:
        await community.manageable(s, community_id, me.user_id, service.RUN_POLL)
        await service.create_poll(s, community_id, me.user_id, question=question, options=labels,
                                  multiple=bool(multiple), anonymous=bool(anonymous), closes_at=closes)

    return await _run(request, db, community_id, go, _("Poll published"))


@router.post("/console/circles/{community_id}/calendar")
async def new_activity(request: Request, community_id: PathId, db: DB, me: CurrentUser, kind: Short, title: Short,
                       starts_at: Short, repeat: Short = "1", remind_minutes: Short = "60",
                       every_days: Short = "") -> Response:
    try:
        start = parse_local_datetime(starts_at)
        times = parse_int(repeat, low=1, high=12)
        remind = parse_int(remind_minutes, low=0, high=10_080)
        every = parse_int(every_days, low=1, high=365, required=False) or None
    except FieldError as exc:
        return refused(request, _url(community_id), str(exc))

    async def go(s: Any) -> None:
        await community.manageable(s, community_id, me.user_id, service.SCHEDULE)
        await service.schedule(s, community_id, me.user_id, kind=kind, title=title, starts_at=start,
                               remind_minutes=remind, repeat=times, every_days=every)

    return await _run(request, db, community_id, go, _("Added to the calendar"))


@router.post("/console/calendar/{event_id}/delete")
async def delete_activity(request: Request, event_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        a = await service.get_activity(s, event_id)
        await community.manageable(s, a.community_id, me.user_id, service.SCHEDULE)
    return await _run(request, db, a.community_id, lambda s: service.cancel_activity(s, event_id, me.user_id),
                      _("Removed from the calendar"))


# --- the operator's engagement policy -------------------------------------------------------------------

POLICY = "/console/engagement-policy"
SWITCHES = ("checkin_enabled", "draws_enabled", "red_packets_enabled", "invite_rewards_enabled", "polls_enabled",
            "calendar_enabled")
NUMBERS = {"max_checkin_points": 10_000, "max_draw_cost_points": 1_000_000, "max_packet_points": 10_000_000,
           "max_packet_parts": 500, "packet_hours": 72, "max_invite_points": 100_000, "max_invite_daily_cap": 100,
           "default_cadence_days": 365}


@router.get("/console/engagement-policy")
async def policy_page(request: Request, db: DB, me: Operator) -> Response:
    async with db.read() as s:
        pol = await service.operator_policy(s)
        cats = await catalog.categories(s)
    labels = {"max_checkin_points": _("Most points for one day of check-in"),
              "max_draw_cost_points": _("Most points a draw entry may cost"),
              "max_packet_points": _("Most points in one red packet"), "max_packet_parts": _("Most parts of a red packet"),
              "packet_hours": _("Hours before a red packet expires"),
              "max_invite_points": _("Most points for one invite reward"),
              "max_invite_daily_cap": _("Most invite rewards per inviter per day"),
              "default_cadence_days": _("Default cadence of a circle without a category (days)")}
    return page(request, "engagement/policy.html", {"active": "policy", "pol": pol, "cats": cats,
                                                    "switches": SWITCHES, "numbers": NUMBERS, "labels": labels})


@router.post("/console/engagement-policy")
async def save_policy(request: Request, db: DB, me: Operator) -> Response:
    form = await request.form()
    try:
        values: dict[str, Any] = {k: bool(form.get(k)) for k in SWITCHES}
        for k, high in NUMBERS.items():
            values[k] = parse_int(str(form.get(k, "")), low=0, high=high)
        values["max_prize_value_fen"] = parse_yuan(str(form.get("max_prize_value", "")), max_fen=5_000_000)
        values["repurchase_days"] = {
            str(k).removeprefix("cat_"): parse_int(str(v), low=1, high=365)
            for k, v in form.items() if str(k).startswith("cat_") and str(v).strip()}
    except FieldError as exc:
        return refused(request, POLICY, str(exc))
    try:
        async with db.write() as s:
            await policy.put(s, EngagementPolicy, values, me.user_id)
    except DomainError as exc:
        return refused(request, POLICY, exc)
    return redirect(request, POLICY, _("Policy saved. The change is in the audit log."))
