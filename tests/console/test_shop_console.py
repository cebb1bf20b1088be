"""Shopkeeper console: open a shop for free, fill and arrange the shelf, see only my shop's orders."""

from __future__ import annotations

from sqlalchemy import func, select

from quanzi.accounts import service as accounts
from quanzi.catalog import service as catalog
from quanzi.payments.models import Payment
from quanzi.shops import service as shops
from tests.console.helpers import browser, place, ids_of
from tests.factories import make_world


async def _second_product(db, supplier_id: int) -> int:  # noqa: ANN001
    async with db.write() as s:
        p = await catalog.create_product(s, supplier_id, title="赣南脐橙", publish=True, skus=[
            {"code": "ORG-1", "label": "5斤装", "price_fen": 3990, "cost_fen": 2000, "stock": 50},
            {"code": "ORG-2", "label": "10斤装", "price_fen": 6990, "cost_fen": 3500, "stock": 50}])
        return p.id


async def test_anyone_opens_a_shop_for_free_and_arranges_the_shelf(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    orange = await _second_product(db, w.supplier_id)
    me = await browser(app, db, "13700000009", nickname="新店主")  # a plain fan: no shopkeeper role yet

    r = await me.get("/console/shop")
    assert r.status_code == 200
    assert 'data-testid="open-shop-form"' in r.text
    assert "免费" in r.text and "不需要购买任何商品" in r.text  # the page says opening costs nothing

    r = await me.post("/console/shop/open", {"name": "", "intro": ""})
    assert r.status_code == 422 and 'data-testid="error-name"' in r.text
    assert (await me.post("/console/shop/open", {"name": "小新的店"}, csrf=False)).status_code == 403  # CSRF

    r = await me.submit("/console/shop/open", {"name": "小新的店", "intro": "只卖自己吃过的"})
    assert "你的小店开好了" in r.text and 'data-testid="shelf-empty"' in r.text
    async with db.read() as s:
        shop = await shops.my_shop(s, me.user_id)
        assert "shopkeeper" in await accounts.roles_of(s, me.user_id)
        assert (await s.execute(select(func.count(Payment.id)))).scalar_one() == 0  # no fee, no purchase

    r = await me.get("/console/shop/catalog")
    assert set(ids_of(r.text, "catalog-item", "data-product-id")) == {str(w.product_id), str(orange)}
    assert r.text.count('data-testid="add-to-shelf"') == 2
    r = await me.submit("/console/shop/shelf", {"product_id": w.product_id, "back": "/console/shop/catalog"})
    assert "已加入你的货架" in r.text
    assert r.text.count('data-testid="on-shelf"') == 1 and r.text.count('data-testid="add-to-shelf"') == 1
    r = await me.get("/console/shop/catalog?q=脐橙")
    assert ids_of(r.text, "catalog-item", "data-product-id") == [str(orange)]
    await me.submit("/console/shop/shelf", {"product_id": orange, "back": "/console/shop/catalog?q=脐橙"})

    r = await me.get("/console/shop")
    assert ids_of(r.text, "shelf-item", "data-product-id") == [str(w.product_id), str(orange)]
    assert "¥29.90" in r.text and "¥39.90" in r.text  # platform prices, read-only
    assert "同一件商品在每家小店都是同一个价格" in r.text

    r = await me.submit(f"/console/shop/shelf/{orange}/recommendation", {"recommendation": "今年最甜的一批"})
    assert "推荐语已保存" in r.text and '>今年最甜的一批</textarea>' in r.text
    r = await me.post(f"/console/shop/shelf/{orange}/recommendation", {"recommendation": "长" * 201})
    assert r.status_code == 303
    assert "推荐语未保存" in (await me.get(r.headers["location"])).text

    r = await me.submit(f"/console/shop/shelf/{orange}/move", {"direction": "up"})
    assert ids_of(r.text, "shelf-item", "data-product-id") == [str(orange), str(w.product_id)]
    async with db.read() as s:
        entries = await shops.shelf(s, shop.id, published_only=False)
    assert [(e.product.id, e.item.recommendation) for e in entries] == [
        (orange, "今年最甜的一批"), (w.product_id, "")]
    await me.submit(f"/console/shop/shelf/{orange}/move", {"direction": "up"})  # already first: no change
    r = await me.submit(f"/console/shop/shelf/{orange}/move", {"direction": "down"})
    assert ids_of(r.text, "shelf-item", "data-product-id") == [str(w.product_id), str(orange)]

    r = await me.submit(f"/console/shop/shelf/{w.product_id}/remove")
    assert ids_of(r.text, "shelf-item", "data-product-id") == [str(orange)]

    r = await me.submit("/console/shop", {"name": "小新的好物店", "intro": "新简介"})
    assert "店铺信息已保存" in r.text and 'value="小新的好物店"' in r.text
    r = await me.submit("/console/shop/open", {"name": "第二家"})  # one shop per person
    assert "你已经开过店了" in r.text
    await me.close()


async def test_shopkeeper_sees_only_own_shop_orders_masked(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    mine = await place(client, w, [(w.sku_ids[0], 2)])
    outside = await place(client, w, [(w.sku_ids[1], 1)], shop=False)  # bought without a shop

    keeper = await browser(app, db, "13700000002")  # make_world's shopkeeper
    r = await keeper.get("/console/shop/orders")
    assert r.status_code == 200
    assert ids_of(r.text, "shop-order", "data-order-no") == [mine["order_no"]]
    assert outside["order_no"] not in r.text
    assert "139****0001" in r.text
    assert "13900000001" not in r.text and "世纪大道" not in r.text  # no phone, no address

    other = await browser(app, db, "13700000003")
    async with db.write() as s:
        await shops.open_shop(s, other.user_id, "别人的店")
    r = await other.get("/console/shop/orders")
    assert r.status_code == 200 and 'data-testid="orders-empty"' in r.text
    assert mine["order_no"] not in r.text and "139****0001" not in r.text
    await keeper.close()
    await other.close()


async def test_shop_pages_without_a_shop_lead_to_the_open_form(app, db) -> None:  # noqa: ANN001
    keeper = await browser(app, db, "13700000004", "shopkeeper")
    for url in ("/console/shop/catalog", "/console/shop/orders"):
        r = await keeper.get(url)
        assert r.status_code == 303 and r.headers["location"] == "/console/shop"
    r = await keeper.get("/console/shop")
    assert "先开店" in r.text and 'data-testid="open-shop-form"' in r.text
    await keeper.close()
