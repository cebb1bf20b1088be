"""Property-based fuzzing of the whole public OpenAPI with schemathesis, in-process (ASGI, no server).

Every operation in /openapi.json (routes with include_in_schema=False are out of scope) is called with
schema-valid data (positive) and schema-violating data (negative), once anonymously and once with a
bearer token, against a fresh app on a fresh database. All of schemathesis' response checks must hold:

- no 5xx, ever (`not_a_server_error`);
- schema-violating input is refused with a 4xx (`negative_data_rejection`);
- every status code, content type, header and body is documented (`status_code_conformance`,
  `content_type_conformance`, `response_headers_conformance`, `response_schema_conformance`);
- schema-valid input is accepted, or refused by a *business rule* (`positive_data_acceptance` with 400/422
  allowed: no schema can say which phone numbers exist or which one-time code is right) — but never by
  request validation itself (`valid_input_passes_validation` below: the documented schema and the
  server's validators must agree).

Schemathesis runs the ASGI app on its own event-loop thread, so the app gets a NullPool database (no
connection outlives the loop that opened it) and the test user is created before the app starts.

Note: schemathesis' `from_fixture` lazy loader does not work with pytest 9.2 (it reads the removed
`Node._nodeid`), so the schema is loaded eagerly from the app's OpenAPI document and each call is sent
to the per-test app with `call_and_validate(app=...)`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans

from quanzi.app import create_app
from quanzi.kit.db import Database
from tests.conftest import make_settings, make_user

MAX_EXAMPLES = 30
SEED = 20261125

# The fuzzer hammers /api/auth/code and the login endpoints from one client address.
NO_LIMITS = {
    "otp_limit_per_phone": "100000/hour",
    "otp_limit_per_ip": "100000/hour",
    "login_limit_per_ip": "100000/hour",
}

CONFIG: dict[str, Any] = {
    "seed": SEED,
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "generation": {
        "mode": "all",  # positive and negative data
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
    },
    "checks": {
        # 400/422 for schema-valid data are business refusals (unknown phone, wrong code); that they are
        # not *validation* refusals is checked by `valid_input_passes_validation`.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429"],
        },
    },
}

# Error codes that mean "the request did not pass validation" (kit/web.py, kit/errors.py).
VALIDATION_CODES = {"request.invalid", "http_error"}


def valid_input_passes_validation(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                                  case: schemathesis.Case) -> None:
    """A request the OpenAPI document calls valid must get past FastAPI/pydantic validation."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    assert code not in VALIDATION_CODES, (
        f"schema-valid input failed request validation ({response.status_code} {code}): "
        f"the OpenAPI schema and the validators disagree\n{response.content[:1000]!r}"
    )


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document (building it touches no database)."""
    return create_app(make_settings("sqlite:///:memory:"), start_worker=False).openapi()


schema = schemathesis.openapi.from_dict(_openapi_document(), config=schemathesis.Config.from_dict(CONFIG))


@dataclass
class Target:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(params=["anonymous", "authenticated"])
def target(request: pytest.FixtureRequest, db_url: str) -> Iterator[Target]:
    """A fresh app on a fresh database, and the headers to call it with."""
    db = Database(db_url, null_pool=True)
    app = create_app(make_settings(db_url, **NO_LIMITS), db, start_worker=False)
    headers: dict[str, str] = {}
    if request.param == "authenticated":
        # A throwaway event loop; with NullPool no connection is carried over to schemathesis' loop.
        _, headers = asyncio.run(make_user(db, "13800000042", "fan", "shopkeeper"))
    try:
        yield Target(app, headers)
    finally:
        shutdown_lifespans()  # the app's shutdown (db.dispose) on the loop that started it


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
    # `target` is one app + database per operation, shared by that operation's examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_openapi(case: schemathesis.Case, target: Target) -> None:
    case.call_and_validate(app=target.app, headers=target.headers or None,
                           additional_checks=[valid_input_passes_validation])


def test_error_responses_documented() -> None:
    """Every operation documents the error body the handlers really send, not FastAPI's default 422."""
    doc = _openapi_document()
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {}), (
        "FastAPI's default 422 schema is documented; pass responses=kit.web.ERROR_RESPONSES to FastAPI()"
    )
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status in ("401", "404", "422"):
                ref = op["responses"].get(status, {}).get("content", {}).get("application/json", {})
                assert ref.get("schema") == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
