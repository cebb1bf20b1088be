"""The back office in the operator's language: Chinese by default, English on request (the site's `lang`
cookie or ?lang=en), with column labels, model names, China time and money in yuan.

sqladmin 0.32 translates its own pages through a catalog registry (`sqladmin.i18n.translations`) that has no
Chinese; we register our catalog (locale/, built from terms/*.json) under our locale codes, so sqladmin's
buttons, our labels and model names all come from one place. Its UI msgids are listed in SQLADMIN_UI so the
extraction (tools/i18n.py) keeps them in our catalog.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from markupsafe import Markup
from sqladmin import ModelView
from sqladmin import i18n as sqladmin_i18n
from sqladmin.formatters import BASE_FORMATTERS
from sqladmin.i18n import I18nConfig

from quanzi.kit import i18n
from quanzi.kit.console import CHINA
from quanzi.kit.money import yuan


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "extract, translate later"
    return message


# sqladmin's own page text (its admin.pot), translated in our catalog.
SQLADMIN_UI = [
    N_("List"), N_("Details"), N_("Create"), N_("Edit"), N_("Delete"), N_("Export"), N_("Import"), N_("Cancel"),
    N_("Save"), N_("Save and continue editing"), N_("Save and add another"), N_("Save as new"), N_("Column"),
    N_("Value"), N_("Go Back"), N_("New %(name)s"), N_("Edit %(name)s"), N_("Logout"), N_("Language"),
    N_("Actions"), N_("Delete selected items"), N_("Search"), N_("Select all"), N_("Select item"), N_("View"),
    N_("Showing %(start)s to %(end)s of %(count)s items"), N_("prev"), N_("next"), N_("Show"),
    N_("%(size)s / Page"), N_("Filters"), N_("Close"), N_("Done"), N_("Clear filter"), N_("Apply Filter"),
    N_("Please confirm"), N_("Yes"), N_("You are not authorized to view these records."), N_("Refresh list"),
]

# Column key -> English label (msgid). Every column of every back-office view has one (a test checks).
LABELS = {
    "id": N_("ID"), "phone": N_("Phone"), "nickname": N_("Nickname"), "is_active": N_("Active"), "show_phone_to_shops": N_("Shows phone to shops"),
    "created_at": N_("Created at"), "user_id": N_("User ID"), "role": N_("Role"), "kind": N_("Kind"),
    "expires_at": N_("Expires at"), "revoked_at": N_("Revoked at"), "ip": N_("IP address"), "topic": N_("Topic"),
    "handler": N_("Handler"), "status": N_("Status"), "attempts": N_("Attempts"),
    "next_attempt_at": N_("Next attempt"), "last_error": N_("Last error"), "at": N_("Time"),
    "actor_id": N_("Operator ID"), "action": N_("Action"), "entity": N_("Table"), "entity_id": N_("Row ID"),
    "changes": N_("Changes"), "order_no": N_("Order no"), "buyer_id": N_("Buyer ID"),
    "supplier_id": N_("Supplier ID"), "shop_id": N_("Shop ID"), "goods_fen": N_("Goods"),
    "shipping_fen": N_("Shipping"), "discount_fen": N_("Discount"), "total_fen": N_("Total paid"),
    "refunded_fen": N_("Refunded"), "carrier": N_("Carrier"), "tracking_no": N_("Tracking number"),
    "paid_at": N_("Paid at"), "shipped_at": N_("Shipped at"), "received_at": N_("Received at"),
    "completed_at": N_("Completed at"), "closed_at": N_("Closed at"), "note": N_("Buyer's note"),
    "hold_reason": N_("On hold for"), "order_id": N_("Order ID"), "out_refund_no": N_("Refund no"),
    "amount_fen": N_("Amount"), "reason": N_("Reason"), "source": N_("Source"), "done_at": N_("Done at"),
    "checkout_id": N_("Checkout"), "avatar_url": N_("Avatar"), "password_hash": N_("Password hash"),
    "token_hash": N_("Token hash"), "payload": N_("Payload"), "locked_until": N_("Locked until"),
    "locked_by": N_("Locked by"), "processed_at": N_("Processed at"), "referrer_id": N_("Referrer ID"),
    "referrer2_id": N_("Second-level referrer ID"), "commission_eligible": N_("Earns commission"),
    "address": N_("Address"), "open_aftersales": N_("Open after-sales"), "pay_deadline": N_("Pay by"),
    "return_deadline": N_("Return window ends"), "payment_id": N_("Payment ID"),
    "provider_refund_id": N_("Provider refund ID"),
}


def china_time(value: datetime) -> str:
    """A stored (UTC) time as China time, to the second, marked so nobody reads it as UTC."""
    if value.tzinfo is None:  # never stored naive, but never shown as if it were China time either
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def money(model: Any, attr: str) -> Markup:
    fen = getattr(model, attr, None)
    if fen is None:
        return Markup("")
    return Markup('<span class="text-nowrap" data-fen="{}">{}</span>').format(
        fen, yuan(int(fen), "en" if sqladmin_i18n.get_locale() == "en" else "zh_CN"))


FORMATTERS = {**BASE_FORMATTERS, datetime: china_time, date: lambda d: d.isoformat()}


class TranslatedLabels(dict[str, str]):
    """Column labels as stored English msgids, translated when sqladmin reads one (per request)."""

    def get(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        value = super().get(key, default)
        return sqladmin_i18n.gettext(value) if isinstance(value, str) else value

    def __getitem__(self, key: str) -> str:
        return sqladmin_i18n.gettext(super().__getitem__(key))


def _translated(msgid: str) -> property:
    return property(lambda _self: sqladmin_i18n.gettext(msgid))


def localize(view: type[ModelView]) -> type[ModelView]:
    """Give a view translated labels and names, China time and yuan. Names and labels are translated when a
    page reads them, so one app serves both languages."""
    if view.__dict__.get("_quanzi_localized"):  # every create_app mounts the same classes again
        return view
    view._quanzi_localized = True  # type: ignore[attr-defined]
    columns = [c.key for c in view.model.__table__.columns]
    view.column_labels = {key: LABELS.get(key, key.replace("_", " ").capitalize()) for key in columns}
    fen = {key: money for key in columns if key.endswith("_fen")}
    view.column_formatters = {**fen, **view.column_formatters}
    view.column_formatters_detail = {**fen, **view.column_formatters_detail}
    view.column_type_formatters = FORMATTERS
    view.column_type_formatters_detail = FORMATTERS
    name, plural = str(view.name), str(view.name_plural)
    view.name = _translated(name)  # type: ignore[assignment]
    view.name_plural = _translated(plural)  # type: ignore[assignment]
    original_init = view.__init__

    def __init__(self: ModelView, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._column_labels = TranslatedLabels(self._column_labels)

    view.__init__ = __init__  # type: ignore[method-assign]
    return view


def i18n_config() -> I18nConfig:
    """Register our catalogs with sqladmin and read the same `lang` cookie as the rest of the site."""
    for locale in i18n.SUPPORTED:
        if locale not in sqladmin_i18n.SUPPORTED_LOCALES:
            sqladmin_i18n.SUPPORTED_LOCALES.append(locale)
        sqladmin_i18n.translations[locale] = i18n.translations(locale)
    return I18nConfig(default_locale=i18n.DEFAULT, language_cookie_name="lang", language_header_name=None,
                      language_switcher=list(i18n.SUPPORTED))
