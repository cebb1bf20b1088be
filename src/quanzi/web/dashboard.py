"""The operator dashboard's numbers: GMV, paid orders, new people and top products per China-time day over a
chosen range, each one aggregate query (GROUP BY the China calendar day) that runs the same on SQLite and
PostgreSQL.

A read model for the console only: it reads the orders and users tables directly (no service offers these
sums) and never writes. Definitions, also shown on the page:
* GMV of a day = what buyers paid for the orders paid that day, less what was refunded on those orders so
  far (Order.total_fen - Order.refunded_fen), so a later refund lowers the day the order was paid.
* Paid orders = orders paid that day (one checkout with several suppliers is several orders).
* New people = accounts created that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.models import User
from quanzi.kit.console import CHINA
from quanzi.kit.days import china_day
from quanzi.kit.i18n import _
from quanzi.orders.models import Order, OrderLine

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_PRODUCTS = 10
TOP_OVER_TIME = 5  # the best sellers drawn day by day
RED = "#e4393c"


@dataclass(frozen=True)
class Range:
    """Whole China-time days, first..last inclusive; `preset` is 7/30/90, or 0 for a custom range."""

    first: date
    last: date
    preset: int = 0

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tzinfo=CHINA)

    @property
    def end_utc(self) -> datetime:  # exclusive: China midnight after the last day
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)


def parse_range(today: date, preset: str | None, first: str | None, last: str | None
                ) -> tuple[Range, dict[str, str]]:
    """The range the picker asked for, or the last 30 days with the reason the custom range was refused."""
    errors: dict[str, str] = {}
    if first or last:
        try:
            a = date.fromisoformat((first or "").strip())
            b = date.fromisoformat((last or "").strip())
        except ValueError:
            errors["range"] = _("Enter both dates as YYYY-MM-DD")
        else:
            if a > b:
                errors["range"] = _("The first day must not be after the last day")
            elif (b - a).days + 1 > MAX_DAYS:
                errors["range"] = _("At most %(n)s days at once") % {"n": MAX_DAYS}
            elif a > today:
                errors["range"] = _("The range starts in the future")
            else:
                return Range(a, min(b, today)), errors
    n = int(preset) if preset and preset.isdigit() and int(preset) in PRESETS else DEFAULT_DAYS
    return Range(today - timedelta(days=n - 1), today, n), errors


@dataclass
class Numbers:
    days: list[str]
    gmv: list[int]          # fen per day
    orders: list[int]
    refunded: list[int]     # fen per day (refunded so far on that day's orders)
    people: list[int]
    top: list[dict[str, Any]] = field(default_factory=list)
    top_daily: dict[int, list[int]] = field(default_factory=dict)  # product id -> net fen per day

    @property
    def total_gmv(self) -> int:
        return sum(self.gmv)

    @property
    def total_orders(self) -> int:
        return sum(self.orders)

    @property
    def total_refunded(self) -> int:
        return sum(self.refunded)

    @property
    def total_people(self) -> int:
        return sum(self.people)

    @property
    def average_fen(self) -> int:
        return self.total_gmv // self.total_orders if self.total_orders else 0

    @property
    def empty(self) -> bool:
        return not self.total_orders and not self.total_people


def _dialect(s: AsyncSession) -> str:
    return s.bind.dialect.name if s.bind is not None else "sqlite"


async def numbers(s: AsyncSession, r: Range) -> Numbers:
    """Three aggregate queries for the whole range (orders per day, people per day, top products)."""
    dialect = _dialect(s)
    paid_day = china_day(Order.paid_at, dialect)
    in_range = (Order.paid_at.is_not(None), Order.paid_at >= r.start_utc, Order.paid_at < r.end_utc)
    per_day = (await s.execute(
        select(paid_day, func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0),
               func.coalesce(func.sum(Order.refunded_fen), 0))
        .where(*in_range).group_by(paid_day)
    )).all()
    orders = {str(d)[:10]: (int(n), int(paid), int(refunded)) for d, n, paid, refunded in per_day}

    joined_day = china_day(User.created_at, dialect)
    people = {str(d)[:10]: int(n) for d, n in (await s.execute(
        select(joined_day, func.count(User.id))
        .where(User.created_at >= r.start_utc, User.created_at < r.end_utc).group_by(joined_day)
    )).all()}

    net = func.sum(OrderLine.paid_fen - OrderLine.refunded_fen)
    top = (await s.execute(
        select(OrderLine.product_id, func.max(OrderLine.title), func.sum(OrderLine.quantity - OrderLine.refunded_qty),
               net, func.count(func.distinct(Order.id)))
        .join(Order, Order.id == OrderLine.order_id).where(*in_range)
        .group_by(OrderLine.product_id).order_by(net.desc(), OrderLine.product_id).limit(TOP_PRODUCTS)
    )).all()

    keys = [d.isoformat() for d in r.days]
    leaders = [int(row[0]) for row in top[:TOP_OVER_TIME]]
    daily: dict[int, dict[str, int]] = {pid: {} for pid in leaders}
    if leaders:
        for d, pid, fen in (await s.execute(
            select(paid_day, OrderLine.product_id, net)
            .join(Order, Order.id == OrderLine.order_id).where(*in_range, OrderLine.product_id.in_(leaders))
            .group_by(paid_day, OrderLine.product_id)
        )).all():
            daily[int(pid)][str(d)[:10]] = int(fen)
    return Numbers(
        days=keys,
        gmv=[orders.get(k, (0, 0, 0))[1] - orders.get(k, (0, 0, 0))[2] for k in keys],
        orders=[orders.get(k, (0, 0, 0))[0] for k in keys],
        refunded=[orders.get(k, (0, 0, 0))[2] for k in keys],
        people=[people.get(k, 0) for k in keys],
        top=[{"product_id": int(pid), "title": title, "quantity": int(qty), "net_fen": int(fen), "orders": int(n)}
             for pid, title, qty, fen, n in top],
        top_daily={pid: [daily[pid].get(k, 0) for k in keys] for pid in leaders},
    )


# --- ECharts options (drawn by static/js/app.js from data-echarts) ------------------------------------------

def _axis(days: list[str]) -> dict[str, Any]:
    labels = [d[5:] for d in days] if len({d[:4] for d in days}) == 1 else days
    return {"type": "category", "data": labels, "boundaryGap": False, "axisLabel": {"color": "#777"}}


def _grid() -> dict[str, Any]:
    return {"left": 8, "right": 12, "top": 32, "bottom": 8, "containLabel": True}


def gmv_chart(n: Numbers) -> dict[str, Any]:
    return {
        "grid": _grid(), "tooltip": {"trigger": "axis"}, "xAxis": _axis(n.days),
        "yAxis": {"type": "value", "name": "¥", "axisLabel": {"color": "#777"},
                  "splitLine": {"lineStyle": {"color": "#eee"}}},
        "series": [{"type": "line", "name": _("GMV (yuan)"), "symbolSize": 5, "data": [g / 100 for g in n.gmv],
                    "lineStyle": {"color": RED, "width": 2}, "itemStyle": {"color": RED},
                    "areaStyle": {"color": "rgba(228,57,60,0.08)"}}],
    }


def counts_chart(n: Numbers) -> dict[str, Any]:
    return {
        "grid": _grid(), "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
        "xAxis": {**_axis(n.days), "boundaryGap": True},
        "yAxis": {"type": "value", "minInterval": 1, "axisLabel": {"color": "#777"},
                  "splitLine": {"lineStyle": {"color": "#eee"}}},
        "series": [{"type": "bar", "name": _("Paid orders"), "data": n.orders, "itemStyle": {"color": RED}},
                   {"type": "line", "name": _("New people"), "data": n.people, "symbolSize": 5,
                    "itemStyle": {"color": "#3b7ddd"}, "lineStyle": {"color": "#3b7ddd"}}],
    }


def top_trend_chart(n: Numbers) -> dict[str, Any]:
    """The best sellers' GMV day by day, one line each."""
    titles = {t["product_id"]: t["title"] for t in n.top}
    return {
        "grid": {**_grid(), "top": 40}, "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "type": "scroll"}, "xAxis": _axis(n.days),
        "yAxis": {"type": "value", "axisLabel": {"color": "#777", "formatter": "¥{value}"},
                  "splitLine": {"lineStyle": {"color": "#eee"}}},
        "series": [{"type": "line", "name": titles[pid][:12], "symbolSize": 4, "data": [f / 100 for f in fen]}
                   for pid, fen in n.top_daily.items()],
    }


def top_chart(n: Numbers) -> dict[str, Any]:
    rows = list(reversed(n.top))  # ECharts draws the first category at the bottom
    return {
        "grid": {**_grid(), "top": 8}, "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "name": "¥", "axisLabel": {"color": "#777"},
                  "splitLine": {"lineStyle": {"color": "#eee"}}},
        "yAxis": {"type": "category", "data": [t["title"][:12] for t in rows], "axisLabel": {"color": "#555"}},
        "series": [{"type": "bar", "name": _("GMV (yuan)"), "data": [t["net_fen"] / 100 for t in rows],
                    "itemStyle": {"color": RED}, "barMaxWidth": 18}],
    }
