"""Referrer binding (DOMAIN_RULES §1): only through a signed, expiring share token; first-touch, time-bound and
override modes with a protection period; "new users only" proven by the account-creation transaction; no
self-binding and no cycle of any length; only active distributors bind; every attempt leaves an event with the
token's digest; orders keep the attribution they were created with."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from quanzi.accounts.models import User
from quanzi.accounts.service import normalize_phone
from quanzi.distribution import service as distribution
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.orders import service as orders
from quanzi.orders.models import Order
from quanzi.referrals import service as referrals
from quanzi.kit import sharetokens as tokens
from quanzi.kit.sharetokens import BadShareToken, ExpiredShareToken
from quanzi.referrals.models import Binding, BindingEvent, ShareVisit
from tests.commerce._support import count, rows
from tests.conftest import make_user
from tests.factories import (
    SHARE_SECRET,
    bind_via_token,
    buy,
    new_buyer,
    new_product,
    new_shopkeeper,
    new_user,
    pay_order,
    set_distribution,
    share_token,
)

DAY = timedelta(days=1)


def tamper(token: str, part: int) -> str:
    """Change one character of one dot-separated part (1 sharer, 3 target, 5 signature)."""
    parts = token.split(".")
    value = parts[part]
    last = value[-1]
    swap = {"9": "8"}.get(last, "9") if last.isdigit() else ("B" if last != "B" else "C")
    parts[part] = value[:-1] + swap
    return ".".join(parts)


async def binding(db: Database, fan_id: int) -> Binding | None:
    async with db.read() as s:
        return await referrals.binding_of(s, fan_id)


async def sharer_of(db: Database, fan_id: int) -> int | None:
    b = await binding(db, fan_id)
    return b.sharer_id if b else None


# --- the token ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("part", [1, 3, 5], ids=["sharer", "target", "signature"])
def test_one_changed_character_makes_the_token_invalid(part: int) -> None:
    good = tokens.issue(SHARE_SECRET, 1234, "p", 5678, clock.now())
    assert tokens.verify(SHARE_SECRET, good, clock.now(), 30).sharer_id == 1234
    bad = tamper(good, part)
    assert bad != good
    with pytest.raises(BadShareToken):
        tokens.verify(SHARE_SECRET, bad, clock.now(), 30)


@pytest.mark.parametrize("bad", [
    "", "v1", "1234", "v1.1.p.1.abc", "v2.1.p.1.abc.xxxxxxxxxxxxxxxxxxxxxx", "v1.1.p.1.abc." + "A" * 22,
])
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(BadShareToken):
        tokens.verify(SHARE_SECRET, bad, clock.now(), 30)


def test_truncated_signature_or_other_secret_is_refused() -> None:
    good = tokens.issue(SHARE_SECRET, 7, "s", 9, clock.now())
    with pytest.raises(BadShareToken):
        tokens.verify(SHARE_SECRET, good[:-1], clock.now(), 30)  # 21 characters of signature
    with pytest.raises(BadShareToken):
        tokens.verify("another-secret", good, clock.now(), 30)
    raw_id = "v1.7.s.9." + good.split(".")[4]  # a raw user id without a signature never binds
    with pytest.raises(BadShareToken):
        tokens.verify(SHARE_SECRET, raw_id, clock.now(), 30)


def test_token_expires_after_share_token_days() -> None:
    issued = clock.now()
    token = tokens.issue(SHARE_SECRET, 7, "s", 9, issued)
    assert tokens.verify(SHARE_SECRET, token, issued + timedelta(days=30) - timedelta(seconds=1), 30)
    with pytest.raises(ExpiredShareToken):
        tokens.verify(SHARE_SECRET, token, issued + timedelta(days=30, seconds=1), 30)
    with pytest.raises(ExpiredShareToken):
        tokens.verify(SHARE_SECRET, token, issued + timedelta(days=8), 7)  # share_token_days is the knob


# --- over HTTP ------------------------------------------------------------------------------------------

async def test_share_link_lands_in_the_sharers_shop_records_the_visit_and_binds(client: httpx.AsyncClient,  # noqa: ANN001
                                                                                 db) -> None:
    keeper, shop_id = await new_shopkeeper(db)
    product = await new_product(db)
    token = share_token(keeper, "p", product.product_id)
    r = await client.get(f"/r/{token}", follow_redirects=False)  # an anonymous visitor
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/s/{shop_id}/p/{product.product_id}"
    assert r.cookies.get("qz_share") == token  # remembered until the visitor logs in
    (visit,) = await rows(db, ShareVisit)
    assert (visit.sharer_id, visit.kind, visit.target_id, visit.visitor_id) == (keeper, "p", product.product_id, None)
    assert visit.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert await count(db, Binding) == 0

    fan, headers = await make_user(db, "13900000123")  # a logged-in visitor is bound at once
    token = share_token(keeper, "s", shop_id)
    r = await client.get(f"/r/{token}", headers=headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/s/{shop_id}"
    b = await binding(db, fan)
    assert b is not None and b.sharer_id == keeper
    assert b.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert [v.visitor_id for v in await rows(db, ShareVisit, order_by=ShareVisit.id)] == [None, fan]


async def test_tampered_or_expired_share_link_credits_nobody_and_records_nothing(client: httpx.AsyncClient,  # noqa: ANN001
                                                                                  db) -> None:
    """A link whose sharer or signature was altered, or that expired, still opens the shop it names — plainly
    marked, crediting nobody; one whose target cannot be trusted to exist is a clear 4xx with ways on."""
    keeper, shop_id = await new_shopkeeper(db)
    await new_shopkeeper(db)  # a tampered sharer id may well name another real distributor
    fan, headers = await make_user(db, "13900000124")
    good = share_token(keeper, "s", shop_id)
    for part in (1, 5):  # sharer, signature: the target is still readable
        for who in (headers, {}):  # logged in or not
            r = await client.get(f"/r/{tamper(good, part)}", headers=who, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == f"/s/{shop_id}?link=partial", (part, r.text)
            assert not r.cookies.get("qz_share")  # nothing remembered for a later login either
    r = await client.get(f"/r/{tamper(good, 3)}", headers=headers, follow_redirects=False)  # no such shop
    assert r.status_code == 400 and 'data-testid="bad-share-link"' in r.text and "share.bad_token" in r.text
    clock.advance(timedelta(days=31))
    r = await client.get(f"/r/{good}", headers=headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/s/{shop_id}?link=partial"
    assert (await count(db, ShareVisit), await count(db, Binding), await count(db, BindingEvent)) == (0, 0, 0)


# --- modes ----------------------------------------------------------------------------------------------

async def test_first_touch_keeps_the_first_sharer(db) -> None:  # noqa: ANN001
    await set_distribution(db, binding_mode="first_touch")
    a, _ = await new_shopkeeper(db)
    b, _ = await new_shopkeeper(db)
    fan = await new_user(db)
    assert await bind_via_token(db, fan, a) == "bound"
    assert await bind_via_token(db, fan, b) == "refused:already_bound"
    clock.advance(timedelta(days=400))
    assert await bind_via_token(db, fan, b) == "refused:already_bound"
    assert await sharer_of(db, fan) == a
    assert (await binding(db, fan)).expires_at is None  # type: ignore[union-attr]


async def test_time_bound_rebinds_only_after_validity_and_never_during_protection(db) -> None:  # noqa: ANN001
    await set_distribution(db, binding_mode="time_bound", validity_days=10, protection_days=3)
    a, _ = await new_shopkeeper(db)
    b, _ = await new_shopkeeper(db)
    fan, refreshed = await new_user(db), await new_user(db)
    assert await bind_via_token(db, fan, a) == "bound"
    assert await bind_via_token(db, refreshed, a) == "bound"
    clock.advance(DAY)
    assert await bind_via_token(db, fan, b) == "refused:protected"
    clock.advance(4 * DAY)  # day 5: out of protection, still valid
    assert await bind_via_token(db, fan, b) == "refused:already_bound"
    assert await bind_via_token(db, refreshed, a) == "refreshed"  # the same sharer again: valid for 10 more days
    clock.advance(5 * DAY + timedelta(seconds=1))  # day 10: the first binding expired
    async with db.read() as s:
        assert await referrals.active_sharer(s, fan) is None
        assert await referrals.active_sharer(s, refreshed) == a
    assert await bind_via_token(db, fan, b) == "rebound"
    assert await bind_via_token(db, refreshed, b) == "refused:already_bound"
    assert (await sharer_of(db, fan), await sharer_of(db, refreshed)) == (b, a)

    # Protection longer than validity: an expired binding still cannot be taken until protection ends.
    await set_distribution(db, validity_days=5, protection_days=8)
    late = await new_user(db)
    assert await bind_via_token(db, late, a) == "bound"
    clock.advance(6 * DAY)
    assert await bind_via_token(db, late, b) == "refused:protected"
    clock.advance(3 * DAY)
    assert await bind_via_token(db, late, b) == "rebound"


async def test_override_last_touch_wins_after_protection(db) -> None:  # noqa: ANN001
    await set_distribution(db, binding_mode="override", protection_days=7)
    a, _ = await new_shopkeeper(db)
    b, _ = await new_shopkeeper(db)
    c, _ = await new_shopkeeper(db)
    fan = await new_user(db)
    assert await bind_via_token(db, fan, a) == "bound"
    clock.advance(3 * DAY)
    assert await bind_via_token(db, fan, b) == "refused:protected"
    clock.advance(5 * DAY)
    assert await bind_via_token(db, fan, b) == "rebound"
    clock.advance(DAY)
    assert await bind_via_token(db, fan, c) == "refused:protected"  # the new binding is protected in turn
    clock.advance(7 * DAY)
    assert await bind_via_token(db, fan, c) == "rebound"
    assert await sharer_of(db, fan) == c
    assert (await binding(db, fan)).expires_at is None  # type: ignore[union-attr]


# --- who may bind ---------------------------------------------------------------------------------------

async def test_scope_new_users_binds_only_in_the_account_creation_transaction(client: httpx.AsyncClient, app,  # noqa: ANN001
                                                                              db) -> None:
    await set_distribution(db, binding_scope="new_users")
    clock.freeze()
    keeper, shop_id = await new_shopkeeper(db)
    existing, _ = await make_user(db, "13900000200")
    token = share_token(keeper, "s", shop_id)

    await _login(client, app, "13900000200", token)
    assert await binding(db, existing) is None
    (event,) = await rows(db, BindingEvent, BindingEvent.fan_id == existing)
    assert event.outcome == "refused:not_new_user"

    new_id = await _login(client, app, "13900000201", token)
    b = await binding(db, new_id)
    assert b is not None and b.sharer_id == keeper
    async with db.read() as s:
        user = await s.get(User, new_id)
        assert user is not None and b.bound_at == user.created_at
    # The same rule in the service: only the account-creation transaction may say "new user".
    fan = await new_user(db)
    assert await bind_via_token(db, fan, keeper, is_new_user=False) == "refused:not_new_user"
    assert await bind_via_token(db, fan, keeper, is_new_user=True) == "bound"


async def test_account_creation_and_binding_are_one_transaction(client: httpx.AsyncClient, app, db,  # noqa: ANN001
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    keeper, shop_id = await new_shopkeeper(db)
    token = share_token(keeper, "s", shop_id)

    async def broken_bind(*_a: object, **_k: object) -> str:
        raise RuntimeError("binding failed")

    monkeypatch.setattr(referrals, "bind", broken_bind)
    r = await _login(client, app, "13900000202", token, expect=500)
    assert r.json()["error"]["code"] == "internal_error"
    async with db.read() as s:  # the binding failed, so the account was not created either
        assert (await s.execute(select(User).where(User.phone == normalize_phone("13900000202")))).first() is None


async def _login(client: httpx.AsyncClient, app, phone: str, share: str, expect: int = 200) -> Any:  # noqa: ANN001
    """Log in (or sign up) with a one-time code, arriving through `share`. Returns the new user id."""
    r = await client.post("/api/auth/code", json={"phone": phone})
    assert r.status_code == 202, r.text
    code = app.state.sms.last_code(normalize_phone(phone))
    r = await client.post("/api/auth/login/code", json={"phone": phone, "code": code, "share_token": share})
    assert r.status_code == expect, r.text
    return r.json()["user"]["id"] if expect == 200 else r


async def test_self_binding_and_cycles_of_length_2_3_and_5_are_refused(db) -> None:  # noqa: ANN001
    await set_distribution(db, binding_mode="override", protection_days=0)
    a, _ = await new_shopkeeper(db)
    assert await bind_via_token(db, a, a) == "refused:self"
    assert await binding(db, a) is None
    for length in (2, 3, 5):
        chain = [(await new_shopkeeper(db))[0] for _ in range(length)]
        for fan, sharer in zip(chain[1:], chain[:-1], strict=True):  # chain[i+1] is bound to chain[i]
            assert await bind_via_token(db, fan, sharer) == "bound"
        # Closing the loop: the top of the chain would be bound to its own bottom.
        assert await bind_via_token(db, chain[0], chain[-1]) == "refused:cycle", length
        assert await binding(db, chain[0]) is None
        if length > 2:  # and a rebinding inside the chain that would close a shorter loop
            assert await bind_via_token(db, chain[1], chain[-1]) == "refused:cycle"
            assert await sharer_of(db, chain[1]) == chain[0]


async def test_only_active_distributors_can_bind(db) -> None:  # noqa: ANN001
    plain = await new_user(db)
    frozen, _ = await new_shopkeeper(db)
    async with db.write() as s:
        await distribution.decide(s, frozen, "frozen", actor_id=1, note="违规")
    fan = await new_user(db)
    assert await bind_via_token(db, fan, plain) == "refused:sharer_not_distributor"
    assert await bind_via_token(db, fan, frozen) == "refused:sharer_not_distributor"
    assert await binding(db, fan) is None


async def test_every_attempt_is_an_event_with_the_token_digest(db) -> None:  # noqa: ANN001
    await set_distribution(db, binding_mode="first_touch")
    a, _ = await new_shopkeeper(db)
    b, _ = await new_shopkeeper(db)
    fan = await new_user(db)
    token_a = share_token(a)
    token_b = share_token(b)
    async with db.write() as s:
        assert await referrals.bind(s, fan, tokens.verify(SHARE_SECRET, token_a, clock.now(), 30),
                                    is_new_user=True) == "bound"
        assert await referrals.bind(s, fan, tokens.verify(SHARE_SECRET, token_b, clock.now(), 30),
                                    is_new_user=True) == "refused:already_bound"
    digest_a = hashlib.sha256(token_a.encode()).hexdigest()
    assert (await binding(db, fan)).token_digest == digest_a  # type: ignore[union-attr]
    events = [(e.sharer_id, e.outcome, e.token_digest) for e in
              await rows(db, BindingEvent, BindingEvent.fan_id == fan, order_by=BindingEvent.id)]
    assert events == [(a, "bound", digest_a), (b, "refused:already_bound", hashlib.sha256(token_b.encode()).hexdigest())]


# --- orders keep their attribution ----------------------------------------------------------------------

async def test_orders_snapshot_both_levels_and_keep_them_after_rebinding(app, db) -> None:  # noqa: ANN001
    await set_distribution(db, binding_mode="override", protection_days=1)
    up1, _ = await new_shopkeeper(db)
    k1, _ = await new_shopkeeper(db, upline=up1)
    up2, _ = await new_shopkeeper(db)
    k2, _ = await new_shopkeeper(db, upline=up2)
    fan = await new_buyer(db)
    sku = (await new_product(db, prices=(2000,))).sku_ids[0]
    assert await bind_via_token(db, fan.user_id, k1) == "bound"
    first = await buy(db, fan, [(sku, 1)], pay=False)  # created while bound to k1, paid later

    clock.advance(2 * DAY)
    assert await bind_via_token(db, fan.user_id, k2) == "rebound"
    await pay_order(db, fan.user_id, first)
    second = await buy(db, fan, [(sku, 1)])

    async with db.read() as s:
        o1, o2 = await orders.get_order(s, first), await orders.get_order(s, second)
        assert (o1.referrer_id, o1.referrer2_id) == (k1, up1)
        assert (o2.referrer_id, o2.referrer2_id) == (k2, up2)
        paid_to = {(c.order_id, c.level): c.beneficiary_id for c in await distribution.commissions_of(s, k1)
                   + await distribution.commissions_of(s, up1) + await distribution.commissions_of(s, k2)
                   + await distribution.commissions_of(s, up2)}
    assert paid_to == {(first, 1): k1, (first, 2): up1, (second, 1): k2, (second, 2): up2}
    assert await count(db, Order) == 2
