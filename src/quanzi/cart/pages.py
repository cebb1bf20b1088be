"""The cart page: lines grouped by the shop they were added through, quantity steppers, checkout selection;
and the fan's addresses: the province/city/district picker, adding one in place from the step that needs it,
and the address book under /me/addresses.

Adding from a shop's product page records that shop (the order later says which shop it came
through), so the product must be on that shop's shelf.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser
from quanzi.accounts.service import Principal
from quanzi.cart import divisions, service
from quanzi.cart.errors import AddressIncomplete, InvalidRegion
from quanzi.cart.schemas import AddressIn
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import SkuUnavailable
from quanzi.kit import i18n
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.schemas import PathId
from quanzi.kit.web import render, templates
from quanzi.shops import service as shops

router = APIRouter(include_in_schema=False)

FormId = Annotated[int, Form(ge=1, le=2**31 - 1)]
FormQty = Annotated[int, Form(ge=1, le=service.MAX_QTY)]


async def check_shop_product(s: AsyncSession, sku_id: int, shop_id: int | None) -> int:
    """The SKU's product id, after checking it is on sale and (inside a shop) on that shop's shelf."""
    snap = (await catalog.snapshots(s, [sku_id])).get(sku_id)
    if snap is None or not snap.available:
        raise SkuUnavailable(sku_id=sku_id)
    if shop_id is not None:
        await shops.public_shop(s, shop_id)
        await shops.shelf_item(s, shop_id, snap.product_id)
    return snap.product_id


@router.post("/cart/add")
async def add_to_cart(me: CurrentUser, db: DB, sku_id: FormId, qty: FormQty,
                      shop_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None) -> Response:
    async with db.write() as s:
        product_id = await check_shop_product(s, sku_id, shop_id)
        await service.add_item(s, me.user_id, sku_id, qty, shop_id)
    where = f"/s/{shop_id}/p/{product_id}" if shop_id else f"/p/{product_id}"
    return RedirectResponse(f"{where}?added=1", status_code=303)


@router.get("/cart")
async def cart_page(request: Request, me: CurrentUser, db: DB) -> Response:
    async with db.read() as s:
        lines = await service.lines(s, me.user_id)
        shop_by_id = await shops.shops_by_id(s, [x.item.shop_id for x in lines if x.item.shop_id])
    groups: dict[int | None, list[service.CartLine]] = {}
    for line in lines:
        groups.setdefault(line.item.shop_id, []).append(line)
    ok = [x for x in lines if x.sku.available and x.sku.stock > 0]
    return render(request, "cart/cart.html", {
        "groups": [(shop_by_id.get(sid) if sid else None, ls) for sid, ls in groups.items()],
        "goods_fen": sum(x.total_fen for x in ok), "count": sum(x.item.quantity for x in ok),
        "has_lines": bool(lines), "checkoutable": bool(ok), "max_qty": service.MAX_QTY, "tab": "cart",
    })


@router.post("/cart/items/{item_id}/quantity")
async def set_quantity(item_id: PathId, me: CurrentUser, db: DB, quantity: FormQty) -> Response:
    async with db.write() as s:
        await service.set_quantity(s, me.user_id, item_id, quantity)
    return RedirectResponse("/cart", status_code=303)


@router.post("/cart/items/{item_id}/remove")
async def remove(item_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        await service.remove_item(s, me.user_id, item_id)
    return RedirectResponse("/cart", status_code=303)


# --- addresses: the division picker, adding one in place, the address book ---------------------------------

def picker_context(province: str | None = None, city: str | None = None, district: str | None = None,
                   ) -> dict[str, Any]:
    """What the province/city/district selects show: a choice that does not belong under its parent is
    dropped, and a province with one city (北京, 上海…) picks it."""
    p = divisions.get(province, 1)
    cities = divisions.children(p.code) if p else []
    c = divisions.get(city, 2)
    if c is None or p is None or c.parent != p.code:
        c = cities[0] if len(cities) == 1 else None
    districts = divisions.children(c.code) if c else []
    d = divisions.get(district, 3)
    if d is None or c is None or d.parent != c.code:
        d = None
    return {"provinces": divisions.children(None), "cities": cities, "districts": districts,
            "province": p.code if p else "", "city": c.code if c else "", "district": d.code if d else ""}


# Every page that holds an address form draws its picker from the division data through this global.
templates.env.globals["division_picker"] = picker_context

Code = Annotated[str, Form(max_length=12)]
QCode = Annotated[str, Query(max_length=12)]
Text = Annotated[str, Form(max_length=240)]


@router.get("/addresses/picker")
async def picker(request: Request, province_code: QCode = "", city_code: QCode = "",
                 district_code: QCode = "") -> Response:
    """The picker again after a change (htmx swaps it in place): the next level's choices."""
    return render(request, "cart/_picker_fragment.html",
                  {"pick": picker_context(province_code, city_code, district_code)})


def safe_back(url: str) -> str:
    """Only a path on this site: an address form returns to the step it was opened from."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/me/addresses"


def _form_values(name: str, phone: str, province_code: str, city_code: str, district_code: str, detail: str,
                 is_default: str) -> dict[str, Any]:
    return {"name": name, "phone": phone, "province_code": province_code, "city_code": city_code,
            "district_code": district_code, "detail": detail, "is_default": bool(is_default)}


def _checked(values: dict[str, Any]) -> AddressIn:
    """The form as the API's schema; a field left empty is said in words, not as a status code."""
    try:
        return AddressIn(**{**values, "name": values["name"].strip(), "detail": values["detail"].strip()})
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
        if fields & {"province_code", "city_code", "district_code"} and not fields & {"name", "phone", "detail"}:
            raise InvalidRegion() from exc
        raise AddressIncomplete() from exc


