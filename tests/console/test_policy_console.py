"""Operator policy page: per-field validation (the 7-day return floor), saved through the audited service."""

from __future__ import annotations

from sqlalchemy import select

from quanzi.audit.models import AuditLog
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy
from tests.console.helpers import browser

GOOD = {"shipping_flat_fen": "10", "free_shipping_threshold_fen": "88.80", "unpaid_timeout_minutes": "30",
        "auto_receive_days": "12", "return_window_days": "15"}


async def _policy(db) -> CommercePolicy:  # noqa: ANN001
    async with db.read() as s:
        return await policy.get(s, CommercePolicy)


async def test_operator_edits_policy_and_a_short_return_window_is_refused(app, db) -> None:  # noqa: ANN001
    op = await browser(app, db, "13700000007", "operator")
    r = await op.get("/console/policy")
    assert r.status_code == 200
    # The defaults, money in yuan.
    assert 'value="8.00"' in r.text and 'value="99.00"' in r.text and 'value="7"' in r.text

    r = await op.post("/console/policy", {**GOOD, "return_window_days": "5"})
    assert r.status_code == 422
    assert 'data-testid="error-return_window_days"' in r.text and "7 到 90" in r.text
    assert 'data-testid="error-shipping_flat_fen"' not in r.text
    assert 'value="5"' in r.text  # what was typed stays in the field
    r = await op.post("/console/policy", {**GOOD, "shipping_flat_fen": "8.005", "auto_receive_days": "abc",
                                          "return_window_days": "3"})
    assert r.status_code == 422
    for field in ("shipping_flat_fen", "auto_receive_days", "return_window_days"):  # every problem at once
        assert f'data-testid="error-{field}"' in r.text, field
    assert await _policy(db) == CommercePolicy()  # nothing saved
    async with db.read() as s:
        audits = (await s.execute(select(AuditLog).where(AuditLog.action == "policy.update"))).scalars()
        assert list(audits) == []

    r = await op.submit("/console/policy", GOOD)
    assert "规则已保存" in r.text
    saved = await _policy(db)
    assert (saved.shipping_flat_fen, saved.free_shipping_threshold_fen, saved.unpaid_timeout_minutes,
            saved.auto_receive_days, saved.return_window_days) == (1000, 8880, 30, 12, 15)
    async with db.read() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "policy.update"))).scalar_one()
    assert audit.actor_id == op.user_id and audit.changes["return_window_days"] == [7, 15]
    await op.close()
