"""Deterministic regressions for what the OpenAPI fuzzer found (random data may not hit them every run)."""

from __future__ import annotations

import httpx
import pytest

from quanzi.kit.schemas import In
from tests.conftest import make_user

PHONE = "13800000042"


async def test_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    """GET and POST /api/addresses are two routes; a 405 must name both (RFC 9110 §15.5.6)."""
    r = await client.delete("/api/addresses")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}


@pytest.mark.parametrize("url", ["/api/catalog/products?q=%00", "/api/orders?status=a%00b", "/healthz/%00"])
async def test_nul_in_the_url_is_refused(client: httpx.AsyncClient, db, url: str) -> None:  # noqa: ANN001
    _, headers = await make_user(db, PHONE)
    r = await client.get(url, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["detail"]["fields"][0]["type"] == "string_nul"


async def test_nul_in_a_json_body_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/code", json={"phone": "138\x0000000000"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["detail"]["fields"][0]["type"] == "string_nul"


async def test_whole_number_floats_are_integers(client: httpx.AsyncClient, db) -> None:  # noqa: ANN001
    """JSON has one number type: 1.0 is the integer 1 (a fraction is still refused)."""
    _, headers = await make_user(db, PHONE)
    whole = await client.post("/api/cart/items", json={"sku_id": 2147483647.0, "quantity": 1.0},
                              headers=headers)
    assert whole.json()["error"]["code"] == "catalog.sku_unavailable", whole.text  # valid; no such SKU
    fraction = await client.post("/api/cart/items", json={"sku_id": 1.5, "quantity": 1}, headers=headers)
    assert fraction.status_code == 422
    text = await client.post("/api/cart/items", json={"sku_id": "1", "quantity": 1}, headers=headers)
    assert text.status_code == 422


async def test_ids_beyond_a_database_integer_are_refused(client: httpx.AsyncClient, db) -> None:  # noqa: ANN001
    _, headers = await make_user(db, PHONE)
    r = await client.post("/api/cart/items", json={"sku_id": 2**31, "quantity": 1}, headers=headers)
    assert r.status_code == 422, r.text  # not a 500 from PostgreSQL's int4


def test_in_models_parse_iso_dates_and_times() -> None:
    from datetime import UTC, date, datetime, time

    class Probe(In):
        day: date
        at: time
        when: datetime | None = None

    p = Probe.model_validate({"day": "2026-12-01", "at": "10:30", "when": "2026-12-01T10:30:00Z"})
    assert (p.day, p.at) == (date(2026, 12, 1), time(10, 30))
    assert p.when == datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        Probe.model_validate({"day": "2026-13-01", "at": "10:30"})
    with pytest.raises(ValueError):
        Probe.model_validate({"day": 20261201, "at": "10:30"})  # still strict about non-strings


async def test_passwords_are_used_exactly_as_typed(client: httpx.AsyncClient, db) -> None:  # noqa: ANN001
    """The API used to strip a password's spaces while the login page did not: set via the API, the same
    password then failed on the page."""
    _, headers = await make_user(db, PHONE)
    password = "  secret words  "
    r = await client.put("/api/auth/me/password", json={"password": password}, headers=headers)
    assert r.status_code == 204, r.text
    ok = await client.post("/api/auth/login/password", json={"phone": PHONE, "password": password})
    assert ok.status_code == 200, ok.text
    stripped = await client.post("/api/auth/login/password",
                                 json={"phone": PHONE, "password": password.strip()})
    assert stripped.status_code == 400
    page = await client.post("/login/password", data={"phone": PHONE, "password": password, "next": "/"})
    assert page.status_code == 303, page.text
