"""Site-wide pages and endpoints: role-aware home, language switch, health, metrics, dev clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from sqlalchemy import text

from quanzi.accounts.deps import OptionalUser
from quanzi.catalog import service as catalog
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.deps import DB, AppSettings
from quanzi.kit.errors import NotFound
from quanzi.kit.schemas import In, Out
from quanzi.kit.web import render

router = APIRouter()

ROLE_NAMES = {
    "zh": {"operator": "运营", "supplier": "供应商", "shopkeeper": "店主", "fan": "粉丝"},
    "en": {"operator": "Operator", "supplier": "Supplier", "shopkeeper": "Shopkeeper", "fan": "Fan"},
}

# Domains add entries here as they land: (role, key, href, zh title, en title, zh hint, en hint).
CONSOLE_LINKS: list[tuple[str, str, str, str, str, str, str]] = [
    ("operator", "admin", "/admin/", "后台管理", "Back office", "用户、角色与审计日志", "Users, roles and audit log"),
    # Console pages (shops/, catalog/, orders/, aftersales/, policy/ console.py).
    ("shopkeeper", "dashboard", "/console", "经营概览", "Overview", "今日订单与近 14 天成交", "Today's orders, 14-day sales"),
    ("shopkeeper", "shop", "/console/shop", "我的小店", "My shop", "店铺信息与货架", "Shop details and shelf"),
    ("shopkeeper", "shop-catalog", "/console/shop/catalog", "选品上架", "Add products", "从平台货源挑选商品",
     "Pick from the supply catalog"),
    ("shopkeeper", "shop-orders", "/console/shop/orders", "小店订单", "Shop orders", "经由本店成交的订单",
     "Orders through your shop"),
    ("supplier", "products", "/console/products", "商品管理", "Products", "规格、价格与库存", "SKUs, prices and stock"),
    ("supplier", "fulfilment", "/console/fulfilment", "订单发货", "Fulfilment", "待发货订单与批量发货",
     "Ship paid orders, in bulk too"),
    ("supplier", "aftersales", "/console/aftersales", "售后处理", "After-sales", "退款与退货申请", "Refunds and returns"),
    ("operator", "policy", "/console/policy", "交易规则", "Policy", "运费、超时与退货期限",
     "Shipping, timeouts, return window"),
    ("operator", "supply", "/console", "平台概览", "Platform overview", "成交额、订单、新用户、热销商品与待发货",
     "GMV, orders, new people, best sellers, orders to ship"),
    # Distribution (distribution/console.py, withdrawals/console.py).
    ("shopkeeper", "earnings", "/console/earnings", "分销收益", "Earnings", "佣金、粉丝、排行与提现",
     "Commission, fans, rankings, withdrawals"),
    ("shopkeeper", "posters", "/console/posters", "推广海报", "Share posters", "小店与商品的分享海报和链接",
     "Posters and links for your shop and products"),
    ("operator", "distribution", "/console/distribution", "分销管理", "Distribution", "分销员审核、分销规则与等级",
     "Distributors, policy and levels"),
    ("operator", "withdrawals", "/console/withdrawals", "提现审核", "Withdrawal audit", "审核佣金提现，查看打款状态",
     "Review withdrawals, follow payouts"),
    # Campaigns (web/console.py: the overview; flashsale/, bargain/, groupbuy/ console.py).
    ("operator", "campaigns", "/console/campaigns", "营销活动", "Campaigns", "秒杀、砍价与拼团数据一览",
     "Flash sales, bargains and group buys at a glance"),
    ("operator", "flashsale", "/console/flashsale", "秒杀配置", "Flash sales", "场次、秒杀价与限量",
     "Slots, flash prices and quotas"),
    ("operator", "bargain", "/console/bargain", "砍价配置", "Bargains", "砍价规则与功能开关",
     "Bargain terms and the feature switch"),
    ("operator", "groupbuy", "/console/groupbuy", "拼团配置", "Group buys", "成团人数、团价与退款",
     "Group size, group prices and refunds"),
]
STOREFRONT_LINKS: list[tuple[str, str, str, str, str, str]] = [
    ("/search", "逛好物", "Browse goods", "平台上所有在售商品", "Everything on sale", "search"),
    ("/cart", "购物车", "Cart", "按小店分组，一起结算", "Grouped by shop, one checkout", "cart"),
    ("/orders", "我的订单", "My orders", "付款、物流与确认收货", "Pay, track, confirm receipt", "orders"),
    ("/aftersales", "退款/售后", "After-sales", "7天无理由退货与退款进度", "7-day returns and refunds", "aftersales"),
    ("/flashsale", "限时秒杀", "Flash sales", "今日各场次限量特价", "Today's limited deals, slot by slot", "flashsale"),
    ("/bargain", "好友砍价", "Bargains", "邀请好友帮砍，砍到底价再买", "Friends cut the price down to the floor",
     "bargain"),
    ("/groupbuy", "拼团", "Group buys", "约上朋友一起买，成团更便宜", "Buy together with friends for less",
     "groupbuy"),
]
# What a visitor may open before logging in (the rest asks for a login first).
PUBLIC_LINKS = {"search", "flashsale", "bargain", "groupbuy"}
FEATURED = 6  # products shown to a visitor on the home page


def _links(roles: frozenset[str]) -> list[dict[str, str]]:
    zh = i18n.short() == "zh"
    return [
        {"key": key, "href": href, "title": tzh if zh else ten, "hint": hzh if zh else hen}
        for role, key, href, tzh, ten, hzh, hen in CONSOLE_LINKS if role in roles
    ]


@router.get("/", include_in_schema=False)
async def home(request: Request, db: DB, me: OptionalUser) -> Response:
    """A visitor sees what is on sale and the public campaign pages; a member also their cart, orders and
    (by role) the console."""
    roles = sorted(me.roles) if me else []
    zh = i18n.short() == "zh"
    storefront = [
        {"href": href, "title": tzh if zh else ten, "hint": hzh if zh else hen, "key": key}
        for href, tzh, ten, hzh, hen, key in STOREFRONT_LINKS if me or key in PUBLIC_LINKS
    ]
    featured, prices = [], {}
    if me is None:
        async with db.read() as s:
            featured, _total = await catalog.search_products(s, limit=FEATURED)
            prices = await catalog.min_prices(s, [p.id for p in featured])
    return render(request, "web/home.html", {
        "roles": roles, "role_names": ROLE_NAMES[i18n.short()],
        "console_links": _links(me.roles) if me else [], "storefront_links": storefront,
        "featured": featured, "prices": prices, "tab": "home",
    })


@router.get("/lang/{code}", include_in_schema=False)
async def switch_language(code: str, next: str = "/") -> Response:  # noqa: A002
    lang = i18n.normalize(code) or i18n.DEFAULT
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax", path="/")
    return resp


class HealthOut(Out):
    status: str
    database: str
    time: datetime


@router.get("/healthz", tags=["ops"])
async def healthz(db: DB) -> HealthOut:
    async with db.read() as s:
        await s.execute(text("SELECT 1"))
    return HealthOut(status="ok", database=db.dialect, time=clock.now())


class PingOut(Out):
    ok: bool


@router.get("/api/ping", tags=["ops"])
async def ping() -> PingOut:
    """No database, no auth: the ceiling that benchmarks compare real endpoints against."""
    return PingOut(ok=True)


@router.get("/metrics", tags=["ops"], include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class ClockIn(In):
    advance_seconds: Annotated[int, Field(strict=True, ge=-10**9, le=10**9)] = 0
    reset: bool = False


class ClockOut(Out):
    now: datetime


@router.post("/api/dev/clock", tags=["dev"], include_in_schema=False)
async def move_clock(body: ClockIn, settings: AppSettings) -> ClockOut:
    """Tests and demos only (QUANZI_DEV_CLOCK_API=1): move this process's clock."""
    if not settings.dev_clock_api:
        raise NotFound()
    from datetime import timedelta

    if body.reset:
        clock.reset()
    clock.advance(timedelta(seconds=body.advance_seconds))
    return ClockOut(now=clock.now())
