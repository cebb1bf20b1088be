"""ECharts options (data only: the page's `data-echarts` attribute renders them through static/js/app.js)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quanzi.engagement.models import PollOption
from quanzi.engagement.service import HealthDay
from quanzi.kit.i18n import gettext as _

RED = "#e4393c"
BLUE = "#3b7ddd"
GREEN = "#1a7f37"
ORANGE = "#e89b0c"


def _grid(top: int = 36) -> dict[str, Any]:
    return {"left": 8, "right": 12, "top": top, "bottom": 8, "containLabel": True}


def poll(options: Sequence[PollOption]) -> dict[str, Any]:
    rows = list(reversed(options))  # ECharts draws the first category at the bottom
    return {
        "grid": _grid(8), "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "minInterval": 1, "axisLabel": {"color": "#777"},
                  "splitLine": {"lineStyle": {"color": "#eee"}}},
        "yAxis": {"type": "category", "data": [o.label[:10] for o in rows], "axisLabel": {"color": "#555"}},
        "series": [{"type": "bar", "name": _("Votes"), "data": [o.votes for o in rows], "itemStyle": {"color": RED},
                    "barMaxWidth": 18, "label": {"show": True, "position": "right"}}],
    }


def health(days: Sequence[HealthDay]) -> dict[str, Any]:
    """30 days: active members, posts and check-ins as lines, conversion (%) on a second axis."""
    labels = [d.day[5:] for d in days]

    def line(name: str, data: list[Any], color: str, axis: int = 0) -> dict[str, Any]:
        return {"type": "line", "name": name, "data": data, "symbolSize": 4, "yAxisIndex": axis,
                "itemStyle": {"color": color}, "lineStyle": {"color": color, "width": 2}}

    return {
        "grid": _grid(48), "tooltip": {"trigger": "axis"}, "legend": {"top": 0, "type": "scroll"},
        "xAxis": {"type": "category", "data": labels, "boundaryGap": False, "axisLabel": {"color": "#777"}},
        "yAxis": [{"type": "value", "minInterval": 1, "axisLabel": {"color": "#777"},
                   "splitLine": {"lineStyle": {"color": "#eee"}}},
                  {"type": "value", "name": "%", "min": 0, "axisLabel": {"color": "#777"},
                   "splitLine": {"show": False}}],
        "series": [line(_("Active members"), [d.active_members for d in days], RED),
                   line(_("Posts"), [d.posts for d in days], BLUE),
                   line(_("Check-ins"), [d.checkins for d in days], GREEN),
                   line(_("Visits → orders (%)"), [round(d.conversion_bp / 100, 1) for d in days], ORANGE, 1)],
    }
