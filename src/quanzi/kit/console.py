"""The page kit every console page shares: flash messages that survive the POST → 303 redirect, the
page renderer that shows them, and exact parsing of what people type into forms (yuan, whole numbers,
percentages, China-time dates and times) with the text shown next to a field that cannot be used.

Infrastructure only, no business rules: the services judge the values once they are parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ValidationError

from quanzi.kit.clock import CHINA
from quanzi.kit import i18n
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import MAX_ID
from quanzi.kit.web import render

FLASH_COOKIE = "quanzi_flash"
FLASH_MAX_AGE = 120  # seconds: a flash is read by the page the redirect lands on, or dropped
# Console form fields arrive as text; generous caps here, the domain schemas judge the real limits.
Short = Annotated[str, Form(max_length=200)]
Flag = Annotated[str, Form(max_length=5)]
Column = Annotated[list[str] | None, Form(max_length=60)]

MAX_PRICE_FEN = 10**9  # the largest price the schemas accept (10 million yuan; fits a 32-bit column)


def _flash_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="quanzi.console.flash")


def redirect(request: Request, url: str, message: str | None = None, kind: str = "ok") -> RedirectResponse:
    """303 to `url`; `message` (already in the request's language) is shown once on the next page."""
    resp = RedirectResponse(url, status_code=303)
    if message:
        resp.set_cookie(FLASH_COOKIE, _flash_signer(request).dumps([kind, message]), max_age=FLASH_MAX_AGE,
                        httponly=True, samesite="lax", path="/",
                        secure=bool(getattr(request.app.state.settings, "cookie_secure", False)))
    return resp


def refused(request: Request, url: str, error: DomainError | str) -> RedirectResponse:
    text = error.text(i18n.short()) if isinstance(error, DomainError) else error
    return redirect(request, url, text, "error")


def local_time(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(CHINA).strftime(fmt) if dt else "—"


def phone_text(phone: str | None) -> str:
    """A Chinese mobile number as people write it: +8613800000267 -> 138 0000 0267."""
    if phone and phone.startswith("+86") and len(phone) == 14:
        n = phone[3:]
        return f"{n[:3]} {n[3:7]} {n[7:]}"
    return phone or ""


def yuan_input(fen: int | None) -> str:
    """Fen as the plain yuan text a form field shows: 2990 -> '29.90'."""
    return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"


def page(request: Request, name: str, context: dict[str, Any] | None = None,
         status_code: int = 200) -> Response:
    """Render a console page, showing (once) the flash message a previous redirect left."""
    ctx: dict[str, Any] = {"local_time": local_time, "yuan_input": yuan_input, "phone_text": phone_text,
                           "percent_input": percent_input, "datetime_input": datetime_input,
                           "zh": i18n.short() == "zh"}
    raw = request.cookies.get(FLASH_COOKIE)
    if raw:
        try:
            kind, message = _flash_signer(request).loads(raw, max_age=FLASH_MAX_AGE)
            ctx.update(flash=message, flash_kind=kind)
        except (BadSignature, ValueError):
            pass
    ctx.update(context or {})
    resp = render(request, name, ctx, status_code=status_code)
    if raw:
        resp.delete_cookie(FLASH_COOKIE, path="/")
    return resp


class FieldError(ValueError):
    """A form value that cannot be used; `str(exc)` is the text shown next to the field."""


_AMOUNT = re.compile(r"(\d+)(?:\.(\d*))?|\.(\d+)")


def parse_yuan(raw: str | None, *, positive: bool = False, max_fen: int = MAX_PRICE_FEN) -> int:
    """'29.90' -> 2990 fen, exactly (Decimal, never float). More than two decimals is refused, not rounded."""
    text = (raw or "").strip().lstrip("¥￥").strip().replace(",", "")
    if not text:
        raise FieldError(_("Required"))
    m = _AMOUNT.fullmatch(text)
    if m is None:
        raise FieldError(_("Enter an amount in yuan, like 29.90"))
    decimals = m.group(2) if m.group(1) is not None else m.group(3)
    if decimals and len(decimals) > 2:
        raise FieldError(_("At most two decimal places: 1 fen is the smallest unit"))
    try:
        fen = int(Decimal(text) * 100)
    except InvalidOperation as exc:
        raise FieldError(_("Enter an amount in yuan, like 29.90")) from exc
    if positive and fen <= 0:
        raise FieldError(_("Must be more than 0"))
    if fen > max_fen:
        raise FieldError(_("At most %(amount)s") % {"amount": yuan_input(max_fen)})
    return fen


def parse_int(raw: str | None, *, low: int, high: int, required: bool = True, default: int = 0) -> int:
    text = (raw or "").strip().lstrip("+")
    if not text:
        if required:
            raise FieldError(_("Required"))
        return default
    sign = -1 if text.startswith("-") else 1
    digits = text[1:] if sign < 0 else text
    if not digits.isdigit() or len(digits) > 12:
        raise FieldError(_("Enter a whole number"))
    value = sign * int(digits)
    if value < low or value > high:
        raise FieldError(_("Enter a whole number from %(low)s to %(high)s") % {"low": low, "high": high})
    return value


def collect(errors: dict[str, str], key: str, parse: Callable[[], Any]) -> Any:
    """Run one field's parser: its value, or None with the reason under `key` in `errors` (a form shows
    every wrong field at once, not the first)."""
    try:
        return parse()
    except FieldError as exc:
        errors[key] = str(exc)
        return None


def sku_rows(ids: list[str] | None, **columns: list[str] | None) -> dict[int, dict[str, str]]:
    """A per-SKU table posted as parallel columns (hidden `sku` ids plus e.g. `price`, `quota`):
    SKU id → {column: text}. A tampered id is dropped; the service judges what is left."""
    rows: dict[int, dict[str, str]] = {}
    for i, raw in enumerate((ids or [])[:20]):
        try:
            sku_id = parse_int(raw, low=1, high=MAX_ID)
        except FieldError:
            continue
        rows[sku_id] = {name: col[i] if col is not None and i < len(col) else ""
                        for name, col in columns.items()}
    return rows


def schema_backstop(errors: dict[str, str], schema: type[BaseModel], data: dict[str, Any],
                    rename: Callable[[str], str] = str) -> None:
    """Validate what a console form built with the JSON API's schema, so a page never accepts what the API
    refuses; each complaint goes under its form field (`rename` maps schema names to form names)."""
    try:
        schema.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            errors.setdefault(rename(str(e["loc"][0])), describe(e))  # type: ignore[arg-type]


def describe(error: dict[str, Any]) -> str:
    """A pydantic error as text a person can act on, in the request's language."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "string_too_short":
        return _("Required") if ctx.get("min_length", 1) <= 1 else \
            _("At least %(n)s characters") % {"n": ctx["min_length"]}
    if kind == "string_too_long":
        return _("At most %(n)s characters") % {"n": ctx.get("max_length")}
    if kind == "string_pattern_mismatch":
        return _("Contains characters that are not allowed")
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        return _("Out of the allowed range")
    if kind == "missing":
        return _("Required")
    return _("Not valid")


_PERCENT = re.compile(r"(\d{1,3})(?:\.(\d{1,2}))?")


def parse_percent(raw: str | None) -> int:
    """'10' or '2.5' (%) -> basis points, exactly; at most two decimals, 0–100 %."""
    text = (raw or "").strip().rstrip("%").strip()
    if not text:
        raise FieldError(_("Required"))
    if _PERCENT.fullmatch(text) is None:
        raise FieldError(_("Enter a percentage like 10 or 2.5 (at most two decimals)"))
    bp = int(Decimal(text) * 100)
    if bp > 10_000:
        raise FieldError(_("At most 100 %"))
    return bp


def percent_input(bp: int) -> str:
    """Basis points as the percentage a form shows: 1000 -> '10', 250 -> '2.5', 1234 -> '12.34'."""
    whole, rest = divmod(bp, 100)
    return str(whole) if rest == 0 else f"{whole}.{rest:02d}".rstrip("0")


# Dates and times are typed in China time (what <input type=date|time|datetime-local> sends) and stored in UTC.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{1,2}:\d{2}")


def parse_date(raw: str | None) -> date:
    """'2025-06-18' -> a calendar date (years 2000–2100)."""
    text = (raw or "").strip()
    if not text:
        raise FieldError(_("Required"))
    try:
        if _DATE.fullmatch(text) is None:
            raise ValueError(text)
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise FieldError(_("Enter a date like 2025-06-18")) from exc
    if not 2000 <= value.year <= 2100:
        raise FieldError(_("Enter a date between the years 2000 and 2100"))
    return value


def parse_time(raw: str | None) -> time:
    """'10:00' -> a time of day (China time, no offset: daily slots repeat in local time)."""
    text = (raw or "").strip()
    if not text:
        raise FieldError(_("Required"))
    try:
        if _TIME.fullmatch(text) is None:
            raise ValueError(text)
        hours, minutes = (int(x) for x in text.split(":"))
        return time(hours, minutes)
    except ValueError as exc:
        raise FieldError(_("Enter a time like 10:00")) from exc


def parse_local_datetime(raw: str | None) -> datetime:
    """'2025-06-18T10:00' (or with a space) in China time -> an aware datetime."""
    text = (raw or "").strip().replace(" ", "T")
    day, sep, clock_time = text.partition("T")
    if not text:
        raise FieldError(_("Required"))
    if not sep:
        raise FieldError(_("Enter a date and time like 2025-06-18 10:00"))
    try:
        d, t = parse_date(day), parse_time(clock_time[:5] if len(clock_time) == 8 else clock_time)
    except FieldError as exc:
        raise FieldError(_("Enter a date and time like 2025-06-18 10:00")) from exc
    return datetime.combine(d, t, tzinfo=CHINA)


def datetime_input(dt: datetime | None) -> str:
    """An aware datetime as the China-time value a datetime-local field shows: '2025-06-18T10:00'."""
    return dt.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M") if dt else ""
