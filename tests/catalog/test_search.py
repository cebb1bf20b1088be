"""Search recall on a small realistic catalog (issue 8 item 9): character n-grams beside words, synonyms the
operator edits, exact word hits first, suggestions when nothing is found — the same answers on SQLite and
PostgreSQL, and through the n-gram index (the PostgreSQL query plan is checked)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from quanzi.accounts.models import Role
from quanzi.audit.models import AuditLog
from quanzi.catalog import search
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import SynonymTermTaken, TooFewSynonyms
from quanzi.catalog.models import Product
from quanzi.kit.db import Database
from tests.conftest import make_user

HTML = {"accept": "text/html", "accept-language": "zh-CN"}

# (title, subtitle, category, sales): forty products a fruit-and-groceries S2B2C shop really sells.
CATALOG: list[tuple[str, str, str, int]] = [
    ("赣南脐橙 5斤装", "果园直发 现摘现发", "水果", 900),
    ("奶油草莓 丹东99", "个大香甜", "水果", 800),
    ("红颜草莓 3盒装", "", "水果", 300),
    ("烟台红富士苹果", "脆甜多汁", "水果", 700),
    ("阿克苏冰糖心苹果", "", "水果", 650),
    ("新鲜橙子 10斤", "", "水果", 100),
    ("广西砂糖橘", "", "水果", 500),
    ("海南贵妃芒", "", "水果", 400),
    ("泰国金枕榴莲", "", "水果", 350),
    ("库尔勒香梨", "", "水果", 250),
    ("智利车厘子 JJ级", "", "水果", 600),
    ("山东水蜜桃", "", "水果", 220),
    ("麒麟西瓜", "", "水果", 210),
    ("广西百香果", "", "水果", 200),
    ("徐香猕猴桃", "", "水果", 190),
    ("黄心土豆 5斤", "", "蔬菜", 180),
    ("云南小土豆", "", "蔬菜", 170),
    ("有机西兰花", "", "蔬菜", 160),
    ("山东大葱", "", "蔬菜", 150),
    ("紫皮洋葱", "", "蔬菜", 140),
    ("沙瓤番茄", "", "蔬菜", 130),
    ("贝贝南瓜", "", "蔬菜", 120),
    ("鲜榨橙汁 1L", "", "饮料", 110),
    ("草莓味酸奶", "", "乳品", 105),
    ("特仑苏纯牛奶", "", "乳品", 95),
    ("椰子水", "", "饮料", 90),
    ("阳澄湖大闸蟹", "", "水产", 85),
    ("舟山带鱼", "", "水产", 80),
    ("厄瓜多尔白虾", "", "水产", 75),
    ("五常大米 10kg", "", "粮油", 70),
    ("东北小米", "", "粮油", 65),
    ("压榨花生油", "", "粮油", 60),
    ("每日坚果 30袋", "", "零食", 55),
    ("手撕牛肉干", "", "零食", 50),
    ("草莓干", "冻干", "零食", 45),
    ("Apple iPhone 15 Pro 苹果手机 256G", "", "数码", 40),
    ("华为 Mate 60 手机", "", "数码", 35),
    ("小米充电宝 20000mAh", "", "数码", 30),
    ("马铃薯淀粉 500g", "", "粮油", 25),
    ("脐橙果冻", "", "零食", 20),
]
CATEGORIES = {"水果": "Fruit", "蔬菜": "Vegetables", "饮料": "Drinks", "乳品": "Dairy", "水产": "Seafood",
              "粮油": "Grain & oil", "零食": "Snacks", "数码": "Electronics"}
SYNONYMS = ["橙子 橙 脐橙 orange", "土豆 马铃薯 potato", "草莓 strawberry"]


async def seed(db: Database, *, synonyms: bool = True) -> dict[str, int]:
    """The catalog above, published; returns title → product id."""
    uid, _ = await make_user(db, "13700000301", Role.SUPPLIER, nickname="供应商")
    ids: dict[str, int] = {}
    async with db.write() as s:
        sup = await catalog.ensure_supplier(s, uid, "鲜货供应链")
        cats = {zh: (await catalog.ensure_category(s, zh, en)).id for zh, en in CATEGORIES.items()}
        for i, (title, subtitle, cat, sales) in enumerate(CATALOG):
            p = await catalog.create_product(s, sup.id, title=title, subtitle=subtitle, category_id=cats[cat],
                                             publish=True, skus=[{"code": f"S-{i}", "label": "标准装",
                                                                  "price_fen": 1990, "cost_fen": 900, "stock": 9}])
            p.sales_count = sales
            ids[title] = p.id
        if synonyms:
            for terms in SYNONYMS:
                await search.save_synonym_group(s, terms, actor_id=uid)
    return ids


async def find(db: Database, q: str, **kw: Any) -> list[str]:
    async with db.read() as s:
        items, total = await catalog.search_products(s, q=q, limit=50, **kw)
    assert total == len(items)
    return [p.title for p in items]


# Query → the titles it must find, in this order (tiers: exact word, synonym word, characters only; best
# sellers first within a tier). `None` means: exactly nothing.
EXPECTED: dict[str, list[str] | None] = {
    # 橙子 is a word of one product; its synonyms 脐橙 (a word) and 橙 (a character) find the rest.
    "橙子": ["新鲜橙子 10斤", "赣南脐橙 5斤装", "脐橙果冻", "鲜榨橙汁 1L"],
    "脐橙": ["赣南脐橙 5斤装", "脐橙果冻", "新鲜橙子 10斤", "鲜榨橙汁 1L"],
    "草莓": ["奶油草莓 丹东99", "红颜草莓 3盒装", "草莓味酸奶", "草莓干"],
    "奶油草莓": ["奶油草莓 丹东99"],
    # 苹果 is ambiguous: fruit and phone are both found, best sellers first; 苹果手机 is only the phone.
    "苹果": ["烟台红富士苹果", "阿克苏冰糖心苹果", "Apple iPhone 15 Pro 苹果手机 256G"],
    "苹果手机": ["Apple iPhone 15 Pro 苹果手机 256G"],
    "iphone": ["Apple iPhone 15 Pro 苹果手机 256G"],
    "ＩＰＨＯＮＥ１５": ["Apple iPhone 15 Pro 苹果手机 256G"],  # full-width, letters and digits run together
    "iph": ["Apple iPhone 15 Pro 苹果手机 256G"],  # Latin words match as prefixes
    "strawberry": ["奶油草莓 丹东99", "红颜草莓 3盒装", "草莓味酸奶", "草莓干"],  # English, by synonym
    "土豆": ["黄心土豆 5斤", "云南小土豆", "马铃薯淀粉 500g"],
    "马铃薯": ["马铃薯淀粉 500g", "黄心土豆 5斤", "云南小土豆"],
    "桃": ["山东水蜜桃", "徐香猕猴桃"],  # one character finds it inside any word
    "梨": ["库尔勒香梨"],
    "华为手机": ["华为 Mate 60 手机"],
    "水产": ["阳澄湖大闸蟹", "舟山带鱼", "厄瓜多尔白虾"],  # the category's name
    "seafood": ["阳澄湖大闸蟹", "舟山带鱼", "厄瓜多尔白虾"],  # its English name
    "赣南  脐橙！": ["赣南脐橙 5斤装"],  # spaces and punctuation
    "草莓，酸奶": ["草莓味酸奶"],
    "草霉": None,  # a typo: nothing, but a suggestion (below)
    "榴莲千层": None,
    "！！？": None,  # nothing searchable
}


@pytest.mark.parametrize("synonyms", [True, False], ids=["with-synonyms", "without"])
async def test_queries_find_what_they_should(db: Database, synonyms: bool) -> None:
    await seed(db, synonyms=synonyms)
    misses = {}
    for q, want in EXPECTED.items():
        if not synonyms and q in ("橙子", "脐橙", "strawberry", "土豆", "马铃薯"):
            continue
        got = await find(db, q)
        if got != (want or []):
            misses[q] = got
    assert not misses, misses
    if not synonyms:
        # Without the operator's synonyms each word finds only itself (and what contains it).
        assert await find(db, "橙子") == ["新鲜橙子 10斤"]
        assert await find(db, "脐橙") == ["赣南脐橙 5斤装", "脐橙果冻"]
        assert await find(db, "strawberry") == []
        assert await find(db, "土豆") == ["黄心土豆 5斤", "云南小土豆"]


async def test_empty_long_and_paged_queries(db: Database) -> None:
    await seed(db)
    async with db.read() as s:
        items, total = await catalog.search_products(s, q="", limit=10)
        assert total == 40 and [p.title for p in items][:2] == ["赣南脐橙 5斤装", "奶油草莓 丹东99"]
        # 200 characters: cut, not refused; the words it starts with still count.
        items, total = await catalog.search_products(s, q="草莓" * 100, limit=50)
        assert total == 4
        items, total = await catalog.search_products(s, q="".join(chr(0x4E00 + i * 7) for i in range(200)))
        assert total == 0
        # Paging keeps the ranking.
        first, total = await catalog.search_products(s, q="橙子", offset=0, limit=2)
        second, _ = await catalog.search_products(s, q="橙子", offset=2, limit=2)
        assert total == 4 and [p.title for p in first + second] == EXPECTED["橙子"]
        # A category filter narrows a search.
        fruit = (await s.execute(text("SELECT id FROM categories WHERE name_zh = '零食'"))).scalar_one()
        items, _ = await catalog.search_products(s, q="草莓", category_id=fruit)
        assert [p.title for p in items] == ["草莓干"]


async def test_a_product_edit_is_found_at_once_and_drafts_are_not(db: Database) -> None:
    ids = await seed(db)
    async with db.write() as s:
        p = await s.get(Product, ids["麒麟西瓜"])
        await catalog.update_product(s, p, title="麒麟西瓜 8424")
        await catalog.set_status(s, await s.get(Product, ids["库尔勒香梨"]), "unpublished")
    assert await find(db, "8424") == ["麒麟西瓜 8424"]
    assert await find(db, "梨") == []


async def test_suggestions_when_nothing_is_found(db: Database) -> None:
    await seed(db)
    async with db.read() as s:
        typo = await search.suggest(s, "草霉")
        english = await search.suggest(s, "strawbery")
        nothing = await search.suggest(s, "！！")
    assert typo.terms[0] == "草莓"
    assert english.terms[0] == "strawberry"
    assert [c.name_zh for c in typo.categories][:3] == ["水果", "蔬菜", "饮料"]
    assert [p.title for p in nothing.popular][:3] == ["赣南脐橙 5斤装", "奶油草莓 丹东99", "烟台红富士苹果"]
    assert nothing.terms == []


async def test_the_search_page_speaks_plainly(client: httpx.AsyncClient, db: Database) -> None:
    ids = await seed(db)
    r = await client.get("/search", params={"q": "橙子"}, headers=HTML)
    assert r.status_code == 200
    order = [int(x) for x in __import__("re").findall(r'data-testid="result-(\d+)"', r.text)]
    assert order == [ids[t] for t in EXPECTED["橙子"]]
    assert 'data-testid="suggestions"' not in r.text

    r = await client.get("/search", params={"q": "草霉"}, headers=HTML)
    assert r.status_code == 200 and 'data-testid="no-results"' in r.text
    assert "没有找到“草霉”相关商品" in r.text and "你是不是要找" in r.text
    assert 'href="/search?q=%E8%8D%89%E8%8E%93"' in r.text  # 草莓
    assert 'data-testid="suggested-category"' in r.text and "热门商品" in r.text
    assert f'data-testid="result-{ids["赣南脐橙 5斤装"]}"' in r.text  # a popular product to go on with

    # A category link from the suggestions lists that category.
    cat = __import__("re").search(r'href="/search\?category=(\d+)"[^>]*>水产<', r.text)
    assert cat
    r = await client.get(f"/search?category={cat.group(1)}", headers=HTML)
    assert r.status_code == 200 and "水产（3）" in r.text and "大闸蟹" in r.text

    en = await client.get("/search", params={"q": "strawbery", "lang": "en"}, headers={"accept": "text/html"})
    assert "Did you mean" in en.text and ">strawberry<" in en.text and "Browse a category" in en.text

    # A pasted paragraph is not an error page.
    r = await client.get("/search", params={"q": "我想买" + "新鲜的水果" * 39}, headers=HTML)
    assert r.status_code == 200 and 'data-testid="search-input"' in r.text
    # The JSON API keeps its shape and its limit.
    r = await client.get("/api/catalog/products", params={"q": "草莓", "size": 2})
    assert r.status_code == 200 and set(r.json()) == {"items", "total", "page", "size"}
    assert r.json()["total"] == 4 and [p["title"] for p in r.json()["items"]] == EXPECTED["草莓"][:2]


async def test_operators_edit_synonyms_with_an_audit_trail(client: httpx.AsyncClient, db: Database) -> None:
    from tests.storefront.conftest import cookie_login

    await seed(db, synonyms=False)
    op_id, _ = await make_user(db, "13800000301", Role.OPERATOR, nickname="运营")
    browser = await cookie_login(client, db, op_id, "13800000301")
    page = await browser.get("/console/search/synonyms")
    assert page.status_code == 200 and 'data-testid="no-synonyms"' in page.text and "搜索同义词" in page.text
    assert await find(db, "橙子") == ["新鲜橙子 10斤"]

    r = await browser.post("/console/search/synonyms", {"terms": "橙子，橙 脐橙", "note": "常见叫法"})
    assert r.status_code == 303
    assert await find(db, "橙子") == EXPECTED["橙子"]  # the next search uses it
    page = await browser.get("/console/search/synonyms")
    assert "同义词已保存" in page.text and 'value="橙子 橙 脐橙"' in page.text
    group_id = int(__import__("re").search(r'data-group-id="(\d+)"', page.text).group(1))

    # A term already in a group, or a group of one, is refused plainly and nothing changes.
    r = await browser.post("/console/search/synonyms", {"terms": "脐橙 血橙"})
    assert r.status_code == 303
    assert "「脐橙」已在另一组同义词里" in (await browser.get("/console/search/synonyms")).text
    r = await browser.post(f"/console/search/synonyms/{group_id}", {"terms": "橙子"})
    assert "至少需要两个不同的词" in (await browser.get("/console/search/synonyms")).text
    assert await find(db, "橙子") == EXPECTED["橙子"]

    r = await browser.post(f"/console/search/synonyms/{group_id}", {"terms": "橙子 橙子 脐橙"})
    assert await find(db, "橙子") == ["新鲜橙子 10斤", "赣南脐橙 5斤装", "脐橙果冻"]  # 橙 taken out
    r = await browser.post(f"/console/search/synonyms/{group_id}/delete", {})
    assert r.status_code == 303 and await find(db, "橙子") == ["新鲜橙子 10斤"]
    assert (await browser.post("/console/search/synonyms/999999/delete", {})).status_code == 404

    async with db.read() as s:
        trail = [(a.action, a.actor_id, (a.changes or {}).get("terms")) for a in (await s.execute(
            select(AuditLog).where(AuditLog.entity == "search_synonyms").order_by(AuditLog.id))).scalars()]
    assert trail == [("create", op_id, [[], ["橙子", "橙", "脐橙"]]),
                     ("update", op_id, [["橙子", "橙", "脐橙"], ["橙子", "脐橙"]]),
                     ("delete", op_id, [["橙子", "脐橙"], None])]

    # Fans and suppliers do not reach the page.
    _, fan = await make_user(db, "13900000301")
    assert (await client.get("/console/search/synonyms", headers=fan)).status_code == 403


async def test_synonym_rules(db: Database) -> None:
    async with db.write() as s:
        with pytest.raises(TooFewSynonyms):
            await search.save_synonym_group(s, "橙子 , 橙子", actor_id=None)
        await search.save_synonym_group(s, "土豆 马铃薯", actor_id=None)
    async with db.write() as s:
        with pytest.raises(SynonymTermTaken):
            await search.save_synonym_group(s, "洋芋 ＭＡＬＩＮＧＳＨＵ 马铃薯", actor_id=None)
    async with db.read() as s:
        assert await search.synonyms_of(s, ["马铃薯", "洋芋"]) == {"马铃薯": ["土豆"]}


async def test_postgres_uses_the_ngram_index(db: Database) -> None:
    async with db.read() as s:
        if s.bind.dialect.name != "postgresql":
            pytest.skip("query plans are checked on PostgreSQL")
    await seed(db)
    async with db.write() as s:
        # A catalog big enough that a scan would cost: 20,000 other products, then fresh statistics.
        await s.execute(text(
            "INSERT INTO products (supplier_id, title, subtitle, description, non_returnable, non_returnable_reason, "
            "status, search_text, search_grams, sales_count, created_at, updated_at) "
            "SELECT (SELECT min(id) FROM suppliers), '商品' || g, '', '', false, '', 'published', 'x' || g, "
            "'杂 货 杂货 x' || g, 0, now(), now() FROM generate_series(1, 20000) g"))
    async with db.write() as s:
        await s.execute(text("ANALYZE products"))
    async with db.read() as s:
        match, rank = search.clauses("postgresql", await search.plan(s, "橙子"))
        stmt = (select(Product.id).where(Product.status == "published", match)
                .order_by(rank.desc(), Product.sales_count.desc(), Product.id).limit(20))
        sql = str(stmt.compile(s.bind, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in (await s.execute(text("EXPLAIN " + sql))).all())
        assert [p.title for p in (await catalog.search_products(s, q="橙子"))[0]] == EXPECTED["橙子"]
    assert "ix_products_search_grams" in plan, plan
    assert "Seq Scan on products" not in plan, plan
