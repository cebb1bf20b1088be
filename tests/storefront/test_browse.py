"""Shop, product and search pages (public: no login needed)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from quanzi.catalog import service as catalog
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.shops import service as shops
from tests.conftest import make_user
from tests.factories import World
from tests.storefront.conftest import HTML, data_testids


async def _product(db: Database, w: World, title: str, *, price: int = 1990, stock: int = 5, code: str,
                   non_returnable: bool = False, reason: str = "", subtitle: str = "") -> int:
    async with db.write() as s:
        p = await catalog.create_product(
            s, w.supplier_id, title=title, subtitle=subtitle, publish=True, non_returnable=non_returnable,
            non_returnable_reason=reason,
            skus=[{"code": code, "label": "标准装", "price_fen": price, "cost_fen": price // 2, "stock": stock}])
        return p.id


async def test_shop_page_lists_the_shelf_in_order_with_recommendations(client: httpx.AsyncClient, db: Database,
                                                                        world: World) -> None:
    second = await _product(db, world, "赣南脐橙", code="ORG-1", price=3900)
    async with db.write() as s:
        shop = await shops.public_shop(s, world.shop_id)
        shop.intro = "只卖自己家里吃的好东西"
        await shops.add_to_shelf(s, shop, second, "今年最甜的一批")
        await shops.reorder_shelf(s, shop, [second, world.product_id])

    r = await client.get(f"/s/{world.shop_id}", headers=HTML)  # anonymous
    assert r.status_code == 200, r.text
    html = r.text
    assert 'href="/static/css/storefront.css"' in html
    assert "小美的好物铺" in html and "只卖自己家里吃的好东西" in html
    assert re.search(r'data-testid="shop-avatar">小<', html)  # no avatar picture: the initial
    ids = [t for t in data_testids(html) if t.startswith("shelf-item-")]
    assert ids == [f"shelf-item-{second}", f"shelf-item-{world.product_id}"]  # the shopkeeper's order
    assert html.index("今年最甜的一批") < html.index("我家孩子最爱吃")
    assert html.index("赣南脐橙") < html.index("云南高原苹果")
    assert "¥39.00" in html and "¥29.90" in html  # "from" the cheapest SKU
    assert f'href="/s/{world.shop_id}/p/{second}"' in html
    assert 'data-testid="empty-shelf"' not in html


async def test_an_empty_shelf_says_so_and_a_closed_shop_is_404(client: httpx.AsyncClient, db: Database,
                                                                world: World) -> None:
    uid, _ = await make_user(db, "13700000009", nickname="新店主")
    async with db.write() as s:
        shop = await shops.open_shop(s, uid, "刚开的小店")
        shop_id = shop.id
    r = await client.get(f"/s/{shop_id}", headers=HTML)
    assert r.status_code == 200 and 'data-testid="empty-shelf"' in r.text and "刚开的小店" in r.text
    r = await client.get(f"/s/{shop_id}?lang=en", headers=HTML)
    assert "The shelf is still empty" in r.text
    r = await client.get("/s/999999", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


async def test_product_page_shows_skus_stock_and_the_shop_recommendation(client: httpx.AsyncClient, db: Database,
                                                                         world: World) -> None:
    async with db.write() as s:
        await catalog.adjust_stock(s, world.sku_ids[1], -100, "test")  # the 2-jin pack sells out
    r = await client.get(f"/s/{world.shop_id}/p/{world.product_id}", headers=HTML)
    assert r.status_code == 200, r.text
    html = r.text
    assert "云南高原苹果" in html and "脆甜多汁" in html and "我家孩子最爱吃" in html
    for sku_id in world.sku_ids:
        assert f'data-testid="sku-{sku_id}"' in html
    assert "1斤装" in html and "2斤装" in html and "¥29.90" in html and "¥49.90" in html
    sold_out = re.search(rf'<input type="radio" name="sku_id" value="{world.sku_ids[1]}"[^>]*>', html)
    assert sold_out and "disabled" in sold_out.group(0) and "已售罄" in html
    first = re.search(rf'<input type="radio" name="sku_id" value="{world.sku_ids[0]}"[^>]*>', html)
    assert first and "checked" in first.group(0) and "100 件有货" in html
    # Within a shop the shop goes along to the cart and checkout; anonymous buyers are sent to log in.
    assert f'<input type="hidden" name="shop_id" value="{world.shop_id}">' in html
    assert 'href="/login?next=' in html
    assert 'data-testid="non-returnable"' not in html and 'data-testid="returnable"' in html
    assert "<script>" not in html  # CSP: no inline scripts

    # The same product outside the shop: no shop, no recommendation.
    r = await client.get(f"/p/{world.product_id}", headers=HTML)
    assert r.status_code == 200 and "我家孩子最爱吃" not in r.text and 'name="shop_id"' not in r.text


async def test_a_product_not_on_the_shelf_is_404_inside_the_shop(client: httpx.AsyncClient, db: Database,
                                                                  world: World) -> None:
    other = await _product(db, world, "野生菌菇", code="MSH-1")
    assert (await client.get(f"/p/{other}", headers=HTML)).status_code == 200
    r = await client.get(f"/s/{world.shop_id}/p/{other}", headers=HTML)
    assert r.status_code == 404 and "不在这家小店的货架上" in r.text


async def test_reference_price_is_crossed_out_only_when_above_the_price(client: httpx.AsyncClient, db: Database,
                                                                        world: World) -> None:
    url = f"/p/{world.product_id}"
    r = await client.get(url, headers=HTML)
    assert "<del" not in r.text  # a price never changed has no reference to show

    clock.advance(timedelta(days=2))
    async with db.write() as s:
        await catalog.set_price(s, world.sku_ids[0], 2490, None)  # 29.90 → 24.90: a reduction
        await catalog.set_price(s, world.sku_ids[1], 5990, None)  # 49.90 → 59.90: a rise
    clock.advance(timedelta(hours=1))
    html = (await client.get(url, headers=HTML)).text
    assert re.search(rf'data-testid="ref-price-{world.sku_ids[0]}"[^>]*>¥29.90</del>', html)
    assert f'ref-price-{world.sku_ids[1]}' not in html  # 49.90 is below 59.90: nothing crossed out
    assert "7日最低价" in html and 'data-testid="ref-price"' in html  # next to the headline price
    assert "¥24.90" in html and "¥59.90" in html
    en = (await client.get(url + "?lang=en", headers=HTML)).text
    assert "Lowest price of the last 7 days" in en


async def test_non_returnable_goods_say_so_before_purchase(client: httpx.AsyncClient, db: Database,
                                                           world: World) -> None:
    pid = await _product(db, world, "阳澄湖大闸蟹", code="CRAB-1", non_returnable=True, reason="生鲜")
    r = await client.get(f"/p/{pid}", headers=HTML)
    m = re.search(r'data-testid="non-returnable">([^<]+)<', r.text)
    assert m and m.group(1) == "该商品不支持7天无理由退货：生鲜"
    r = await client.get(f"/p/{pid}?lang=en", headers=HTML)
    assert "No 7-day no-reason return for this item: 生鲜" in r.text


async def test_search_finds_two_character_words_and_pages(client: httpx.AsyncClient, db: Database,
                                                          world: World) -> None:
    await _product(db, world, "新疆阿克苏冰糖心", code="X-1", subtitle="不是那个水果")
    r = await client.get("/search", params={"q": "苹果"}, headers=HTML)
    assert r.status_code == 200
    assert f'data-testid="result-{world.product_id}"' in r.text and "阿克苏" not in r.text
    assert "找到 1 件“苹果”相关商品" in r.text
    r = await client.get("/search", params={"q": "榴莲"}, headers=HTML)
    assert 'data-testid="no-results"' in r.text

    for i in range(21):
        await _product(db, world, f"红富士苹果 {i} 号", code=f"FJ-{i}")
    r = await client.get("/search", params={"q": "苹果"}, headers=HTML)
    assert len(re.findall(r'data-testid="result-\d+"', r.text)) == 20 and 'data-testid="next-page"' in r.text
    assert "1 / 2" in r.text
    r = await client.get("/search", params={"q": "苹果", "page": 2}, headers=HTML)
    assert len(re.findall(r'data-testid="result-\d+"', r.text)) == 2 and 'data-testid="prev-page"' in r.text
