"""Property-based fuzzing of the whole public OpenAPI with schemathesis, in-process (ASGI, no server).

Every operation in /openapi.json (routes with include_in_schema=False are out of scope) is called with
schema-valid (positive) and schema-violating (negative) data, in two passes: anonymously, and with a
bearer token of a user holding every role. All of schemathesis' response checks must hold:

- no 5xx, ever (`not_a_server_error`);
- schema-violating input is refused with a 4xx (`negative_data_rejection`);
- every status code, content type, header and body is documented (`status_code_conformance`,
  `content_type_conformance`, `response_headers_conformance`, `response_schema_conformance`),
  405 answers list every allowed method (`allow_header_conformance`);
- schema-valid input is accepted or refused by a *business rule* (`positive_data_acceptance`, with 400
  and 422 allowed: no schema can say which phone number exists or which one-time code is right), but
  never by request validation itself (`valid_input_passes_validation` below: the documented schema and
  the server's validators must agree).

The anonymous pass sends fewer random examples and skips the coverage phase (an anonymous call mostly
meets the auth gate). Each pass runs against one app and database, seeded with
`tests.factories.make_world` so that small ids (the coverage phase's favourites) hit real rows; state
accumulates across operations, and each operation gets a fresh token (so POST /api/auth/logout does not
log the next operation out). test_regressions.py pins down what the fuzzer found.

Event loops: schemathesis runs the ASGI app on its own event-loop thread. The app's Database is only ever
used there (its pooled connections stay on that loop); seeding and tokens go through a separate NullPool
Database on throwaway loops.

schemathesis' lazy `from_fixture` loader does not work with pytest 9.2 (it reads the removed
`Node._nodeid`), so the schema is loaded eagerly from the app's OpenAPI document and every call is sent to
the fixture's app with `call_and_validate(app=...)`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans

from quanzi.accounts.models import Role
from quanzi.app import create_app
from quanzi.kit.db import Database
from tests.conftest import DbServer, make_settings, make_user
from tests.factories import make_world

# Random examples per operation and generation mode (positive, negative), on top of the coverage phase's
# boundary cases. 20 keeps the ~100 operations under a minute; QUANZI_FUZZ_EXAMPLES=100 (or more) makes a
# deeper nightly run.
MAX_EXAMPLES = int(os.environ.get("QUANZI_FUZZ_EXAMPLES", "20"))
# Most operations need a login, so an anonymous call mostly meets the auth gate; the public ones (login,
# catalog, share links, payment notifications) get the full treatment in the authenticated pass as well.
MAX_EXAMPLES_ANONYMOUS = max(MAX_EXAMPLES // 3, 5)
SEED = 20261125
FUZZ_PHONE = "13900000001"  # make_world's fan: owns an address; the fuzz pass gives them every role too

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
        "deterministic": True,
        "database": "none",
    },
    "checks": {
        # 400/422 for schema-valid data are business refusals (unknown phone, wrong code, stock); that they
        # are not *validation* refusals is what `valid_input_passes_validation` checks.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429"],
        },
    },
}

# Error codes that mean "the request did not pass validation" (kit/web.py): `request.invalid` with
# `detail.fields` (FastAPI/pydantic), `http_error` (a body that could not be parsed).
VALIDATION_CODES = {"request.invalid", "http_error"}
# What pydantic's `str_strip_whitespace` trims (Rust's `char::is_whitespace`, i.e. Unicode White_Space).
TRIMMED = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
          "\u2028\u2029\u202f\u205f\u3000"


def _at(body: Any, loc: list[str]) -> Any:
    for part in loc:
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body


def _platform_rule(error: dict[str, Any], case: schemathesis.Case) -> bool:
    """Refusals of schema-valid input that are deliberate, platform-wide rules the OpenAPI cannot express:

    - text may not contain U+0000 (PostgreSQL cannot store it; kit.web / kit.schemas.In refuse it);
    - `In` trims strings *before* checking their length ("\\n" has minLength 1 to the OpenAPI, 0 to the
      validator).
    """
    if error.get("type") == "string_nul":
        return True
    loc = error.get("loc") or []
    if error.get("type") != "string_too_short" or loc[:1] != ["body"]:
        return False
    value = _at(case.body, loc[1:])
    return isinstance(value, str) and value != value.strip(TRIMMED)


def valid_input_passes_validation(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                                  case: schemathesis.Case) -> None:
    """A request the OpenAPI document calls valid must get past FastAPI/pydantic validation."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return
    try:
        error = json.loads(response.content)["error"]
    except (ValueError, KeyError, TypeError):
        return  # an undocumented body shape is response_schema_conformance's to report
    if error.get("code") not in VALIDATION_CODES:
        return
    fields = (error.get("detail") or {}).get("fields")
    if error.get("code") == "request.invalid" and fields is None:
        return  # raised by domain code (e.g. "no such category"): a business rule, not request validation
    if fields and all(_platform_rule(f, case) for f in fields):
        return
    raise AssertionError(
        f"schema-valid input failed request validation ({response.status_code} {error.get('code')}): "
        f"the OpenAPI schema and the validators disagree\n{response.content[:1000]!r}"
    )


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document (building it touches no database)."""
    return create_app(make_settings("sqlite:///:memory:"), start_worker=False).openapi()


DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))
# Anonymous calls mostly meet the auth gate: random data only, no coverage phase (the boundary values
# of every public operation are already sent in the authenticated pass).
anonymous_schema = schemathesis.openapi.from_dict(
    DOCUMENT, config=schemathesis.Config.from_dict({**CONFIG, "phases": {"coverage": {"enabled": False}}}),
)


@dataclass
class Target:
    app: FastAPI
    setup_db: Database  # NullPool: for work done outside schemathesis' event loop


@contextmanager
def _target(db_server: DbServer) -> Iterator[Target]:
    url = db_server.fresh()
    setup_db = Database(url, null_pool=True)
    asyncio.run(make_world(setup_db))
    app = create_app(make_settings(url, **NO_LIMITS), Database(url), start_worker=False)
    try:
        yield Target(app, setup_db)
    finally:
        shutdown_lifespans()  # the app's shutdown (db.dispose) on the loop that started it
        asyncio.run(setup_db.dispose())


@pytest.fixture(scope="module")
def anonymous_target(db_server: DbServer) -> Iterator[Target]:
    with _target(db_server) as target:
        yield target


@pytest.fixture(scope="module")
def authenticated_target(db_server: DbServer) -> Iterator[Target]:
    with _target(db_server) as target:
        yield target


@pytest.fixture
def auth_headers(authenticated_target: Target) -> dict[str, str]:
    """A fresh bearer token per operation (an earlier operation may have logged the last one out)."""
    roles = (Role.FAN, Role.SHOPKEEPER, Role.SUPPLIER, Role.OPERATOR)
    _, headers = asyncio.run(make_user(authenticated_target.setup_db, FUZZ_PHONE, *roles))
    return headers


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples, derandomize=True, deadline=None, database=None,
        # The fixtures are shared by an operation's examples on purpose (one app, one token per operation).
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# The `caller` parameter gives each operation's test its own node id, e.g.
# `test_openapi[POST /api/orders][authenticated]`: under pytest 9.2, schemathesis' items without a
# parametrization all share the bare function name as node id.
@schema.parametrize()
@pytest.mark.parametrize("caller", ["authenticated"])
@_settings(MAX_EXAMPLES)
def test_openapi(case: schemathesis.Case, caller: str, authenticated_target: Target,
                 auth_headers: dict[str, str]) -> None:
    case.call_and_validate(app=authenticated_target.app, headers=auth_headers,
                           additional_checks=[valid_input_passes_validation])


@anonymous_schema.parametrize()
@pytest.mark.parametrize("caller", ["anonymous"])
@_settings(MAX_EXAMPLES_ANONYMOUS)
def test_openapi_anonymous(case: schemathesis.Case, caller: str, anonymous_target: Target) -> None:
    case.call_and_validate(app=anonymous_target.app, additional_checks=[valid_input_passes_validation])


ERROR_SCHEMA = "#/components/schemas/ErrorOut"


def test_error_responses_documented() -> None:
    """Every operation documents the error body the handlers really send, not FastAPI's default 422."""
    doc = DOCUMENT
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {}), (
        "FastAPI's default 422 schema is documented: create_app must pass responses=kit.web.ERROR_RESPONSES "
        "to FastAPI()"
    )
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status in ("401", "404", "422"):
                content = op["responses"].get(status, {}).get("content", {}).get("application/json", {})
                assert content.get("schema") == {"$ref": ERROR_SCHEMA}, (method, path, status)
