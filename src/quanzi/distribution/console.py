"""Distribution console pages. Distributors: the poster gallery (their earnings page, with the withdrawal
form, is withdrawals/pages.py); everyone else: what the program is and a free "join" button. Operators: the
distributors (pending first) with their decisions, the program's policy and the distributor levels.

Rules live in distribution/, referrals/, withdrawals/ services; this module parses forms and shows
refusals next to the field they concern.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.accounts.service import Principal
from quanzi.config import Settings
from quanzi.distribution import service
from quanzi.distribution.api import (
    distributors_for_audit,
    people,
)
from quanzi.distribution.errors import FreezeTooShort, RateCapExceeded, TooManyLevels
from quanzi.distribution.policy import DistributionPolicy
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.console import (
    FieldError,
    describe,
    page,
    parse_int,
    parse_percent,
    parse_yuan,
    percent_input,
    redirect,
    refused,
    yuan_input,
)
from quanzi.kit.deps import DB, AppSettings
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import PathId
from quanzi.kit import sharetokens as tokens

router = APIRouter(include_in_schema=False)

EARNINGS = "/console/earnings"
POSTERS = "/console/posters"
OPERATOR = "/console/distribution"
CHART_DAYS = 30
EARNING_STATES = ("active", "frozen", "revoked")  # states that have (or had) money to show
# What an operator may do from each state: (target status, button testid prefix).
ACTIONS: dict[str, list[tuple[str, str]]] = {
    "pending": [("active", "approve"), ("rejected", "reject")],
    "active": [("frozen", "freeze"), ("revoked", "revoke")],
    "frozen": [("active", "reactivate"), ("revoked", "revoke")],
    "rejected": [("active", "approve")],
    "revoked": [("active", "reactivate")],
}
CRITERIA = ("attributed_sales_fen", "commission_fen")


def method_names() -> dict[str, str]:
    return {"wallet": _("Platform wallet"), "bank": _("Bank card"), "wechat": _("WeChat Pay"), "alipay": _("Alipay")}


def share_url(settings: Settings, me: Principal, kind: str, target_id: int) -> str:
    token = tokens.issue(settings.secret_key, me.user_id, kind, target_id, clock.now())
    return f"{settings.public_url.rstrip('/')}/r/{token}"


def earnings_chart(days: list[str], amounts_fen: list[int]) -> dict[str, Any]:
    return {
        "grid": {"left": 8, "right": 12, "top": 24, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [d[5:] for d in days], "boundaryGap": False,
                  "axisLabel": {"color": "#777"}},
        "yAxis": {"type": "value", "name": "¥", "minInterval": 1, "axisLabel": {"color": "#777"},
                  "splitLine": {"lineStyle": {"color": "#eee"}}},
        "series": [{"type": "line", "name": _("Commission (yuan)"), "smooth": 0.3, "symbolSize": 5,
                    "data": [round(a / 100, 2) for a in amounts_fen],
                    "lineStyle": {"color": "#e4393c", "width": 2}, "itemStyle": {"color": "#e4393c"},
                    "areaStyle": {"color": "rgba(228,57,60,0.08)"}}],
    }


# --- the program page for people who are not (yet) distributors ----------------------------------------

async def program_page(request: Request, db: Any, me: Principal, active: str) -> Response:
    async with db.read() as s:
        d = await service.get_distributor(s, me.user_id)
        pol = await service.get_policy(s)
    return page(request, "distribution/join.html", {
        "active": active, "dist": d, "pol": pol, "l1": percent_input(pol.level1_bp),
        "l2": percent_input(pol.level2_bp), "methods": method_names(),
    })


@router.post("/console/earnings/join")
async def join(request: Request, db: DB, me: CurrentUser) -> Response:
    """Free of charge and without any purchase (禁止传销条例 Art. 7)."""
    try:
        async with db.write() as s:
            d = await service.join(s, me.user_id)
            status = d.status
    except DomainError as exc:
        return refused(request, EARNINGS, exc)
    if status == "active":
        return redirect(request, POSTERS, _("Welcome aboard! Share a poster: you earn commission on every order "
                                            "your fans pay for."))
    return redirect(request, EARNINGS, _("Application sent. An operator will review it soon."), "info")


# --- posters ----------------------------------------------------------------------------------------------

@router.get("/console/posters")
async def poster_gallery(request: Request, db: DB, me: CurrentUser, settings: AppSettings) -> Response:
    from quanzi.shops import service as shops

    async with db.read() as s:
        if not await service.is_active_distributor(s, me.user_id):
            return await program_page(request, db, me, "posters")
        token_days = (await service.get_policy(s)).share_token_days
        shop = await shops.find_my_shop(s, me.user_id)
        entries = await shops.shelf(s, shop.id) if shop is not None and shop.status == "open" else []
        skus = {}
        if entries:
            from quanzi.catalog import service as catalog

            skus = await catalog.skus_of(s, [e.product.id for e in entries])
    varies = {pid: len({k.price_fen for k in ks if k.is_active}) > 1 for pid, ks in skus.items()}
    return page(request, "distribution/posters.html", {
        "active": "posters", "shop": shop, "entries": entries, "varies": varies, "token_days": token_days,
        "shop_url": share_url(settings, me, "s", shop.id) if shop is not None and shop.status == "open" else None,
        "urls": {e.product.id: share_url(settings, me, "p", e.product.id) for e in entries},
    })


# --- operator: distributors, policy, levels ----------------------------------------------------------------

POLICY_CHOICES = ("who_may", "binding_mode", "binding_scope")
POLICY_DAYS = ("validity_days", "protection_days", "freeze_days", "share_token_days")
POLICY_RATES = ("level1_bp", "level2_bp", "platform_cap_bp", "withdraw_fee_bp")
POLICY_FLAGS = ("enabled", "self_purchase_rebate", "include_shipping_in_base")


def _policy_form(pol: DistributionPolicy) -> dict[str, Any]:
    form: dict[str, Any] = {k: getattr(pol, k) for k in POLICY_CHOICES + POLICY_FLAGS}
    form.update({k: str(getattr(pol, k)) for k in POLICY_DAYS})
    form.update({k: percent_input(getattr(pol, k)) for k in POLICY_RATES})
    form["levels"] = str(pol.levels)
    form["withdraw_min_fen"] = yuan_input(pol.withdraw_min_fen)
    form["withdraw_methods"] = list(pol.withdraw_methods)
    return form


def _level_blank() -> dict[str, Any]:
    return {"rank": "", "name": "", "l1": "", "l2": "", "types": ["", ""], "thresholds": ["", ""]}


async def _operator_page(request: Request, db: Any, *, status: str | None = None,
                         form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                         level_form: dict[str, Any] | None = None, level_errors: dict[str, str] | None = None,
                         status_code: int = 200) -> Response:
    from sqlalchemy import func, select

    from quanzi.distribution.models import Distributor

    async with db.read() as s:
        pol = await service.get_policy(s)
        rows = await distributors_for_audit(s, status)
        who = await people(s, {d.user_id for d in rows})
        counts = dict((await s.execute(select(Distributor.status, func.count()).group_by(Distributor.status))).all())
        levels = await service.levels(s)
    level_forms = {lv.rank: {"rank": str(lv.rank), "name": lv.name, "l1": percent_input(lv.l1_bp),
                             "l2": percent_input(lv.l2_bp),
                             "types": [t for t, v in (("attributed_sales_fen", lv.min_sales_fen),
                                                      ("commission_fen", lv.min_commission_fen)) if v] + ["", ""],
                             "thresholds": [yuan_input(v) for v in (lv.min_sales_fen, lv.min_commission_fen) if v]
                             + ["", ""]} for lv in levels}
    editing: int | str | None = None  # the level form to open: a rank, "new", or none
    new_level = _level_blank()
    if level_form is not None:
        rank = str(level_form.get("rank", ""))
        if rank.isdigit() and int(rank) in level_forms:
            editing = int(rank)
            level_forms[editing] = level_form
        else:
            editing, new_level = "new", level_form
    return page(request, "distribution/operator.html", {
        "active": "distribution", "pol": pol, "rows": rows, "who": who, "status": status or "",
        "counts": counts, "total": sum(counts.values()), "actions": ACTIONS,
        "form": form or _policy_form(pol), "errors": errors or {}, "levels": levels, "level_forms": level_forms,
        "new_level": new_level, "editing": editing,
        "level_errors": level_errors or {}, "methods": method_names(),
        "next_rank": (max((lv.rank for lv in levels), default=0) + 1),
    }, status_code=status_code)


@router.get("/console/distribution")
async def operator_page(request: Request, db: DB, me: Operator,
                        status: Annotated[str, Query(pattern=r"^(|pending|active|frozen|revoked|rejected)$")] = "",
                        ) -> Response:
    return await _operator_page(request, db, status=status or None)


@router.post("/console/distribution/distributors/{user_id}/decision")
async def decide(request: Request, user_id: PathId, db: DB, me: Operator,
                 status: Annotated[str, Form(pattern=r"^(active|rejected|frozen|revoked)$")],
                 note: Annotated[str, Form(max_length=200)] = "",
                 back: Annotated[str, Form(max_length=100)] = "") -> Response:
    url = back if back.startswith(OPERATOR) else OPERATOR
    async with db.write() as s:
        d = await service.decide(s, user_id, status, me.user_id, note.strip())  # 404 for an unknown id
        nickname = (await people(s, {d.user_id})).get(d.user_id, ("?", ""))[0]
    done = {"active": _("%(name)s is now an active distributor."), "rejected": _("%(name)s's application was rejected."),
            "frozen": _("%(name)s is frozen: no new commission until reactivated."),
            "revoked": _("%(name)s's distributor status was revoked.")}[status]
    return redirect(request, f"{url}#distributor-{user_id}", done % {"name": nickname})


@router.post("/console/distribution/policy")
async def save_policy(request: Request, db: DB, me: Operator) -> Response:
    raw = await request.form()
    text = {k: str(raw.get(k, ""))[:40] for k in (*POLICY_CHOICES, *POLICY_DAYS, *POLICY_RATES, "levels",
                                                    "withdraw_min_fen")}
    form: dict[str, Any] = dict(text)
    form.update({k: raw.get(k) == "on" for k in POLICY_FLAGS})
    form["withdraw_methods"] = [str(m) for m in raw.getlist("withdraw_methods")][:4]
    values: dict[str, Any] = {k: form[k] for k in POLICY_CHOICES + POLICY_FLAGS}
    errors: dict[str, str] = {}
    for key in (*POLICY_DAYS, "levels"):
        try:
            values[key] = parse_int(text[key], low=-10**6, high=10**6)  # the range is the policy's to judge
        except FieldError as exc:
            errors[key] = str(exc)
    for key in POLICY_RATES:
        try:
            values[key] = parse_percent(text[key])
        except FieldError as exc:
            errors[key] = str(exc)
    try:
        values["withdraw_min_fen"] = parse_yuan(text["withdraw_min_fen"], positive=True, max_fen=10**9)
    except FieldError as exc:
        errors["withdraw_min_fen"] = str(exc)
    values["withdraw_methods"] = form["withdraw_methods"]
    if not errors:
        async with db.read() as s:
            errors = policy_refusals(await service.get_policy(s), values)
    if not errors:
        try:
            async with db.write() as s:
                await service.put_policy(s, values, me.user_id)
        except DomainError as exc:  # e.g. the commerce policy's return window changed meanwhile
            errors["form"] = exc.text(i18n.short())
    if errors:
        return await _operator_page(request, db, form=form, errors=errors, status_code=422)
    return redirect(request, f"{OPERATOR}#policy", _("Distribution policy saved. The change is in the audit log."))


# The fields each of the policy's own refusals is about. Putting those back to the saved values and asking
# the policy again finds the next refusal, so every problem is shown at once, each next to its field,
# while the rules themselves stay in DistributionPolicy.
REFUSAL_FIELDS: dict[type[DomainError], tuple[str, ...]] = {
    TooManyLevels: ("levels",),
    RateCapExceeded: ("level1_bp", "level2_bp", "platform_cap_bp"),
    FreezeTooShort: ("freeze_days",),
}


def _refusal_text(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, RateCapExceeded):  # the rule's text speaks basis points; this form speaks percent
        text = _("Level 1 + level 2 is %(total)s %%, above the platform cap of %(cap)s %%") % {
            "total": percent_input(int(exc.detail.get("total", 0))), "cap": percent_input(int(exc.detail.get("cap", 0)))}
        return {"level1_bp": text, "platform_cap_bp": text}
    return {REFUSAL_FIELDS[type(exc)][0]: exc.text(i18n.short())}


def policy_refusals(current: DistributionPolicy, values: dict[str, Any]) -> dict[str, str]:
    """Every reason the policy would refuse `values`, keyed by form field (empty: it would accept them)."""
    probe = {**current.model_dump(), **values}
    errors: dict[str, str] = {}
    for _round in range(len(DistributionPolicy.model_fields)):
        try:
            DistributionPolicy.model_validate(probe)
            return errors
        except ValidationError as exc:
            for e in exc.errors():
                key = str(e["loc"][0]) if e["loc"] else "form"
                errors.setdefault(key, _policy_range(key) or describe(e))  # type: ignore[arg-type]
                if key in probe:
                    probe[key] = getattr(current, key)
        except (TooManyLevels, RateCapExceeded, FreezeTooShort) as exc:
            for key, text in _refusal_text(exc).items():
                errors.setdefault(key, text)
            for key in REFUSAL_FIELDS[type(exc)]:
                probe[key] = getattr(current, key)
    return errors


def _policy_range(key: str) -> str:
    from annotated_types import Ge, Le

    field = DistributionPolicy.model_fields.get(key)
    if field is None:
        return ""
    low = high = None
    for m in field.metadata:
        if isinstance(m, Ge):
            low = m.ge
        elif isinstance(m, Le):
            high = m.le
    if low is None or high is None:
        return ""
    if key.endswith("_bp"):
        return _("From %(low)s %% to %(high)s %%") % {"low": percent_input(int(low)), "high": percent_input(int(high))}  # type: ignore[arg-type]
    if key.endswith("_fen"):
        return _("From %(low)s to %(high)s yuan") % {"low": yuan_input(int(low)), "high": yuan_input(int(high))}  # type: ignore[arg-type]
    return _("A whole number from %(low)s to %(high)s") % {"low": low, "high": high}


@router.post("/console/distribution/levels")
async def save_level(request: Request, db: DB, me: Operator) -> Response:
    raw = await request.form()
    form: dict[str, Any] = {k: str(raw.get(k, "")).strip()[:40] for k in ("rank", "name", "l1", "l2")}
    form["types"] = ([str(x)[:40] for x in raw.getlist("crit_type")] + ["", ""])[:2]
    form["thresholds"] = ([str(x)[:40] for x in raw.getlist("crit_threshold")] + ["", ""])[:2]
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    try:
        parsed["rank"] = parse_int(form["rank"], low=1, high=99)
    except FieldError as exc:
        errors["rank"] = str(exc)
    if not 1 <= len(form["name"]) <= 30:
        errors["name"] = _("Between 1 and 30 characters")
    for key in ("l1", "l2"):
        try:
            parsed[key] = parse_percent(form[key])
        except FieldError as exc:
            errors[key] = str(exc)
    criteria = []
    for i, (kind, threshold) in enumerate(zip(form["types"], form["thresholds"], strict=True)):
        if not kind and not threshold.strip():
            continue
        try:
            fen = parse_yuan(threshold, max_fen=10**11)
        except FieldError as exc:
            errors[f"threshold{i}"] = str(exc)
            continue
        criteria.append({"type": kind, "threshold": fen})  # the service refuses unknown and unlawful types
    if not errors:
        try:
            async with db.write() as s:
                await service.put_level(s, rank=parsed["rank"], name=form["name"], l1_bp=parsed["l1"],
                                        l2_bp=parsed["l2"], criteria=criteria, actor_id=me.user_id)
        except RateCapExceeded as exc:
            errors["l1"] = exc.text(i18n.short())
        except DomainError as exc:
            errors["criteria"] = exc.text(i18n.short())
    if errors:
        return await _operator_page(request, db, level_form=form, level_errors=errors, status_code=422)
    return redirect(request, f"{OPERATOR}#levels", _("Level %(rank)s saved.") % {"rank": parsed["rank"]})
