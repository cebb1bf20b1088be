"""What the "我的" (me) page gathers for a fan: orders by state, after-sales, their group buys, bargains and
flash-sale grabs and waitlists, the distributor wallet, addresses and the privacy switch. Read only, through
each domain's service functions: this module owns no table and no rule of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.aftersales import service as aftersales
from quanzi.aftersales.models import OPEN_STATES
from quanzi.bargain import service as bargain
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.community import service as community
from quanzi.distribution import service as distribution
from quanzi.flashsale import service as flashsale
from quanzi.groupbuy import service as groupbuy
from quanzi.ledger import service as ledger
from quanzi.orders import service as orders
from quanzi.reviews import service as reviews

# The order tabs of the 我的 page: (key, order statuses, where it links). The after-sale tab is the after-sale
# list; "to review" is the reviews domain's list of received lines not yet reviewed (counted by it).
ORDER_TABS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("unpaid", ("pending_payment",), "/orders?tab=unpaid"),
    ("to_ship", ("paid",), "/orders?tab=to_ship"),
    ("shipped", ("shipped",), "/orders?tab=shipped"),
    ("to_review", (), "/reviews/pending"),
)
RECENT = 5


@dataclass
class Summary:
    order_counts: dict[str, int]
    aftersales_open: int
    groups: list[dict[str, Any]] = field(default_factory=list)
    circles: list[Any] = field(default_factory=list)  # (community, member) of the person's active memberships
    bargains: list[dict[str, Any]] = field(default_factory=list)
    grabs: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    wallet: dict[str, int] | None = None  # a distributor's balances (fen), else None
    distributor_status: str | None = None
    addresses: int = 0
    default_address: Any = None
    show_phone_to_shops: bool = True


async def summary(s: AsyncSession, user_id: int) -> Summary:
    by_status = await orders.counts_by_status(s, user_id)
    counts = {key: sum(by_status.get(st, 0) for st in statuses) for key, statuses, _url in ORDER_TABS}
    counts["all"] = sum(by_status.values())
    counts["to_review"] = await reviews.count_to_review(s, user_id)
    after = await aftersales.list_for_buyer(s, user_id)
    out = Summary(order_counts=counts, aftersales_open=sum(1 for a in after if a.status in OPEN_STATES))

    groups = await groupbuy.groups_of_user(s, user_id, limit=RECENT)
    bargains = await bargain.launched_by(s, user_id, limit=RECENT)
    grabs = await flashsale.reservations_of(s, user_id, limit=RECENT)
    waits = await flashsale.waitlist_of(s, user_id, limit=RECENT)
    acts = {g.activity_id: await groupbuy.get_activity(s, g.activity_id) for g, _m in groups}
    products = await catalog.products_by_id(s, {a.product_id for a in acts.values()}
                                            | {a.product_id for _r, a in grabs} | {w.product_id for w in waits})
    title = {pid: p.title for pid, p in products.items()}
    out.groups = [{"group": g, "member": m, "title": acts[g.activity_id].title} for g, m in groups]
    out.bargains = [{"bargain": b, "activity": a} for b, a in bargains]
    out.grabs = [{"reservation": r, "activity": a, "title": title.get(a.product_id, a.title)} for r, a in grabs]
    out.waiting = [{"product_id": w.product_id, "title": title.get(w.product_id, "")} for w in waits]

    d = await distribution.get_distributor(s, user_id)
    if d is not None and d.status not in ("pending", "rejected"):  # an applicant has no wallet yet
        out.distributor_status = d.status
        out.wallet = await ledger.balances(s, user_id)
    addrs = await cart.addresses(s, user_id)
    out.addresses = len(addrs)
    out.default_address = addrs[0] if addrs else None
    out.show_phone_to_shops = await accounts.shows_phone_to_shops(s, user_id)
    out.circles = await community.my_communities(s, user_id)
    return out
