"""Operator console page for the commerce policy. Validation and the audit trail are policy.service's."""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from quanzi.accounts.deps import Operator
from quanzi.kit.console import FieldError, page, parse_int, parse_yuan, redirect, yuan_input
from quanzi.kit.deps import DB
from quanzi.kit.errors import InvalidInput
from quanzi.kit.i18n import _
from quanzi.policy import service
from quanzi.policy.service import CommercePolicy

router = APIRouter(include_in_schema=False)

POLICY = "/console/policy"
MONEY = ("shipping_flat_fen", "free_shipping_threshold_fen")
WHOLE = ("unpaid_timeout_minutes", "auto_receive_days", "return_window_days")


def bounds(field: str) -> tuple[int, int]:
    """The allowed range of a policy field, read from the model so the page never disagrees with the rule."""
    low, high = 0, 10**9
    for m in CommercePolicy.model_fields[field].metadata:
        if isinstance(m, Ge):
            low = int(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, Le):
            high = int(m.le)  # type: ignore[arg-type]
    return low, high


CHOICES = {"shipping_mode": ("per_checkout", "per_package")}


def shipping_modes() -> list[tuple[str, str]]:
    return [("per_checkout", _("Per checkout: one shipping fee per payment; the free-shipping threshold counts "
                               "everything bought together")),
            ("per_package", _("Per package: each supplier's or shop's package pays its own fee and reaches the "
                              "threshold on its own"))]


def _range_text(field: str) -> str:
    if field in CHOICES:
        return _("Choose one of the options")
    low, high = bounds(field)
    if field in MONEY:
        return _("From %(low)s to %(high)s yuan") % {"low": yuan_input(low), "high": yuan_input(high)}
    return _("A whole number from %(low)s to %(high)s") % {"low": low, "high": high}


def _form_of(pol: CommercePolicy) -> dict[str, str]:
    form = {k: yuan_input(getattr(pol, k)) if k in MONEY else str(getattr(pol, k)) for k in MONEY + WHOLE}
    form["shipping_mode"] = pol.shipping_mode
    return form


def _render(request: Request, form: dict[str, str], errors: dict[str, str], status_code: int = 200,
            ) -> Response:
    ranges = {k: _range_text(k) for k in MONEY + WHOLE}
    ctx = {"active": "policy", "form": form, "errors": errors, "ranges": ranges, "shipping_modes": shipping_modes()}
    return page(request, "console/policy.html", ctx, status_code=status_code)


@router.get("/console/policy")
async def policy_page(request: Request, db: DB, me: Operator) -> Response:
    async with db.read() as s:
        pol = await service.get(s, CommercePolicy)
    return _render(request, _form_of(pol), {})


@router.post("/console/policy")
async def save_policy(
    request: Request, db: DB, me: Operator,
    shipping_flat_fen: Annotated[str, Form(max_length=40)] = "",
    free_shipping_threshold_fen: Annotated[str, Form(max_length=40)] = "",
    unpaid_timeout_minutes: Annotated[str, Form(max_length=20)] = "",
    auto_receive_days: Annotated[str, Form(max_length=20)] = "",
    return_window_days: Annotated[str, Form(max_length=20)] = "",
    shipping_mode: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = {"shipping_flat_fen": shipping_flat_fen,
            "free_shipping_threshold_fen": free_shipping_threshold_fen,
            "unpaid_timeout_minutes": unpaid_timeout_minutes, "auto_receive_days": auto_receive_days,
            "return_window_days": return_window_days}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if shipping_mode:  # absent: unchanged. Anything else is the service's to refuse (a choice of two).
        form["shipping_mode"] = values["shipping_mode"] = shipping_mode
    for key in MONEY:
        try:
            values[key] = parse_yuan(form[key])
        except FieldError as exc:
            errors[key] = str(exc)
    for key in WHOLE:
        try:
            values[key] = parse_int(form[key], low=-10**9, high=10**9)  # the range is the service's to judge
        except FieldError as exc:
            errors[key] = str(exc)
    if errors:
        # Some fields did not even parse: still say which of the others are out of range, all at once.
        try:
            CommercePolicy.model_validate({**CommercePolicy().model_dump(), **values})
        except ValidationError as exc:
            for e in exc.errors():
                key = str(e["loc"][0]) if e["loc"] else ""
                if key in form:
                    errors.setdefault(key, _range_text(key))
    else:
        try:
            async with db.write() as s:
                await service.put(s, CommercePolicy, values, me.user_id)
        except InvalidInput as exc:  # the service is the judge of the rule
            for f in exc.detail.get("fields", []):
                key = str((f.get("loc") or ["?"])[0])
                errors[key] = _range_text(key) if key in form else str(f.get("msg", ""))
    if errors:
        if "return_window_days" in errors:
            law = _("(never fewer than 7 days: Consumer Rights Protection Law, Art. 25)")
            errors["return_window_days"] += " " + law
        return _render(request, form, errors, 422)
    return redirect(request, POLICY, _("Policy saved. The change is in the audit log."))
