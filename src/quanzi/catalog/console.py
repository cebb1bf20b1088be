"""Supplier console pages: my products, their SKUs, prices (with history) and stock; and the supplier
scope other console pages share (operators see every supplier's data, a supplier only theirs).

The page kit (flash messages, yuan parsing, field-error text) lives in kit/console.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import Operator, Supplier
from quanzi.accounts.service import Principal
from quanzi.catalog import gallery, service
from quanzi.catalog.errors import DuplicateSkuCode, NotASupplier, ProductNotFound
from quanzi.catalog.models import Category, PriceChange, Sku
from quanzi.catalog.models import Supplier as SupplierRow
from quanzi.catalog.schemas import ProductIn, ProductPatch, SkuIn
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.console import (
    Column,
    FieldError,
    Flag,
    Short,
    describe,
    page,
    parse_int,
    parse_yuan,
    redirect,
    refused,
    yuan_input,
)
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import PathId
from quanzi.media.deps import MediaStorage, real_files, receive
from quanzi.media.errors import Empty

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Scope:
    """Whose supply data a console page shows: one supplier's, or everyone's (operators)."""

    supplier_id: int | None  # None with everything=True: operator
    everything: bool
    supplier: SupplierRow | None

    @property
    def missing_profile(self) -> bool:
        return not self.everything and self.supplier is None


async def supplier_scope(s: AsyncSession, me: Principal) -> Scope:
    """Operators see all suppliers' data; a supplier only theirs (their profile may not exist yet)."""
    sup = await service.supplier_of(s, me.user_id)
    if me.has("operator"):
        return Scope(None, True, sup)
    return Scope(sup.id if sup else None, False, sup)


async def acting_scope(s: AsyncSession, me: Principal) -> int | None:
    """For writes: the supplier id to check ownership against (None = operator); 403 without a profile."""
    scope = await supplier_scope(s, me)
    if scope.missing_profile:
        raise NotASupplier()
    return scope.supplier_id


# --- supplier products -----------------------------------------------------------------------------

# Form fields arrive as text; generous caps here, the catalog schemas judge the real limits with messages.
Text = Annotated[str, Form(max_length=1000)]
LongText = Annotated[str, Form(max_length=20000)]

SKU_ROWS = 3  # empty SKU rows on the create form (more SKUs can be added on the edit page)
HISTORY_PER_SKU = 5
PRODUCTS = "/console/products"


def _category_name(c: Category) -> str:
    return c.name_en if i18n.get_locale() == "en" else c.name_zh


async def _price_history(s: AsyncSession, sku_ids: list[int]) -> dict[int, list[PriceChange]]:
    """The last few prices of each SKU, newest first (console read query)."""
    out: dict[int, list[PriceChange]] = {i: [] for i in sku_ids}
    if sku_ids:
        rows = await s.execute(select(PriceChange).where(PriceChange.sku_id.in_(sku_ids))
                               .order_by(PriceChange.effective_at.desc(), PriceChange.id.desc()))
        for ch in rows.scalars():
            if len(out[ch.sku_id]) < HISTORY_PER_SKU:
                out[ch.sku_id].append(ch)
    return out


async def _suppliers(s: AsyncSession, ids: set[int]) -> dict[int, SupplierRow]:
    if not ids:
        return {}
    return {x.id: x for x in (await s.execute(select(SupplierRow).where(SupplierRow.id.in_(ids)))).scalars()}


