"""Base request/response models: unknown fields rejected, strict types (no "1" for 1, no true for 1)."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

# Money, quantities and ids: strict integers in sane ranges.
# Money in fen: bounded by the 32-bit integer columns (¥21,474,836.47), so no amount can overflow (a 5xx).
Fen = Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=9999)]
Id = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]  # ids are INTEGER columns (PostgreSQL int4)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _from_json(cls, data: Any) -> Any:
        # Strict mode is about "1" and true; it must not refuse what JSON can only spell one way:
        # - JSON (and the OpenAPI 3.1 schema) has one number type: `2.0` *is* the integer 2. A fraction
        #   still fails.
        # - dates, times and datetimes only exist as ISO strings in JSON, and strict mode refuses every
        #   string for them; they are parsed as non-strict pydantic would (bad strings still fail).
        # - PostgreSQL text cannot hold U+0000 (it would fail deep inside as a 500); refused here.
        if _has_nul(data):
            raise PydanticCustomError("string_nul", "Text must not contain the NUL character (U+0000)")
        data = _whole_floats_as_int(data)
        if isinstance(data, dict) and (temporal := _temporal_fields(cls)):
            data = {k: _parse(temporal[k], v) if k in temporal and isinstance(v, str) else v
                    for k, v in data.items()}
        return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _whole_floats_as_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:  # beyond 2**53: inexact
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_floats_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_int(v) for v in value]
    return value


# pydantic's constrained date types are marker classes, not subclasses of date/datetime.
_PYDANTIC_TEMPORAL = {AwareDatetime: datetime, NaiveDatetime: datetime, FutureDatetime: datetime,
                      PastDatetime: datetime, FutureDate: date, PastDate: date}


def _temporal(annotation: Any) -> type | None:
    if annotation in _PYDANTIC_TEMPORAL:
        return _PYDANTIC_TEMPORAL[annotation]
    if isinstance(annotation, type):
        return annotation if issubclass(annotation, (date, time)) else None  # datetime is a date
    if get_origin(annotation) in (Union, UnionType):
        found = {t for t in map(_temporal, get_args(annotation)) if t is not None}
        return found.pop() if len(found) == 1 else None
    return None


@cache
def _temporal_fields(model: type[BaseModel]) -> dict[str, TypeAdapter[Any]]:
    """Input key -> lax parser, for the model's date/time/datetime fields (optional ones too)."""
    out: dict[str, TypeAdapter[Any]] = {}
    for name, field in model.model_fields.items():
        if (kind := _temporal(field.annotation)) is not None:
            out[field.alias or name] = TypeAdapter(kind)
    return out


def _parse(parser: TypeAdapter[Any], value: str) -> Any:
    try:
        return parser.validate_python(value)
    except ValidationError:
        return value  # the strict field validator reports it


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(Out):
    code: str = Field(description="Stable machine-readable code, e.g. auth.required")
    message: str = Field(description="Human-readable text in the request's language")
    detail: dict[str, Any] = Field(default_factory=dict, description="Extra context; omitted when empty")


class ErrorOut(Out):
    """The body of every error answer from /api (see kit/web.py)."""

    error: ErrorBody


# Ids in URL paths, queries and forms: bounded so that no value can overflow a database integer (a 5xx).
from fastapi import Form as _Form  # noqa: E402
from fastapi import Path as _Path  # noqa: E402

MAX_ID = 2**31 - 1
PathId = Annotated[int, _Path(ge=1, le=MAX_ID)]
FormId = Annotated[int, _Form(ge=1, le=MAX_ID)]