async def _save(db: Any, me: Principal, values: dict[str, Any], address_id: int | None = None) -> int:
    body = _checked(values)
    async with db.write() as s:
        if address_id is None:
            addr = await service.add_address(s, me.user_id, **body.model_dump())
        else:
            addr = await service.update_address(s, me.user_id, address_id, **body.model_dump())
        return addr.id


def _back_with(back: str, address_id: int) -> str:
    """Checkout chooses the new address itself; campaign pages pick the default (a new one is made default)."""
    if back.startswith("/checkout"):
        return back + ("&" if "?" in back else "?") + urlencode({"address_id": address_id})
    return back


@router.post("/addresses/inline")
async def add_in_place(request: Request, me: CurrentUser, db: DB, back: Annotated[str, Form(max_length=400)],
                       name: Text = "", phone: Text = "", province_code: Code = "", city_code: Code = "",
                       district_code: Code = "", detail: Text = "", is_default: Annotated[str, Form(max_length=5)] = "",
                       ) -> Response:
    """A delivery address added from the step that needs one (a campaign page, checkout), then back to it.
    With htmx the form is swapped in place (a refusal keeps what was typed); without, a 303 back."""
    back = safe_back(back)
    values = _form_values(name, phone, province_code, city_code, district_code, detail, is_default)
    htmx = request.headers.get("hx-request") == "true"
    try:
        new_id = await _save(db, me, values)
    except DomainError as exc:
        if exc.status == 404:
            raise
        # htmx swaps the form in place (a 200: htmx does not swap a 4xx); a plain post gets a whole page
        return render(request, "cart/_address_inline_fragment.html" if htmx else "cart/address_inline_page.html",
                      {"back": back, "form": values, "error": exc.text(i18n.short()), "tab": "me"},
                      status_code=200 if htmx else exc.status)
    target = _back_with(back, new_id)
    if htmx:  # a full page load of the same step, now with the address
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/me/addresses")
async def address_book(request: Request, me: CurrentUser, db: DB,
                       notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    async with db.read() as s:
        addrs = await service.addresses(s, me.user_id)
    _ = i18n.gettext
    words = {"saved": _("Address saved."), "deleted": _("Address deleted."),
             "default": _("Default address changed.")}
    return render(request, "cart/addresses.html", {
        "addresses": addrs, "notice": words.get(notice or ""), "tab": "me", "max": service.MAX_ADDRESSES,
    })


@router.get("/me/addresses/new")
async def new_address(request: Request, me: CurrentUser, db: DB) -> Response:
    return render(request, "cart/address_edit.html", {"form": {"is_default": False}, "address_id": None,
                                                       "tab": "me"})


@router.get("/me/addresses/{address_id}/edit")
async def edit_address(request: Request, address_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.read() as s:
        a = await service.owned_address(s, me.user_id, address_id)
    place = (divisions.place(a.province_code, a.city_code, a.district_code) if a.district_code
             else divisions.find(a.region))
    form = {"name": a.name, "phone": a.phone[3:] if a.phone.startswith("+86") else a.phone, "detail": a.detail,
            "province_code": place.province.code if place else "", "city_code": place.city.code if place else "",
            "district_code": place.district.code if place else "", "is_default": a.is_default}
    return render(request, "cart/address_edit.html", {"form": form, "address_id": a.id, "tab": "me"})


async def _book_form(request: Request, me: Principal, db: Any, address_id: int | None, values: dict[str, Any],
                     ) -> Response:
    if address_id is not None:  # someone else's address is not found, whatever the form says
        async with db.read() as s:
            await service.owned_address(s, me.user_id, address_id)
    try:
        await _save(db, me, values, address_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return render(request, "cart/address_edit.html", {
            "form": values, "address_id": address_id, "error": exc.text(i18n.short()), "tab": "me",
        }, status_code=exc.status)
    return RedirectResponse("/me/addresses?notice=saved", status_code=303)


@router.post("/me/addresses")
async def create_address(request: Request, me: CurrentUser, db: DB, name: Text = "", phone: Text = "",
                         province_code: Code = "", city_code: Code = "", district_code: Code = "", detail: Text = "",
                         is_default: Annotated[str, Form(max_length=5)] = "") -> Response:
    values = _form_values(name, phone, province_code, city_code, district_code, detail, is_default)
    return await _book_form(request, me, db, None, values)


@router.post("/me/addresses/{address_id}")
async def save_address(request: Request, address_id: PathId, me: CurrentUser, db: DB, name: Text = "",
                       phone: Text = "", province_code: Code = "", city_code: Code = "", district_code: Code = "",
                       detail: Text = "", is_default: Annotated[str, Form(max_length=5)] = "") -> Response:
    values = _form_values(name, phone, province_code, city_code, district_code, detail, is_default)
    return await _book_form(request, me, db, address_id, values)


@router.post("/me/addresses/{address_id}/default")
async def make_default(address_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        await service.set_default_address(s, me.user_id, address_id)
    return RedirectResponse("/me/addresses?notice=default", status_code=303)


@router.post("/me/addresses/{address_id}/delete")
async def remove_address(address_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        await service.delete_address(s, me.user_id, address_id)
    return RedirectResponse("/me/addresses?notice=deleted", status_code=303)