@router.get("/console/products")
async def products(request: Request, db: DB, me: Supplier,
                   page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> Response:
    size = 20
    async with db.read() as s:
        scope = await supplier_scope(s, me)
        if scope.missing_profile:
            return page(request, "console/supplier_profile.html", {"active": "products"})
        items, total = await service.search_products(s, supplier_id=scope.supplier_id, published_only=False,
                                                     offset=(page_no - 1) * size, limit=size)
        skus = await service.skus_of(s, [p.id for p in items])
        cats = {c.id: _category_name(c) for c in await service.categories(s)}
        sups = await _suppliers(s, {p.supplier_id for p in items}) if scope.everything else {}
    return page(request, "console/products.html", {
        "active": "products", "products": items, "skus": skus, "categories": cats, "suppliers": sups,
        "scope": scope, "page_no": page_no, "pages": max(1, -(-total // size)), "total": total,
    })


@router.post("/console/products/profile")
async def create_profile(request: Request, db: DB, me: Supplier,
                         name: Short = "") -> Response:
    name = name.strip()
    if not me.has("supplier"):
        raise NotASupplier()
    if not 1 <= len(name) <= 60:
        return page(request, "console/supplier_profile.html", {
            "active": "products", "errors": {"name": _("Between 1 and 60 characters")}, "name": name,
        }, status_code=422)
    async with db.write() as s:
        await service.ensure_supplier(s, me.user_id, name)
    return redirect(request, PRODUCTS, _("Supplier profile saved. Now add your first product."))


SKU_FIELDS = ("code", "label", "price", "cost", "stock")


def _blank_sku() -> dict[str, str]:
    return dict.fromkeys(SKU_FIELDS, "")


def _blank_form() -> dict[str, Any]:
    return {"title": "", "subtitle": "", "description": "", "category_id": "", "non_returnable": False,
            "non_returnable_reason": "", "publish": False, "skus": [_blank_sku() for _i in range(SKU_ROWS)]}


async def _form_page(request: Request, db: Any, form: dict[str, Any], errors: dict[str, str] | None = None,
                     status_code: int = 200) -> Response:
    async with db.read() as s:
        cats = [(c.id, _category_name(c)) for c in await service.categories(s)]
    return page(request, "console/product_new.html", {
        "active": "products", "form": form, "errors": errors or {}, "categories": cats,
    }, status_code=status_code)


@router.get("/console/products/new")
async def new_product(request: Request, db: DB, me: Supplier) -> Response:
    async with db.read() as s:
        scope = await supplier_scope(s, me)
    if scope.supplier is None:  # operators without a supplier profile cannot own products
        return redirect(request, PRODUCTS, _("Products are created from a supplier account."), "error")
    return await _form_page(request, db, _blank_form())


def _sku_specs(rows: list[dict[str, str]], errors: dict[str, str]) -> list[dict[str, Any]]:
    """Turn the filled SKU rows into service specs; errors go to `errors` keyed sku-<row>-<field>."""
    specs: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not any(v.strip() for v in row.values()):
            continue
        spec: dict[str, Any] = {"code": row["code"].strip(), "label": row["label"].strip()}
        for field, parse in (("price", lambda v: parse_yuan(v, positive=True)),
                             ("cost", lambda v: parse_yuan(v)),
                             ("stock", lambda v: parse_int(v, low=0, high=10**7, required=False))):
            try:
                spec[{"price": "price_fen", "cost": "cost_fen", "stock": "stock"}[field]] = parse(row[field])
            except FieldError as exc:
                errors[f"sku-{i}-{field}"] = str(exc)
        try:
            SkuIn.model_validate({k: v for k, v in spec.items() if k in {"code", "label"}}
                                 | {"price_fen": 1, "cost_fen": 0})
        except ValidationError as exc:
            for e in exc.errors():
                errors.setdefault(f"sku-{i}-{e['loc'][0]}", describe(e))  # type: ignore[arg-type]
        spec["row"] = i
        specs.append(spec)
    return specs


def _product_fields(form: dict[str, Any], errors: dict[str, str], model: type[ProductIn] | type[ProductPatch],
                    ) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": form["title"].strip(), "subtitle": form["subtitle"].strip(),
        "description": form["description"].strip(), "non_returnable": form["non_returnable"],
        "non_returnable_reason": form["non_returnable_reason"].strip() if form["non_returnable"] else "",
        "category_id": None,
    }
    if form["category_id"]:
        try:
            fields["category_id"] = parse_int(form["category_id"], low=1, high=2**31 - 1)
        except FieldError as exc:
            errors["category_id"] = str(exc)
    if fields["non_returnable"] and not fields["non_returnable_reason"]:
        errors["non_returnable_reason"] = _("Say why it cannot be returned (e.g. fresh food); buyers see it")
    probe = {k: v for k, v in fields.items() if k != "category_id" or v is not None}
    if model is ProductIn:
        probe["skus"] = [{"code": "X", "label": "x", "price_fen": 1, "cost_fen": 0}]
    try:
        model.model_validate(probe)
    except ValidationError as exc:
        for e in exc.errors():
            errors.setdefault(str(e["loc"][0]), describe(e))  # type: ignore[arg-type]
    return fields


@router.post("/console/products/new")
async def create_product(
    request: Request, db: DB, me: Supplier,
    title: Text = "", subtitle: Text = "",
    description: LongText = "",
    category_id: Short = "", non_returnable: Flag = "",
    non_returnable_reason: Text = "", publish: Flag = "",
    sku_code: Column = None,
    sku_label: Column = None,
    sku_price: Column = None,
    sku_cost: Column = None,
    sku_stock: Column = None,
) -> Response:
    columns = [sku_code or [], sku_label or [], sku_price or [], sku_cost or [], sku_stock or []]
    n = max(len(c) for c in columns)
    rows = [{f: (c[i] if i < len(c) else "") for f, c in zip(SKU_FIELDS, columns, strict=True)}
            for i in range(min(n, 50))]
    form = {"title": title, "subtitle": subtitle, "description": description, "category_id": category_id,
            "non_returnable": bool(non_returnable), "non_returnable_reason": non_returnable_reason,
            "publish": bool(publish),
            "skus": rows + [_blank_sku() for _i in range(max(0, SKU_ROWS - len(rows)))]}
    errors: dict[str, str] = {}
    fields = _product_fields(form, errors, ProductIn)
    specs = _sku_specs(rows, errors)
    if not specs:
        errors["skus"] = _("Add at least one SKU: code, label, price")
    codes = [x["code"] for x in specs]
    for spec in specs:
        if codes.count(spec["code"]) > 1:
            errors.setdefault(f"sku-{spec['row']}-code", _("Each SKU code once"))
    if errors:
        return await _form_page(request, db, form, errors, 422)
    try:
        async with db.write() as s:
            sup = await service.require_supplier(s, me.user_id)
            product = await service.create_product(
                s, sup.id, **fields, skus=[{k: v for k, v in x.items() if k != "row"} for x in specs],
                actor_id=me.user_id, publish=form["publish"],
            )
            product_id = product.id
    except DuplicateSkuCode as exc:
        row = next((x["row"] for x in specs if x["code"] == exc.detail.get("code")), 0)
        return await _form_page(request, db, form, {f"sku-{row}-code": exc.text(i18n.short())}, 409)
    msg = _("Product created and published.") if form["publish"] else \
        _("Product created as a draft. Publish it when it is ready.")
    return redirect(request, f"{PRODUCTS}/{product_id}", msg)


async def _edit_page(request: Request, db: Any, me: Principal, product_id: int,
                     form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                     status_code: int = 200, new_sku: dict[str, str] | None = None) -> Response:
    async with db.read() as s:
        scope = await supplier_scope(s, me)
        if scope.missing_profile:
            raise ProductNotFound()
        product = await service.owned_product(s, product_id, scope.supplier_id)
        skus = (await service.skus_of(s, [product.id]))[product.id]
        history = await _price_history(s, [k.id for k in skus])
        cats = [(c.id, _category_name(c)) for c in await service.categories(s)]
        supplier = (await _suppliers(s, {product.supplier_id})).get(product.supplier_id)
        images = await gallery.images(s, product.id)
    form = form or {
        "title": product.title, "subtitle": product.subtitle, "description": product.description,
        "category_id": str(product.category_id or ""), "non_returnable": product.non_returnable,
        "non_returnable_reason": product.non_returnable_reason,
    }
    return page(request, "console/product_edit.html", {
        "active": "products", "product": product, "skus": skus, "history": history, "categories": cats,
        "form": form, "errors": errors or {}, "supplier": supplier, "scope": scope,
        "new_sku": new_sku or _blank_sku(),
        "add_sku_open": new_sku is not None, "images": images, "max_images": gallery.MAX_IMAGES,
    }, status_code=status_code)


@router.get("/console/products/{product_id}")
async def edit_product(request: Request, product_id: PathId, db: DB, me: Supplier) -> Response:
    return await _edit_page(request, db, me, product_id)


@router.post("/console/products/{product_id}")
async def save_product(
    request: Request, product_id: PathId, db: DB, me: Supplier,
    title: Text = "", subtitle: Text = "",
    description: LongText = "",
    category_id: Short = "", non_returnable: Flag = "",
    non_returnable_reason: Text = "",
) -> Response:
    form = {"title": title, "subtitle": subtitle, "description": description, "category_id": category_id,
            "non_returnable": bool(non_returnable), "non_returnable_reason": non_returnable_reason}
    errors: dict[str, str] = {}
    fields = _product_fields(form, errors, ProductPatch)
    if errors:
        return await _edit_page(request, db, me, product_id, form, errors, 422)
    async with db.write() as s:
        product = await service.owned_product(s, product_id, await acting_scope(s, me))
        await service.update_product(s, product, **fields)
        if fields["category_id"] is None:
            product.category_id = None  # "no category" is a choice, not a missing value
    return redirect(request, f"{PRODUCTS}/{product_id}", _("Product saved."))


@router.post("/console/products/{product_id}/status")
async def set_status(request: Request, product_id: PathId, db: DB, me: Supplier,
                     status: Annotated[str, Form(pattern=r"^(published|unpublished)$")],
                     back: Annotated[str, Form(max_length=10)] = "") -> Response:
    url = PRODUCTS if back == "list" else f"{PRODUCTS}/{product_id}"
    try:
        async with db.write() as s:
            product = await service.owned_product(s, product_id, await acting_scope(s, me))
            await service.set_status(s, product, status)
            title = product.title
    except ProductNotFound:
        raise
    except DomainError as exc:
        return refused(request, url, exc)
    if status == "published":
        msg = _("“%(title)s” is published: every shop can now put it on its shelf.")
    else:
        msg = _("“%(title)s” is unpublished: shops no longer show it and it cannot be bought.")
    return redirect(request, url, msg % {"title": title})


async def _owned_sku(s: AsyncSession, sku_id: int, me: Principal) -> Sku:
    sku = await s.get(Sku, sku_id)
    if sku is None:
        raise ProductNotFound()
    await service.owned_product(s, sku.product_id, await acting_scope(s, me))
    return sku


async def _sku_product(db: Any, sku_id: int) -> int:
    async with db.read() as s:
        sku = await s.get(Sku, sku_id)
        if sku is None:
            raise ProductNotFound()
        return sku.product_id


@router.post("/console/skus/{sku_id}/price")
async def change_price(request: Request, sku_id: PathId, db: DB, me: Supplier,
                       price: Short = "") -> Response:
    url = f"{PRODUCTS}/{await _sku_product(db, sku_id)}"
    try:
        price_fen = parse_yuan(price, positive=True)
    except FieldError as exc:
        return refused(request, url, _("Price not changed: %(why)s") % {"why": str(exc)})
    try:
        async with db.write() as s:
            sku = await _owned_sku(s, sku_id, me)
            old = sku.price_fen
            await service.set_price(s, sku_id, price_fen, me.user_id)
            label = sku.label
    except ProductNotFound:
        raise
    except DomainError as exc:
        return refused(request, url, exc)
    if old == price_fen:
        return redirect(request, url, _("The price of %(sku)s is already %(price)s.") % {
            "sku": label, "price": yuan_input(price_fen)}, "info")
    msg = _("Price of %(sku)s changed from %(old)s to %(new)s yuan; it applies in every shop.")
    return redirect(request, url, msg % {"sku": label, "old": yuan_input(old), "new": yuan_input(price_fen)})


@router.post("/console/skus/{sku_id}/stock")
async def adjust_stock(request: Request, sku_id: PathId, db: DB, me: Supplier,
                       delta: Short = "") -> Response:
    url = f"{PRODUCTS}/{await _sku_product(db, sku_id)}"
    try:
        change = parse_int(delta, low=-10**7, high=10**7)
        if change == 0:
            raise FieldError(_("Enter a number other than 0"))
    except FieldError as exc:
        return refused(request, url, _("Stock not changed: %(why)s") % {"why": str(exc)})
    try:
        async with db.write() as s:
            sku = await _owned_sku(s, sku_id, me)
            before = sku.stock
            label = sku.label
            stock = await service.adjust_stock(s, sku_id, change,
                                               ref=f"console:{me.user_id}:{clock.now().isoformat()}")
    except ProductNotFound:
        raise
    except DomainError:
        msg = _("Stock not changed: %(sku)s has %(stock)s left and cannot go below zero.")
        return refused(request, url, msg % {"sku": label, "stock": before})
    return redirect(request, url, _("Stock of %(sku)s is now %(stock)s.") % {"sku": label, "stock": stock})


@router.post("/console/products/{product_id}/skus")
async def add_sku(request: Request, product_id: PathId, db: DB, me: Supplier,
                  code: Short = "", label: Short = "",
                  price: Short = "", cost: Short = "",
                  stock: Short = "") -> Response:
    typed = {"code": code, "label": label, "price": price, "cost": cost, "stock": stock}
    errors: dict[str, str] = {}
    specs = _sku_specs([typed], errors)
    if not specs:
        errors["sku-0-code"] = _("Required")
    if errors:
        return await _edit_sku_errors(request, db, me, product_id, errors, typed)
    spec = {k: v for k, v in specs[0].items() if k != "row"}
    try:
        async with db.write() as s:
            product = await service.owned_product(s, product_id, await acting_scope(s, me))
            await service.add_sku(s, product.id, actor_id=me.user_id, **spec)
    except DuplicateSkuCode as exc:
        errors = {"sku-0-code": exc.text(i18n.short())}
        return await _edit_sku_errors(request, db, me, product_id, errors, typed)
    return redirect(request, f"{PRODUCTS}/{product_id}", _("SKU %(code)s added.") % {"code": spec["code"]})


async def _edit_sku_errors(request: Request, db: Any, me: Principal, product_id: int, errors: dict[str, str],
                           new_sku: dict[str, str]) -> Response:
    return await _edit_page(request, db, me, product_id, errors={f"new-{k}": v for k, v in errors.items()},
                            status_code=422, new_sku=new_sku)


# --- search synonyms (operator) ----------------------------------------------------------------------

SYNONYMS = "/console/search/synonyms"
Terms = Annotated[str, Form(max_length=500)]
Note = Annotated[str, Form(max_length=100)]


@router.get("/console/search/synonyms")
async def synonyms_page(request: Request, db: DB, me: Operator) -> Response:
    """Words that find the same goods (橙子 ⇔ 橙 ⇔ 脐橙): applied to every search at once, no re-indexing."""
    from quanzi.catalog import search

    async with db.read() as s:
        groups = await search.synonym_groups(s)
    return page(request, "catalog/synonyms.html", {"active": "synonyms", "groups": groups})


@router.post("/console/search/synonyms")
async def add_synonyms(request: Request, db: DB, me: Operator, terms: Terms, note: Note = "") -> Response:
    from quanzi.catalog import search

    try:
        async with db.write() as s:
            await search.save_synonym_group(s, terms, note=note.strip(), actor_id=me.user_id)
    except DomainError as exc:
        return refused(request, SYNONYMS, exc)
    return redirect(request, SYNONYMS, _("Synonyms saved: searches use them from now on."))


@router.post("/console/search/synonyms/{group_id}")
async def edit_synonyms(request: Request, group_id: PathId, db: DB, me: Operator, terms: Terms,
                        note: Note = "") -> Response:
    from quanzi.catalog import search

    try:
        async with db.write() as s:
            await search.save_synonym_group(s, terms, note=note.strip(), group_id=group_id, actor_id=me.user_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, f"{SYNONYMS}#group-{group_id}", exc)
    return redirect(request, f"{SYNONYMS}#group-{group_id}", _("Synonyms saved: searches use them from now on."))


@router.post("/console/search/synonyms/{group_id}/delete")
async def delete_synonyms(request: Request, group_id: PathId, db: DB, me: Operator) -> Response:
    from quanzi.catalog import search

    async with db.write() as s:
        await search.delete_synonym_group(s, group_id, actor_id=me.user_id)
    return redirect(request, SYNONYMS, _("Synonym group deleted."))

# --- pictures ---------------------------------------------------------------------------------------

@router.post("/console/products/{product_id}/images")
async def upload_images(request: Request, product_id: PathId, db: DB, me: Supplier, storage: MediaStorage,
                        photos: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    anchor = f"{PRODUCTS}/{product_id}#images"
    files = real_files(photos)
    try:
        async with db.read() as s:  # 404 and "full" before anything is stored
            await service.owned_product(s, product_id, await acting_scope(s, me))
            room = await gallery.room_left(s, product_id)
        if not files:
            raise Empty()
        items = await receive(request, me.user_id, files, max_files=max(room, 0))
        async with db.write() as s:
            product = await service.owned_product(s, product_id, await acting_scope(s, me))
            await gallery.add(s, product, me.user_id, photos=items, storage=storage)
    except DomainError as exc:
        if exc.status in (403, 404):  # not theirs, or no supplier profile: not a form problem
            raise
        return refused(request, anchor, exc)
    return redirect(request, anchor, _("%(n)s picture(s) added.") % {"n": len(items)})


@router.post("/console/products/{product_id}/images/{media_id}/remove")
async def remove_image(request: Request, product_id: PathId, media_id: PathId, db: DB, me: Supplier) -> Response:
    async with db.write() as s:
        product = await service.owned_product(s, product_id, await acting_scope(s, me))
        await gallery.remove(s, product, media_id)
    return redirect(request, f"{PRODUCTS}/{product_id}#images", _("Picture removed."))


@router.post("/console/products/{product_id}/images/{media_id}/main")
async def main_image(request: Request, product_id: PathId, media_id: PathId, db: DB, me: Supplier) -> Response:
    async with db.write() as s:
        product = await service.owned_product(s, product_id, await acting_scope(s, me))
        await gallery.make_main(s, product, media_id)
    return redirect(request, f"{PRODUCTS}/{product_id}#images", _("Main picture changed."))
