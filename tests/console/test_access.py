"""Who may open which console page: fans get 403 on supplier and operator pages; anonymous → login."""

from __future__ import annotations

import pytest

from tests.console.helpers import HTML, browser
from tests.factories import make_world

SUPPLIER_PAGES = ["/console/products", "/console/products/new", "/console/fulfilment", "/console/aftersales"]


async def test_fan_gets_403_on_supplier_and_operator_pages(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    fan = await browser(app, db, "13900000001")
    for url in [*SUPPLIER_PAGES, f"/console/products/{w.product_id}", "/console/policy"]:
        r = await fan.get(url)
        assert r.status_code == 403, url
        assert 'data-testid="error-message"' in r.text
    for url, data in [(f"/console/skus/{w.sku_ids[0]}/price", {"price": "1"}),
                      ("/console/fulfilment/ship", {"carrier": "顺丰速运"}),
                      ("/console/policy", {"return_window_days": "30"})]:
        assert (await fan.post(url, data)).status_code == 403, url
    for url in ["/console/shop/catalog", "/console/shop/orders"]:
        assert (await fan.get(url)).status_code == 403, url  # not a shopkeeper (yet)
    r = await fan.get("/console")
    assert r.status_code == 200 and 'data-testid="open-shop-cta"' in r.text
    assert 'data-testid="tab-products"' not in r.text and 'data-testid="tab-policy"' not in r.text
    await fan.close()


async def test_supplier_and_shopkeeper_may_not_edit_the_policy(app, db) -> None:  # noqa: ANN001
    await make_world(db)
    sup = await browser(app, db, "13700000001")
    keeper = await browser(app, db, "13700000002")
    for b in (sup, keeper):
        assert (await b.get("/console/policy")).status_code == 403
    assert (await keeper.get("/console/products")).status_code == 403
    await sup.close()
    await keeper.close()


@pytest.mark.parametrize("url", ["/console", "/console/shop", "/console/products", "/console/policy"])
async def test_anonymous_browser_is_sent_to_login(client, url: str) -> None:  # noqa: ANN001
    r = await client.get(url, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={url}"
