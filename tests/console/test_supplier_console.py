"""Supplier console: products with exact yuan → fen prices, price history, guarded stock, publishing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from quanzi.kit.console import FieldError, parse_yuan
from quanzi.catalog.models import PriceChange, Product, Sku
from tests.console.helpers import browser, ids_of
from tests.factories import make_world

ROW = {"sku_code": "TEA-250", "sku_label": "250克罐装", "sku_price": "29.90", "sku_cost": "15",
       "sku_stock": "40"}
PRODUCT = {"title": "明前龙井", "subtitle": "杭州西湖产区", "description": "一罐 250 克", "category_id": "",
           "non_returnable": "", "non_returnable_reason": ""}


@pytest.mark.parametrize(("raw", "fen"), [
    ("29.90", 2990), ("29.9", 2990), ("29", 2900), ("0.01", 1), (".5", 50), ("¥1,299.00", 129900),
    (" 8 ", 800), ("0", 0), ("１２.３", 1230)])
def test_yuan_is_parsed_exactly(raw: str, fen: int) -> None:
    assert parse_yuan(raw) == fen


@pytest.mark.parametrize("raw", [
    "29.999", "0.001", "29.900", "", "abc", "-1", "1e3", "NaN", "Infinity", "1.2.3", "10000000.01",
    "29,90.1.1"])
def test_bad_amounts_are_refused_not_rounded(raw: str) -> None:
    with pytest.raises(FieldError):
        parse_yuan(raw)


async def _count_products(db) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await s.execute(select(func.count(Product.id)))).scalar_one()


async def test_supplier_creates_a_product_with_an_exact_price(app, db) -> None:  # noqa: ANN001
    await make_world(db)
    sup = await browser(app, db, "13700000001")  # make_world's supplier
    r = await sup.get("/console/products/new")
    assert r.status_code == 200 and 'data-testid="product-form"' in r.text

    before = await _count_products(db)
    r = await sup.post("/console/products/new", {**PRODUCT, **ROW, "sku_price": "29.999"})
    assert r.status_code == 422
    assert 'data-testid="error-sku-0-price"' in r.text and "最多两位小数" in r.text
    assert 'value="29.999"' in r.text and 'value="明前龙井"' in r.text  # what was typed is kept
    assert await _count_products(db) == before

    r = await sup.post("/console/products/new", {**PRODUCT, **ROW, "non_returnable": "1"})
    assert r.status_code == 422 and 'data-testid="error-non_returnable_reason"' in r.text
    r = await sup.post("/console/products/new", {**PRODUCT, "title": ""})
    assert r.status_code == 422
    assert 'data-testid="error-title"' in r.text and 'data-testid="error-skus"' in r.text
    r = await sup.post("/console/products/new", {**PRODUCT, **ROW, "sku_code": "APL-0"})  # make_world's code
    assert r.status_code == 409 and "SKU 编码已存在" in r.text
    assert await _count_products(db) == before

    r = await sup.post("/console/products/new", {
        **PRODUCT, "publish": "1", "sku_code": ["TEA-250", "TEA-500", ""],
        "sku_label": ["250克罐装", "500克礼盒", ""], "sku_price": ["29.90", "59.9", ""],
        "sku_cost": ["15", "30.05", ""], "sku_stock": ["40", "", ""]})
    assert r.status_code == 303, r.text
    page = await sup.get(r.headers["location"])
    assert "商品已创建并上架" in page.text
    async with db.read() as s:
        product = (await s.execute(select(Product).where(Product.title == "明前龙井"))).scalar_one()
        rows = await s.execute(select(Sku).where(Sku.product_id == product.id).order_by(Sku.id))
        skus = list(rows.scalars())
    assert product.status == "published"
    assert [(k.code, k.price_fen, k.cost_fen, k.stock) for k in skus] == [
        ("TEA-250", 2990, 1500, 40), ("TEA-500", 5990, 3005, 0)]

    r = await sup.get("/console/products")
    assert str(product.id) in ids_of(r.text, "product", "data-product-id")
    await sup.close()


async def test_price_change_is_recorded_and_stock_never_goes_below_zero(app, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=100)
    sup = await browser(app, db, "13700000001")
    sku = w.sku_ids[0]
    url = f"/console/products/{w.product_id}"

    r = await sup.submit(f"/console/skus/{sku}/price", {"price": "39.90"})
    assert "从 29.90 元改为 39.90 元" in r.text
    async with db.read() as s:
        assert (await s.get(Sku, sku)).price_fen == 3990
        history = list((await s.execute(select(PriceChange.price_fen).where(PriceChange.sku_id == sku)
                                        .order_by(PriceChange.id))).scalars())
    assert history == [2990, 3990]
    assert 'data-testid="price-history"' in r.text and "¥39.90" in r.text

    r = await sup.submit(f"/console/skus/{sku}/price", {"price": "39.999"})
    assert "价格未修改" in r.text
    r = await sup.submit(f"/console/skus/{sku}/price", {"price": "0"})
    assert "价格未修改" in r.text
    async with db.read() as s:
        assert (await s.get(Sku, sku)).price_fen == 3990

    r = await sup.submit(f"/console/skus/{sku}/stock", {"delta": "-101"})
    assert "库存未修改" in r.text and "不能低于零" in r.text
    async with db.read() as s:
        assert (await s.get(Sku, sku)).stock == 100
    r = await sup.submit(f"/console/skus/{sku}/stock", {"delta": "-100"})
    assert "库存现为 0" in r.text
    r = await sup.submit(f"/console/skus/{sku}/stock", {"delta": "+25"})
    async with db.read() as s:
        assert (await s.get(Sku, sku)).stock == 25
    r = await sup.submit(f"/console/skus/{sku}/stock", {"delta": "lots"})
    assert "库存未修改" in r.text

    r = await sup.submit(f"/console/products/{w.product_id}/status", {"status": "unpublished"})
    assert r.url.path == url and "已下架" in r.text
    async with db.read() as s:
        assert (await s.get(Product, w.product_id)).status == "unpublished"
    await sup.submit(f"/console/products/{w.product_id}/status", {"status": "published", "back": "list"})
    async with db.read() as s:
        assert (await s.get(Product, w.product_id)).status == "published"

    r = await sup.submit(url, {**PRODUCT, "title": "云南高原苹果(新季)", "category_id": "", "non_returnable": "1",
                               "non_returnable_reason": "生鲜"})
    assert "商品已保存" in r.text
    async with db.read() as s:
        p = await s.get(Product, w.product_id)
        assert (p.title, p.non_returnable, p.non_returnable_reason, p.category_id) == (
            "云南高原苹果(新季)", True, "生鲜", None)

    r = await sup.submit(f"{url}/skus",
                         {"code": "APL-9", "label": "试吃装", "price": "9.90", "cost": "5", "stock": "3"})
    assert "已添加规格" in r.text
    async with db.read() as s:
        added = (await s.execute(select(Sku).where(Sku.code == "APL-9"))).scalar_one()
    assert (added.product_id, added.price_fen, added.stock) == (w.product_id, 990, 3)
    await sup.close()


async def test_suppliers_only_see_and_touch_their_own_products(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    other = await browser(app, db, "13700000005", "supplier")
    r = await other.get("/console/products")
    assert 'data-testid="supplier-profile"' in r.text  # no supplier profile yet
    r = await other.submit("/console/products/profile", {"name": "另一家供应商"})
    assert 'data-testid="products-empty"' in r.text
    assert str(w.product_id) not in ids_of(r.text, "product", "data-product-id")
    assert (await other.get(f"/console/products/{w.product_id}")).status_code == 404
    for url, data in [(f"/console/skus/{w.sku_ids[0]}/price", {"price": "1"}),
                      (f"/console/skus/{w.sku_ids[0]}/stock", {"delta": "-1"}),
                      (f"/console/products/{w.product_id}/status", {"status": "unpublished"})]:
        assert (await other.post(url, data)).status_code == 404
    async with db.read() as s:
        sku = await s.get(Sku, w.sku_ids[0])
        assert (sku.price_fen, sku.stock) == (2990, 100)

    operator = await browser(app, db, "13700000006", "operator")
    r = await operator.get("/console/products")
    assert str(w.product_id) in ids_of(r.text, "product", "data-product-id")  # operators see every supplier's
    assert 'data-testid="new-product"' not in r.text
    await other.close()
    await operator.close()
