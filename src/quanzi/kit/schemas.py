"""Base request/response models: unknown fields rejected, strict types (no "1" for 1, no true for 1)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Money, quantities and ids: strict integers in sane ranges.
Fen = Annotated[int, Field(strict=True, ge=0, le=10**11)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=9999)]
Id = Annotated[int, Field(strict=True, ge=1, le=2**53)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _json_whole_numbers(cls, data: Any) -> Any:
        # JSON (and the OpenAPI 3.1 schema) has one number type: `2.0` *is* the integer 2, and some
        # clients spell it that way. Strict mode would refuse it for an int field; a fraction still fails.
        return _whole_floats_as_int(data)


def _whole_floats_as_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:  # beyond 2**53: inexact
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_floats_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_int(v) for v in value]
    return value


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(Out):
    code: str = Field(description="Stable machine-readable code, e.g. auth.required")
    message: str = Field(description="Human-readable text in the request's language")
    detail: dict[str, Any] = Field(default_factory=dict, description="Extra context; omitted when empty")


class ErrorOut(Out):
    """The body of every error answer from /api (see kit/web.py)."""

    error: ErrorBody


# Ids in URL paths: bounded so that no value can overflow a database integer (that would be a 5xx).
from fastapi import Path as _Path  # noqa: E402

PathId = Annotated[int, _Path(ge=1, le=2**31 - 1)]
